"""A PyTorch twin of `mujo_jax.models.joint.JointModel`, for benchmarks only.

The twin is built from the JAX model object itself (`JointTwin.from_jax(model)`), so both read
the same config: the same four encoders, projection heads, loss head and joint multi-way
contrastive loss, with the same parameter tree (module names mirror the flax names), the same
parameter count (`assert_same_parameter_count`) and the same matrix-multiply FLOPs per step
(`count_step_flops` with the counted `attention='math'` path). `load_jax_params` copies the JAX
parameters in, so a test or a benchmark can check that both frameworks compute the same loss on
the same batch before timing them: a faster twin that computes something else proves nothing.

Faithful details: pre-norm blocks with a fused QKV projection split as (B, N, 3, H, D);
LayerNorm epsilon 1e-6 (flax's default, not PyTorch's 1e-5); GELU with the tanh approximation
(`jax.nn.gelu(approximate=True)`); masked keys get a finite −1e30 score, so a query without
valid keys attends uniformly as in JAX; L2 normalisation as `x · rsqrt(max(|x|², eps²))`;
CLIP logit scale clamped at `max_logit_scale` before `exp`; every pair loss computed at every
step and combined by the multitask strategy's weights. The optimiser is AdamW after global-norm
clipping with weight decay on ≥2-d parameters outside the loss head, as `train.make_optimizer`.
Dropout uses `torch.nn.functional.dropout` (same rate and cost; masks differ from the JAX
per-example masks, which only matter for exact accumulation).

Requires the `bench` extra (`pip install -e .[bench]`, torch 2.13 CPU build).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mujo_jax.models import joint as joint_lib
from mujo_jax.models.transformer import TransformerConfig

LAYER_NORM_EPS = 1e-6  # flax.linen.LayerNorm's default.
MASKED_SCORE = -1e30  # As `transformer._MASKED_SCORE`: finite, a fully masked row is uniform.
MASKED_LOGIT = -1e9  # As `losses._MASKED_LOGIT`.
ATTENTION_IMPLS = ('sdpa', 'math')  # 'math' is plain matmuls: what FlopCounterMode can count.


def _dense(in_features: int, out_features: int) -> nn.Linear:
  return nn.Linear(in_features, out_features)


def _table(rows: int, width: int) -> nn.Parameter:
  return nn.Parameter(torch.randn(rows, width) * 0.02)


def attention(
  query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None, impl: str
) -> torch.Tensor:
  """(B, N, H, D) multi-head attention with an optional (B, N) bool key mask → (B, N, H, D)."""
  query, key, value = (t.transpose(1, 2) for t in (query, key, value))  # (B, H, N, D)
  bias = None
  if mask is not None:
    bias = torch.zeros(mask.shape, dtype=query.dtype, device=query.device)
    bias = bias.masked_fill(~mask, MASKED_SCORE)[:, None, None, :]
  if impl == 'sdpa':
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
  elif impl == 'math':
    scores = (query * query.shape[-1] ** -0.5) @ key.transpose(-1, -2)
    if bias is not None:
      scores = scores + bias
    out = torch.softmax(scores, dim=-1) @ value
  else:
    raise ValueError(f'attention impl {impl!r}: expected one of {ATTENTION_IMPLS}')
  return out.transpose(1, 2)


class Block(nn.Module):
  """Pre-norm block, as `transformer.Block`."""

  def __init__(self, cfg: TransformerConfig, attention_impl: str):
    super().__init__()
    self.num_heads = cfg.num_heads
    self.attention_impl = attention_impl
    self.dropout_rate = cfg.dropout_rate
    self.attn_norm = nn.LayerNorm(cfg.width, eps=LAYER_NORM_EPS)
    self.qkv = _dense(cfg.width, 3 * cfg.width)
    self.attn_out = _dense(cfg.width, cfg.width)
    self.mlp_norm = nn.LayerNorm(cfg.width, eps=LAYER_NORM_EPS)
    self.mlp_in = _dense(cfg.width, cfg.mlp_dim)
    self.mlp_out = _dense(cfg.mlp_dim, cfg.width)
    self.gelu = nn.GELU(approximate='tanh')

  def _drop(self, x: torch.Tensor) -> torch.Tensor:
    return F.dropout(x, self.dropout_rate, self.training) if self.dropout_rate else x

  def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    batch, length, width = x.shape
    qkv = self.qkv(self.attn_norm(x)).reshape(batch, length, 3, self.num_heads, -1)
    y = attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], mask, self.attention_impl)
    x = x + self._drop(self.attn_out(y.reshape(batch, length, width)))
    y = self.mlp_out(self.gelu(self.mlp_in(self.mlp_norm(x))))
    return x + self._drop(y)


class Transformer(nn.Module):
  """`depth` blocks named `block_i` and a final LayerNorm, as `transformer.Transformer`."""

  def __init__(self, cfg: TransformerConfig, attention_impl: str):
    super().__init__()
    self.depth = cfg.depth
    for index in range(cfg.depth):
      self.add_module(f'block_{index}', Block(cfg, attention_impl))
    self.final_norm = nn.LayerNorm(cfg.width, eps=LAYER_NORM_EPS)

  def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    for index in range(self.depth):
      x = getattr(self, f'block_{index}')(x, mask)
    return self.final_norm(x)


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
  tokens = tokens.float()
  if mask is None:
    return tokens.mean(dim=1)
  summed = torch.where(mask[:, :, None], tokens, 0.0).sum(dim=1)
  return summed / mask.sum(dim=1, dtype=torch.float32)[:, None].clamp(min=1.0)


class ImuEncoder(nn.Module):
  """As `imu.ImuEncoder`: per-site patches, site + time embeddings, absent sites masked."""

  def __init__(
    self,
    cfg: TransformerConfig,
    attention_impl: str,
    site_ids: tuple[int, ...],
    patch_len: int,
    num_site_ids: int,
    max_time_tokens: int = 64,
  ):
    super().__init__()
    self.patch_len = patch_len
    self.register_buffer('site_ids', torch.tensor(site_ids, dtype=torch.long), persistent=False)
    self.patch_embed = _dense(patch_len * 6, cfg.width)
    self.site_embed = nn.Embedding(num_site_ids, cfg.width)
    nn.init.normal_(self.site_embed.weight, std=0.02)
    self.time_embed = _table(max_time_tokens, cfg.width)
    self.transformer = Transformer(cfg, attention_impl)

  def forward(self, imu: torch.Tensor, site_mask: torch.Tensor) -> torch.Tensor:
    batch, time, sites, channels = imu.shape
    num_patches = time // self.patch_len
    imu = torch.where(site_mask[:, None, :, None], imu.float(), 0.0)
    patches = imu.reshape(batch, num_patches, self.patch_len, sites, channels)
    patches = patches.permute(0, 3, 1, 2, 4).reshape(batch, sites, num_patches, -1)
    tokens = self.patch_embed(patches)
    tokens = tokens + self.site_embed(self.site_ids)[None, :, None, :]
    tokens = tokens + self.time_embed[:num_patches][None, None]
    tokens = tokens.reshape(batch, sites * num_patches, -1)
    token_mask = torch.repeat_interleave(site_mask, num_patches, dim=1)
    return masked_mean(self.transformer(tokens, token_mask), token_mask)


class PoseEncoder(nn.Module):
  """As `pose.PoseEncoder`: per-frame joint embedding + GELU, temporal patches."""

  def __init__(
    self,
    cfg: TransformerConfig,
    attention_impl: str,
    patch_len: int,
    num_joints: int = 17,
    max_time_tokens: int = 64,
  ):
    super().__init__()
    self.patch_len = patch_len
    self.joint_embed = _dense(num_joints * 3, cfg.width)
    self.patch_embed = _dense(patch_len * cfg.width, cfg.width)
    self.time_embed = _table(max_time_tokens, cfg.width)
    self.gelu = nn.GELU(approximate='tanh')
    self.transformer = Transformer(cfg, attention_impl)

  def forward(self, pose: torch.Tensor) -> torch.Tensor:
    batch, time, joints, _ = pose.shape
    num_patches = time // self.patch_len
    frames = self.gelu(self.joint_embed(pose.float().reshape(batch, time, joints * 3)))
    tokens = self.patch_embed(frames.reshape(batch, num_patches, -1))
    tokens = tokens + self.time_embed[:num_patches][None]
    return masked_mean(self.transformer(tokens, None), None)


class VideoEncoder(nn.Module):
  """As `video.VideoEncoder`: tubelets of uint8 frames, or a Dense over features."""

  def __init__(
    self,
    cfg: TransformerConfig,
    attention_impl: str,
    input_kind: str,
    tubelet: tuple[int, int, int],
    frame_shape: tuple[int, int, int] | None,
    feature_dim: int | None,
    max_time_tokens: int = 64,
  ):
    super().__init__()
    self.input_kind = input_kind
    self.tubelet = tubelet
    if input_kind == 'frames':
      height, width, channels = frame_shape
      cells = (height // tubelet[1]) * (width // tubelet[2])
      self.tubelet_embed = _dense(int(np.prod(tubelet)) * channels, cfg.width)
      self.space_embed = _table(cells, cfg.width)
    elif input_kind == 'features':
      self.feature_embed = _dense(feature_dim, cfg.width)
    else:
      raise ValueError(f'video input_kind={input_kind!r}: expected frames or features')
    self.time_embed = _table(max_time_tokens, cfg.width)
    self.transformer = Transformer(cfg, attention_impl)

  def forward(self, video: torch.Tensor) -> torch.Tensor:
    if self.input_kind == 'features':
      tokens = self.feature_embed(video.float()) + self.time_embed[: video.shape[1]][None]
      return masked_mean(self.transformer(tokens, None), None)
    batch, time, height, width, channels = video.shape
    tt, th, tw = self.tubelet
    nt, nh, nw = time // tt, height // th, width // tw
    frames = video.float() / 127.5 - 1.0
    tubes = frames.reshape(batch, nt, tt, nh, th, nw, tw, channels)
    tubes = tubes.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(batch, nt, nh * nw, -1)
    tokens = self.tubelet_embed(tubes)
    tokens = tokens + self.time_embed[:nt][None, :, None] + self.space_embed[None, None]
    tokens = tokens.reshape(batch, nt * nh * nw, -1)
    return masked_mean(self.transformer(tokens, None), None)


class TextEncoder(nn.Module):
  """As `text.TextEncoder`: token + position embeddings, padding (id 0) masked."""

  def __init__(self, cfg: TransformerConfig, attention_impl: str, vocab_size: int, max_len: int):
    super().__init__()
    self.token_embed = nn.Embedding(vocab_size, cfg.width)
    nn.init.normal_(self.token_embed.weight, std=0.02)
    self.position_embed = _table(max_len, cfg.width)
    self.transformer = Transformer(cfg, attention_impl)

  def forward(self, tokens: torch.Tensor) -> torch.Tensor:
    mask = tokens != 0
    x = self.token_embed(tokens) + self.position_embed[: tokens.shape[1]][None]
    return masked_mean(self.transformer(x, mask), mask)


def clip_losses(
  z_a: torch.Tensor,
  z_b: torch.Tensor,
  logit_scale: torch.Tensor,
  masks: torch.Tensor,
  max_logit_scale: float,
) -> torch.Tensor:
  """(P,) symmetric InfoNCE of P pairs at once: z (P, B, D), masks (P, B) bool."""
  scale = torch.exp(torch.clamp(logit_scale, max=max_logit_scale))
  logits = scale * torch.bmm(z_a, z_b.transpose(1, 2))  # (P, B, B)
  valid_pairs = masks[:, :, None] & masks[:, None, :]
  logits = torch.where(valid_pairs, logits, MASKED_LOGIT)
  positives = torch.diagonal(logits, dim1=1, dim2=2)
  per_example = 0.5 * (
    torch.logsumexp(logits, dim=2) + torch.logsumexp(logits, dim=1) - 2.0 * positives
  )
  count = masks.sum(dim=1, dtype=torch.float32).clamp(min=1.0)
  return torch.where(masks, per_example, 0.0).sum(dim=1) / count


def siglip_losses(
  z_a: torch.Tensor, z_b: torch.Tensor, t: torch.Tensor, b: torch.Tensor, masks: torch.Tensor
) -> torch.Tensor:
  """(P,) sigmoid losses (big_vision normalisation) of P pairs at once."""
  batch = z_a.shape[1]
  logits = torch.bmm(z_a, z_b.transpose(1, 2)) * torch.exp(t) + b
  labels = 2.0 * torch.eye(batch, device=z_a.device) - 1.0
  valid_pairs = masks[:, :, None] & masks[:, None, :]
  per_row = -torch.where(valid_pairs, F.logsigmoid(labels * logits), 0.0).sum(dim=2)
  count = masks.sum(dim=1, dtype=torch.float32).clamp(min=1.0)
  return torch.where(masks, per_row, 0.0).sum(dim=1) / count


class LossHead(nn.Module):
  """As `joint.LossHead`: every pair's loss, combined by the multitask strategy."""

  def __init__(self, loss_config: joint_lib.LossConfig, multitask: Any):
    super().__init__()
    self.loss_config = loss_config
    self.multitask = multitask
    if loss_config.type == 'clip':
      self.logit_scale = nn.Parameter(torch.tensor(loss_config.init_logit_scale))
    else:
      self.t = nn.Parameter(torch.tensor(loss_config.siglip_init_t))
      self.b = nn.Parameter(torch.tensor(loss_config.siglip_init_b))
    if multitask.learns_log_vars:
      self.log_vars = nn.Parameter(torch.zeros(len(multitask.pairs)))
    self.register_buffer(
      'index_a', torch.tensor([a for a, _ in multitask.pair_indices]), persistent=False
    )
    self.register_buffer(
      'index_b', torch.tensor([b for _, b in multitask.pair_indices]), persistent=False
    )
    self.register_buffer(
      'selection', torch.tensor(multitask.selection, dtype=torch.float32), persistent=False
    )

  def _weights(self, step: int) -> torch.Tensor:
    mt = self.multitask
    if mt.strategy in ('joint', 'anchored'):
      return self.selection
    if mt.strategy in ('round_robin', 'random_pair'):
      if mt.strategy == 'round_robin':
        chosen = mt.active[step % len(mt.active)]
      else:
        chosen = mt.active[int(torch.randint(len(mt.active), ()))]
      one_hot = torch.zeros_like(self.selection)
      one_hot[chosen] = 1.0
      return self.selection * one_hot
    if mt.strategy == 'uncertainty':
      return self.selection * torch.exp(-self.log_vars)
    raise ValueError(f'multitask.strategy={mt.strategy!r}')

  def forward(
    self, embeddings: Mapping[str, torch.Tensor], present: torch.Tensor, step: int
  ) -> torch.Tensor:
    stacked = torch.stack([embeddings[m].float() for m in self.multitask.modalities])
    present = present.bool()
    pair_masks = (present[:, self.index_a] & present[:, self.index_b]).T  # (P, B)
    z_a, z_b = stacked[self.index_a], stacked[self.index_b]
    if self.loss_config.type == 'clip':
      pair_losses = clip_losses(
        z_a, z_b, self.logit_scale, pair_masks, self.loss_config.max_logit_scale
      )
    else:
      pair_losses = siglip_losses(z_a, z_b, self.t, self.b, pair_masks)
    terms = self._weights(step) * pair_losses
    if self.multitask.strategy == 'uncertainty':
      terms = terms + self.selection * self.log_vars
    return torch.where(pair_masks.any(dim=1), terms, 0.0).sum()


