"""Pose encoder: per-frame joint embedding, temporal patches, transformer, mean pooling.

A frame's J × 3 joint coordinates (H36M-17, metres, pelvis-relative) are flattened and embedded
(Dense + GELU); `patch_len` consecutive frame embeddings are concatenated and projected to one
token, so a 5 s window at 30 fps with `patch_len=10` is 15 tokens of 1/3 s each.

With `forearm_roll`, each frame's embedding also takes the forearms' pronation (radians, (left,
right)), which the joints cannot show and a wrist-worn IMU reads: its own linear embedding is
added to the joints' before the GELU, times 0 for examples whose source has no pronation, so
those embed exactly as the joints alone would.
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


class PoseEncoder(nn.Module):
  """(B, T, J, 3) float → pooled features (B, width) float32."""

  transformer: TransformerConfig
  patch_len: int  # Frames per token (`ModelConfig.pose_patch`).
  max_time_tokens: int = 64
  forearm_roll: bool = False  # `ModelConfig.pose_forearm_roll`.

  @nn.compact
  def __call__(
    self,
    pose: jax.Array,
    *,
    train: bool,
    example_ids: jax.Array | None = None,
    forearm_pronation: jax.Array | None = None,
    forearm_pronation_present: jax.Array | None = None,
  ) -> jax.Array:
    """`forearm_pronation` (B, T, 2) radians and `forearm_pronation_present` (B,) bool, used
    with `forearm_roll` only; None: no example has it."""
    if pose.ndim != 4 or pose.shape[-1] != 3:
      raise ValueError(f'PoseEncoder: expected pose (B, T, J, 3), got {pose.shape}')
    batch, time, joints, _ = pose.shape
    if time % self.patch_len:
      raise ValueError(
        f'PoseEncoder: {time} frames are not a multiple of pose_patch={self.patch_len}'
      )
    cfg = self.transformer
    dtype = parse_dtype(cfg.dtype)
    num_patches = time // self.patch_len

    frames = pose.astype(jnp.float32).reshape(batch, time, joints * 3)
    frames = dense_tokens(nn.Dense(cfg.width, dtype=dtype, name='joint_embed'), frames)
    if self.forearm_roll:
      if forearm_pronation is None:
        forearm_pronation = jnp.zeros((batch, time, 2), jnp.float32)
        forearm_pronation_present = jnp.zeros((batch,), bool)
      present_shape = getattr(forearm_pronation_present, 'shape', None)
      if forearm_pronation.shape != (batch, time, 2) or present_shape != (batch,):
        raise ValueError(
          f'PoseEncoder: expected forearm_pronation ({batch}, {time}, 2) and its presence '
          f'({batch},), got {forearm_pronation.shape} and {present_shape}'
        )
      # No bias: an example without pronation adds exactly nothing.
      roll = dense_tokens(
        nn.Dense(cfg.width, use_bias=False, dtype=dtype, name='forearm_roll_embed'),
        forearm_pronation.astype(jnp.float32),
      )
      frames = frames + roll * forearm_pronation_present.astype(roll.dtype)[:, None, None]
    frames = jax.nn.gelu(frames, approximate=True)
    patches = frames.reshape(batch, num_patches, self.patch_len * cfg.width)
    tokens = dense_tokens(nn.Dense(cfg.width, dtype=dtype, name='patch_embed'), patches)
    time_table = learned_positions(self, 'time_embed', num_patches, self.max_time_tokens, cfg.width)
    tokens = tokens + time_table.astype(dtype)[None]
    tokens = Transformer(cfg, name='transformer')(
      tokens, None, train=train, example_ids=example_ids
    )
    return masked_mean(tokens, None)
