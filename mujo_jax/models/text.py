"""Text encoder: token + position embeddings, padding mask (id 0), mean over real tokens.

Works with any tokenizer that keeps 0 as padding (`mujo_jax.facts.tokenizer.Tokenizer`); the
default byte tokenizer has 259 ids. Inputs shorter than `max_len` use the first rows of the
position table, so the same text padded to different lengths gets the same embedding.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from mujo_jax.facts.tokenizer import PAD_ID, ByteTokenizer
from mujo_jax.models.transformer import (
  Transformer,
  TransformerConfig,
  learned_positions,
  masked_mean,
  parse_dtype,
)

BYTE_VOCAB_SIZE = ByteTokenizer(2).vocab_size


class TextEncoder(nn.Module):
  """(B, L) int32 token ids, 0 = padding → pooled features (B, width) float32."""

  transformer: TransformerConfig
  max_len: int  # Longest token sequence (`ModelConfig.text_max_len`).
  vocab_size: int = BYTE_VOCAB_SIZE

  @nn.compact
  def __call__(
    self, tokens: jax.Array, *, train: bool, example_ids: jax.Array | None = None
  ) -> jax.Array:
    if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
      raise ValueError(
        f'TextEncoder: expected int token ids (B, L), got {tokens.dtype} {tokens.shape}'
      )
    cfg = self.transformer
    dtype = parse_dtype(cfg.dtype)
    mask = tokens != PAD_ID
    embed = nn.Embed(
      self.vocab_size,
      cfg.width,
      dtype=dtype,
      embedding_init=nn.initializers.normal(stddev=0.02),
      name='token_embed',
    )
    positions = learned_positions(self, 'position_embed', tokens.shape[1], self.max_len, cfg.width)
    x = embed(tokens) + positions.astype(dtype)[None]
    x = Transformer(cfg, name='transformer')(x, mask, train=train, example_ids=example_ids)
    return masked_mean(x, mask)