def l2_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
  return x * torch.rsqrt(torch.clamp(x.square().sum(dim=-1, keepdim=True), min=eps * eps))


class JointTwin(nn.Module):
  """Encoders + heads + loss head of a `JointModel`, with the same names and shapes."""

  def __init__(
    self,
    model: joint_lib.JointModel,
    batch_shapes: Mapping[str, tuple[int, ...]],
    attention_impl: str = 'sdpa',
  ):
    super().__init__()
    if attention_impl not in ATTENTION_IMPLS:
      raise ValueError(f'attention_impl={attention_impl!r}: expected one of {ATTENTION_IMPLS}')
    cfg = model.transformer
    self.modalities = model.modalities
    # Registered under the JAX parameter names; held here by modality (a plain dict, so torch
    # does not register them twice).
    self.towers: dict[str, tuple[torch.nn.Module, torch.nn.Module]] = {}
    for modality in model.modalities:
      if modality == 'imu':
        encoder = ImuEncoder(
          cfg, attention_impl, model.imu_site_ids, model.imu_patch, model.num_site_ids
        )
      elif modality == 'pose':
        encoder = PoseEncoder(
          cfg, attention_impl, model.pose_patch, num_joints=batch_shapes['pose'][2]
        )
      elif modality == 'video':
        shape = batch_shapes['video']
        encoder = VideoEncoder(
          cfg,
          attention_impl,
          model.video_input,
          model.video_tubelet,
          frame_shape=tuple(shape[2:]) if len(shape) == 5 else None,
          feature_dim=shape[-1] if len(shape) == 3 else None,
        )
      else:
        encoder = TextEncoder(cfg, attention_impl, model.text_vocab_size, model.text_max_len)
      head = _dense(cfg.width, model.embed_dim)
      self.add_module(f'{modality}_encoder', encoder)
      self.add_module(f'{modality}_head', head)
      self.towers[modality] = (encoder, head)
    self.loss_head = LossHead(model.loss_config, model.multitask)

  @classmethod
  def from_jax(
    cls, model: joint_lib.JointModel, batch: Mapping[str, Any], attention_impl: str = 'sdpa'
  ) -> JointTwin:
    """The twin of `model` for batches shaped like `batch` (arrays or ShapeDtypeStructs)."""
    return cls(model, {k: tuple(v.shape) for k, v in batch.items()}, attention_impl)

  def embed(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    embeddings = {}
    for modality in self.modalities:
      encoder, head = self.towers[modality]
      features = encoder(*(batch[key] for key in joint_lib.BATCH_KEYS[modality]))
      embeddings[modality] = l2_normalize(head(features).float())
    return embeddings

  def forward(self, batch: Mapping[str, torch.Tensor], step: int = 0) -> torch.Tensor:
    """The total loss of the multitask strategy at `step` (`JointModel.embed`, then `loss`)."""
    return self.loss_head(self.embed(batch), batch['present'], step)


# ---------------------------------------------------------------- parity with the JAX model


def jax_parameter_count(params: Any) -> int:
  import jax  # pylint: disable=g-import-not-at-top

  return int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))


