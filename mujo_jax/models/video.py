"""Video encoder: tubelets of raw frames, or a linear embedding of pre-extracted features.

`input_kind='frames'`: uint8 `(B, T, H, W, C)` is scaled to [-1, 1] and cut into non-overlapping
tubelets of `tubelet = (t, h, w)`; each tubelet is flattened and projected (a reshape + Dense,
the same as a Conv3D with stride = kernel, but one matmul on CPU). Position = learned time
embedding of the tubelet index + learned spatial embedding of its (row, column) cell.
`input_kind='features'`: float `(B, T, F)` (e.g. the paper's CLIP+S3D features) → Dense + time
embedding. Then the shared transformer and mean pooling.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from mujo_jax.models.transformer import (
  Transformer,
  TransformerConfig,
  dense_tokens,
  learned_positions,
  masked_mean,
  parse_dtype,
)

VIDEO_INPUTS = ('frames', 'features')


class VideoEncoder(nn.Module):
  """Frames (B, T, H, W, C) uint8 or features (B, T, F) float → (B, width) float32."""

  transformer: TransformerConfig
  input_kind: str  # One of VIDEO_INPUTS (`ModelConfig.video_input`).
  tubelet: tuple[int, int, int]  # Frames, rows, columns per token (`ModelConfig.video_tubelet`).
  max_time_tokens: int = 64

  def _frame_tokens(self, video: jax.Array) -> jax.Array:
    if video.ndim != 5:
      raise ValueError(f'VideoEncoder(frames): expected video (B, T, H, W, C), got {video.shape}')
    batch, time, height, width, channels = video.shape
    tt, th, tw = self.tubelet
    if time % tt or height % th or width % tw:
      raise ValueError(
        f'VideoEncoder: video (T, H, W) = {(time, height, width)} is not '
        f'divisible by video_tubelet={self.tubelet}'
      )
    cfg = self.transformer
    dtype = parse_dtype(cfg.dtype)
    nt, nh, nw = time // tt, height // th, width // tw
    frames = video.astype(jnp.float32) / 127.5 - 1.0
    tubes = frames.reshape(batch, nt, tt, nh, th, nw, tw, channels)
    tubes = tubes.transpose(0, 1, 3, 5, 2, 4, 6, 7).reshape(
      batch, nt, nh * nw, tt * th * tw * channels
    )
    tubelet_embed = nn.Dense(cfg.width, dtype=dtype, name='tubelet_embed')
    tokens = dense_tokens(tubelet_embed, tubes)  # (B, nt, nh*nw, D)
    time_table = learned_positions(self, 'time_embed', nt, self.max_time_tokens, cfg.width)
    space_table = self.param(
      'space_embed', nn.initializers.normal(stddev=0.02), (nh * nw, cfg.width)
    )
    tokens = (
      tokens + time_table.astype(dtype)[None, :, None] + space_table.astype(dtype)[None, None]
    )
    return tokens.reshape(batch, nt * nh * nw, cfg.width)

  def _feature_tokens(self, video: jax.Array) -> jax.Array:
    if video.ndim != 3:
      raise ValueError(f'VideoEncoder(features): expected video (B, T, F), got {video.shape}')
    cfg = self.transformer
    dtype = parse_dtype(cfg.dtype)
    tokens = dense_tokens(
      nn.Dense(cfg.width, dtype=dtype, name='feature_embed'), video.astype(jnp.float32)
    )
    time_table = learned_positions(
      self, 'time_embed', video.shape[1], self.max_time_tokens, cfg.width
    )
    return tokens + time_table.astype(dtype)[None]

  @nn.compact
  def __call__(
    self, video: jax.Array, *, train: bool, example_ids: jax.Array | None = None
  ) -> jax.Array:
    if self.input_kind == 'frames':
      tokens = self._frame_tokens(video)
    elif self.input_kind == 'features':
      tokens = self._feature_tokens(video)
    else:
      raise ValueError(f'model.video_input={self.input_kind!r}: expected one of {VIDEO_INPUTS}')
    tokens = Transformer(self.transformer, name='transformer')(
      tokens, None, train=train, example_ids=example_ids
    )
    return masked_mean(tokens, None)
