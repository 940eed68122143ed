"""The one pre-norm transformer block that every encoder uses, and pooling over valid tokens.

Design choices that other code relies on:

- Attention is `jax.nn.dot_product_attention` on a fused QKV projection on accelerators
  (cuDNN/TPU kernels) and, on CPU, the same maths written out as two head-major matmuls
  (`'einsum'`, the name it kept; 5-7 % less time for the whole `small` train step and 12 % for
  the forward alone: see BENCHMARKS.md); `attention='auto'`
  (the default) picks by backend at trace time. A boolean key mask
  `(B, N)` removes padded / absent tokens as keys. Masked tokens are still computed as queries
  (shapes stay static) but never influence a valid token or the pooled output.
- Dropout masks are drawn per example from `fold_in(dropout_rng, example_id)`, not for the batch
  as a whole. A batch split into micro-batches (exact gradient accumulation) therefore
  draws exactly the masks of the full batch as long as each micro-batch passes the global ids of
  its examples (`example_ids`; default `arange(B)`).
- `dtype` is the compute dtype (float32 or bfloat16); parameters stay float32. Attention softmax
  and LayerNorm statistics run in float32 regardless.
- GELU is the tanh approximation (flax/JAX default); a PyTorch twin must use
  `nn.GELU(approximate='tanh')`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
DType = Any

ATTENTION_IMPLS = ('auto', 'xla', 'einsum')
_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
_MASKED_SCORE = -1e30  # Finite: a query with no valid key gets uniform weights, not NaN.


def parse_dtype(name: str | DType) -> DType:
  """Maps a config string ('float32' | 'bfloat16') to a JAX dtype."""
  if isinstance(name, str):
    if name not in _DTYPES:
      raise ValueError(f'model dtype {name!r}: expected one of {sorted(_DTYPES)}')
    return _DTYPES[name]
  if jnp.dtype(name) not in (jnp.dtype(d) for d in _DTYPES.values()):
    raise ValueError(f'model dtype {name!r}: expected float32 or bfloat16')
  return name


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransformerConfig:
  """Shape of the transformer stack shared by the four encoders."""

  width: int
  depth: int
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  dtype: DType = jnp.float32
  remat: bool = False  # Recompute block activations in the backward pass (saves memory).
  # 'xla': jax.nn.dot_product_attention (cuDNN-ready on GPU); 'einsum': the same maths as two
  # head-major matmuls with the softmax normalised after the value product (one pass less over
  # the (B, H, N, N) scores)
  # (measured 5-7 % less time for the whole `small` step on CPU); 'auto': 'einsum' when the
  # default backend is the CPU, else 'xla'.
  attention: str = 'auto'

  def __post_init__(self):
    for name in ('width', 'depth', 'num_heads', 'mlp_dim'):
      value = getattr(self, name)
      if not isinstance(value, int) or value < 1:
        raise ValueError(f'model.{name}={value!r}: expected a positive int')
    if self.width % self.num_heads:
      raise ValueError(
        f'model.width={self.width} is not divisible by model.num_heads={self.num_heads}'
      )
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError(f'model.dropout_rate={self.dropout_rate!r}: expected a value in [0, 1)')
    parse_dtype(self.dtype)
    if self.attention not in ATTENTION_IMPLS:
      raise ValueError(f'model.attention={self.attention!r}: expected one of {ATTENTION_IMPLS}')


def default_example_ids(batch_size: int) -> Array:
  return jnp.arange(batch_size, dtype=jnp.int32)


def example_keys(key: Array, example_ids: Array) -> Array:
  """(B,) keys: `key` folded with each example's id, so a per-example random draw (a dropout
  or token mask) is the same in every pass and micro-batch that holds the example."""
  return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, example_ids)


class ExampleDropout(nn.Module):
  """Dropout whose mask for example i depends only on (dropout rng, example_ids[i], layer)."""

  rate: float

  @nn.compact
  def __call__(self, x: Array, example_ids: Array, deterministic: bool) -> Array:
    if deterministic or self.rate == 0.0:
      return x
    keys = example_keys(self.make_rng('dropout'), example_ids)
    keep = jax.vmap(lambda k: jax.random.bernoulli(k, 1.0 - self.rate, x.shape[1:]))(keys)
    return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))


def _softmax_attention(query: Array, key: Array, value: Array, mask: Array | None) -> Array:
  """softmax(q kᵀ/√d) v, normalised after the value product (one pass less over the scores).

  q, k and v are transposed to head-major (B, H, N, D) explicitly: XLA then runs both products as
  plain batched (N × D)(D × N) and (N × N)(N × D) matmuls. Written as einsums on (B, N, H, D),
  XLA folds the transposes into the dots and picks transposed-operand forms that YNNPACK runs
  2-3× slower; the forward (embedding, evaluation) is 12 % faster this way and the train step
  unchanged (BENCHMARKS.md).
  """
  query, key, value = (x.transpose(0, 2, 1, 3) for x in (query, key, value))
  scores = jnp.matmul(
    query * (query.shape[-1] ** -0.5), jnp.swapaxes(key, -1, -2), preferred_element_type=jnp.float32
  )  # (B, H, N, N)
  if mask is not None:
    scores = jnp.where(mask[:, None, None, :], scores, _MASKED_SCORE)
  scores = scores - jax.lax.stop_gradient(jnp.max(scores, axis=-1, keepdims=True))
  weights = jnp.exp(scores)
  out = jnp.matmul(weights.astype(value.dtype), value, preferred_element_type=jnp.float32)
  out = out / jnp.sum(weights, axis=-1, keepdims=True)
  return out.astype(value.dtype).transpose(0, 2, 1, 3)


def attention(
  query: Array, key: Array, value: Array, mask: Array | None, impl: str = 'auto'
) -> Array:
  """Multi-head attention on (B, N, H, D) with an optional key mask (B, N) bool.

  A query whose keys are all masked attends uniformly (finite output) in both implementations.
  `impl='auto'` is 'einsum' on the CPU backend and 'xla' elsewhere.
  """
  if impl == 'auto':
    impl = 'einsum' if jax.default_backend() == 'cpu' else 'xla'
  if impl == 'einsum':
    return _softmax_attention(query, key, value, mask)
  key_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, N) → BNTS.
  return jax.nn.dot_product_attention(query, key, value, mask=key_mask)


def dense_tokens(layer: nn.Dense, x: Array) -> Array:
  """`layer` on the last axis of (..., K) as one 2-D (M, K) × (K, N) matmul.

  The reshapes are free (leading axes are contiguous), but the matmuls are not the same to XLA:
  on a (B, N, K) input the kernel gradient contracts two axes, which XLA:CPU runs 2-3× slower
  than the (M, K)ᵀ (M, N) product of the flattened form (−9 % for the whole `small` step,
  BENCHMARKS.md). Parameter names and values are those of `layer` applied directly.
  """
  out = layer(x.reshape(-1, x.shape[-1]))
  return out.reshape(*x.shape[:-1], out.shape[-1])


class Block(nn.Module):
  """Pre-norm block: x + Drop(Attn(LN(x))), then x + Drop(MLP(LN(x))).

  Token-wise layers run on the flattened (B·N, width) tokens (see `dense_tokens`); only attention
  and the per-example dropout see the (B, N, ...) view.
  """

  config: TransformerConfig

  @nn.compact
  def __call__(self, x: Array, mask: Array | None, example_ids: Array, train: bool) -> Array:
    cfg = self.config
    dtype = parse_dtype(cfg.dtype)
    batch, length, width = x.shape
    head_dim = width // cfg.num_heads

    def per_example(tokens: Array, name: str) -> Array:  # (B·N, width) → dropout → (B·N, width)
      tokens = ExampleDropout(cfg.dropout_rate, name=name)(
        tokens.reshape(batch, length, width), example_ids, not train
      )
      return tokens.reshape(batch * length, width)

    x = x.reshape(batch * length, width)
    y = nn.LayerNorm(dtype=dtype, name='attn_norm')(x)
    qkv = nn.Dense(3 * width, dtype=dtype, name='qkv')(y)
    # `split`, not indexing of a (…, 3, H, D) view: its gradient is one concatenation, whereas
    # three index gradients are three zero-padded full-size buffers summed, then transposed
    # (−4 % step time on CPU, BENCHMARKS.md).
    query, key, value = (
      part.reshape(batch, length, cfg.num_heads, head_dim) for part in jnp.split(qkv, 3, axis=-1)
    )
    y = attention(query, key, value, mask, cfg.attention)
    y = nn.Dense(width, dtype=dtype, name='attn_out')(y.reshape(batch * length, width))
    x = x + per_example(y, 'attn_dropout')

    y = nn.LayerNorm(dtype=dtype, name='mlp_norm')(x)
    y = nn.Dense(cfg.mlp_dim, dtype=dtype, name='mlp_in')(y)
    y = jax.nn.gelu(y, approximate=True)
    y = nn.Dense(width, dtype=dtype, name='mlp_out')(y)
    x = x + per_example(y, 'mlp_dropout')
    return x.reshape(batch, length, width)


class Transformer(nn.Module):
  """`depth` blocks and a final LayerNorm: (B, N, width) → (B, N, width)."""

  config: TransformerConfig

  @nn.compact
  def __call__(
    self, x: Array, mask: Array | None = None, *, train: bool, example_ids: Array | None = None
  ) -> Array:
    cfg = self.config
    if x.ndim != 3 or x.shape[-1] != cfg.width:
      raise ValueError(f'Transformer: expected tokens (B, N, {cfg.width}), got {x.shape}')
    if mask is not None and mask.shape != x.shape[:2]:
      raise ValueError(f'Transformer: mask shape {mask.shape} != tokens {x.shape[:2]}')
    if example_ids is None:
      example_ids = default_example_ids(x.shape[0])
    x = x.astype(parse_dtype(cfg.dtype))
    block_cls = nn.remat(Block, static_argnums=(4,)) if cfg.remat else Block
    for index in range(cfg.depth):
      x = block_cls(cfg, name=f'block_{index}')(x, mask, example_ids, train)
    final_norm = nn.LayerNorm(dtype=parse_dtype(cfg.dtype), name='final_norm')
    return final_norm(x.reshape(-1, cfg.width)).reshape(x.shape)


def masked_mean(tokens: Array, mask: Array | None) -> Array:
  """Mean over valid tokens (B, N, D) → (B, D) in float32; zeros where no token is valid.

  `jnp.where` rather than a product, so that a NaN in a masked token cannot leak into the mean.
  """
  tokens = tokens.astype(jnp.float32)
  if mask is None:
    return jnp.mean(tokens, axis=1)
  summed = jnp.sum(jnp.where(mask[:, :, None], tokens, 0.0), axis=1)
  count = jnp.sum(mask, axis=1, dtype=jnp.float32)[:, None]
  return summed / jnp.maximum(count, 1.0)


def learned_positions(
  module: nn.Module, name: str, length: int, max_length: int, width: int
) -> Array:
  """First `length` rows of a learned (max_length, width) table, so shorter inputs share it."""
  if length > max_length:
    raise ValueError(
      f'{type(module).__name__}: {length} positions exceed the maximum '
      f"{max_length} of {name!r}; raise the encoder's maximum length"
    )
  table = module.param(name, nn.initializers.normal(stddev=0.02), (max_length, width))
  return table[:length]