def assert_same_parameter_count(twin: nn.Module, params: Any) -> int:
  """Raises AssertionError unless the twin has exactly as many parameters as the JAX tree."""
  torch_count = sum(p.numel() for p in twin.parameters())
  jax_count = jax_parameter_count(params)
  if torch_count != jax_count:
    raise AssertionError(f'torch twin has {torch_count} parameters, the JAX model {jax_count}')
  return torch_count


def load_jax_params(twin: nn.Module, params: Mapping[str, Any]) -> None:
  """Copies a JAX parameter tree into the twin (Linear kernels transposed); every leaf used."""
  flat: dict[str, np.ndarray] = {}

  def walk(tree, prefix):
    for key, value in tree.items():
      if isinstance(value, Mapping):
        walk(value, f'{prefix}{key}/')
      else:
        flat[f'{prefix}{key}'] = np.asarray(value)

  walk(params, '')
  used = set()

  def take(name: str, transpose: bool = False) -> torch.Tensor:
    if name not in flat:
      raise KeyError(f'JAX params lack {name!r} needed by the twin')
    used.add(name)
    value = flat[name].T if transpose else flat[name]
    return torch.from_numpy(np.array(value, dtype=np.float32, copy=True))

  with torch.no_grad():
    for module_name, module in twin.named_modules():
      path = module_name.replace('.', '/')
      if isinstance(module, nn.Linear):
        module.weight.copy_(take(f'{path}/kernel', transpose=True))
        module.bias.copy_(take(f'{path}/bias'))
      elif isinstance(module, nn.Embedding):
        module.weight.copy_(take(f'{path}/embedding'))
      elif isinstance(module, nn.LayerNorm):
        module.weight.copy_(take(f'{path}/scale'))
        module.bias.copy_(take(f'{path}/bias'))
      for name, parameter in module.named_parameters(recurse=False):
        if isinstance(module, (nn.Linear, nn.Embedding, nn.LayerNorm)):
          continue
        parameter.copy_(take(f'{path}/{name}' if path else name).reshape(parameter.shape))
  unused = sorted(set(flat) - used)
  if unused:
    raise KeyError(f'JAX parameters not used by the twin: {unused}')


def to_torch_batch(batch: Mapping[str, Any], device: str = 'cpu') -> dict[str, torch.Tensor]:
  """numpy/JAX batch → torch tensors (int32 token ids become int64 for nn.Embedding)."""
  out = {}
  for key, value in batch.items():
    array = np.asarray(value)
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if key == 'text':
      tensor = tensor.long()
    out[key] = tensor.to(device)
  return out


# ---------------------------------------------------------------- optimiser and step


def decays(name: str, parameter: torch.Tensor) -> bool:
  """As `train._decay_mask`: matrices decay; biases, norms and the loss head do not."""
  return parameter.ndim >= 2 and not name.startswith('loss_head')


def make_optimizer(
  twin: nn.Module, config: Any, fused: bool | None = None
) -> torch.optim.Optimizer:
  """AdamW with `config.optim` (b1, b2, weight decay), decay mask as in JAX."""
  optim = config.optim
  decay = [p for n, p in twin.named_parameters() if decays(n, p)]
  no_decay = [p for n, p in twin.named_parameters() if not decays(n, p)]
  return torch.optim.AdamW(
    [
      {'params': decay, 'weight_decay': optim.weight_decay},
      {'params': no_decay, 'weight_decay': 0.0},
    ],
    lr=optim.learning_rate,
    betas=(optim.b1, optim.b2),
    eps=1e-8,
    fused=fused,
  )


def learning_rate(config: Any, step: int) -> float:
  """`train.learning_rate_schedule` (linear warm-up, cosine decay) in plain Python."""
  warmup = min(config.optim.warmup_steps, max(config.total_steps - 1, 0))
  peak = config.optim.learning_rate
  if step < warmup:
    return peak * step / max(warmup, 1)
  decay_steps = max(config.total_steps, warmup + 1) - warmup
  progress = min(max(step - warmup, 0) / decay_steps, 1.0)
  return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_train_step(
  twin: JointTwin, config: Any, compile_model: bool = False, fused: bool | None = None
) -> Callable[[dict[str, torch.Tensor], int], float]:
  """One optimiser step: loss, backward, global-norm clip, AdamW. Returns the loss tensor."""
  optimizer = make_optimizer(twin, config, fused=fused)
  loss_fn = torch.compile(twin) if compile_model else twin
  parameters = [p for p in twin.parameters()]
  clip_norm = config.optim.grad_clip_norm

  def step(batch: dict[str, torch.Tensor], step_index: int) -> torch.Tensor:
    for group in optimizer.param_groups:
      group['lr'] = learning_rate(config, step_index)
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(batch, step_index)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, clip_norm, foreach=True)
    optimizer.step()
    return loss.detach()

  return step


def count_step_flops(twin: JointTwin, batch: dict[str, torch.Tensor]) -> int:
  """Matrix-multiply FLOPs of one forward + backward, counted by `FlopCounterMode`.

  Counted on a twin with `attention='math'` (SDPA's CPU kernel is not in the counter's
  registry); elementwise work is not counted (XLA's cost analysis counts it).
  """
  from torch.utils.flop_counter import FlopCounterMode  # pylint: disable=g-import-not-at-top

  counter = FlopCounterMode(display=False)
  with counter:
    twin(batch).backward()
  twin.zero_grad(set_to_none=True)
  return int(counter.get_total_flops())


def set_attention_impl(twin: nn.Module, impl: str) -> None:
  if impl not in ATTENTION_IMPLS:
    raise ValueError(f'attention impl {impl!r}: expected one of {ATTENTION_IMPLS}')
  for module in twin.modules():
    if isinstance(module, Block):
      module.attention_impl = impl
