"""IMU encoder: per-site patches over time, site and time embeddings, absent sites masked.

Each of the S sites is cut into patches of `patch_len` samples × 6 channels (acc xyz, gyr xyz);
one patch is one token, so the sequence is S × T/patch_len tokens. With `magnitudes`, each sample
also carries |acc| and |gyr| (8 channels a sample): the norms do not change when a watch is worn
face down or rolled around the forearm, and movement intensity, which separates coarse
activities, is then one input instead of a function of six rotated axes. A token knows its site
through a learned embedding indexed by the site's id in the global vocabulary
(`mujo_jax.facts.sites.SITES`), so a model pretrained on some sites can be applied to another
subset of them. Tokens of absent sites (`site_mask` False) are removed as attention keys and from
the pooled mean, and their input is zeroed first so that even NaNs there cannot leak: the
embedding of an example equals that of the same example with the absent sites not given at all.

Masked-patch reconstruction (`mask_ratio` > 0; LIMU-BERT, Xu et al. 2021, on IMU; BERT-style,
every token encoded, the masked ones replaced by a learned mask token): in training
(`reconstruct=True`) each present token is masked with probability `mask_ratio`, drawn per example
from (dropout rng, example id) so that both passes of exact accumulation mask alike, and a linear
head predicts the masked patches' 6 channels from the encoder's output tokens. The contrastive
embedding is pooled from the same pass, so masking is also its augmentation (one encoder pass,
not two). The targets are the patches in g and rad/s, not normalised per patch as MAE's
`norm_pix_loss` does: amplitudes are what the objective exists to keep in the tokens.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from mujo_jax.facts.units import STANDARD_GRAVITY
from mujo_jax.models.transformer import (
  Transformer,
  TransformerConfig,
  default_example_ids,
  dense_tokens,
  example_keys,
  learned_positions,
  masked_mean,
  parse_dtype,
)

IMU_CHANNELS = 6  # acc xyz (m/s²), gyr xyz (rad/s).
ACC_GYR_AXES = (slice(0, 3), slice(3, 6))
# Reconstruction targets per channel: acc in g, gyro in rad/s, so both are O(1) and neither
# sensor's error dominates the squared error.
RECONSTRUCTION_SCALE = (1 / STANDARD_GRAVITY,) * 3 + (1.0,) * 3


class ImuEncoder(nn.Module):
  """(B, T, S, 6) float + site mask (B, S) bool → pooled features (B, width) float32."""

  transformer: TransformerConfig
  site_ids: tuple[int, ...]  # Global site id of each of the S sites, in input order.
  # Settings from `ModelConfig` (`imu_patch`, `num_site_ids`), which holds their defaults.
  patch_len: int  # Samples per token.
  num_site_ids: int  # Size of the site-embedding table (>= len(sites.SITES)).
  max_time_tokens: int = 64  # Longest input: max_time_tokens × patch_len samples.
  magnitudes: bool = False  # `ModelConfig.imu_magnitudes`: append |acc| and |gyr| per sample.
  # `ModelConfig.imu_mask_ratio`: > 0 adds the mask token and the reconstruction head.
  mask_ratio: float = 0.0

  def _patches(self, x: jax.Array) -> jax.Array:
    """(B, T, S, C) → (B, S, P, patch_len · C): each site's consecutive samples, one row a patch."""
    batch, time, sites, channels = x.shape
    x = x.reshape(batch, time // self.patch_len, self.patch_len, sites, channels)
    return x.transpose(0, 3, 1, 2, 4).reshape(batch, sites, -1, self.patch_len * channels)

  def _check(self, imu: jax.Array, site_mask: jax.Array) -> None:
    if imu.ndim != 4 or imu.shape[-1] != IMU_CHANNELS:
      raise ValueError(f'ImuEncoder: expected imu (B, T, S, {IMU_CHANNELS}), got {imu.shape}')
    batch, time, sites, _ = imu.shape
    if sites != len(self.site_ids):
      raise ValueError(
        f'ImuEncoder: imu has {sites} sites but site_ids has '
        f'{len(self.site_ids)} entries {self.site_ids}'
      )
    if len(set(self.site_ids)) != len(self.site_ids):
      raise ValueError(f'ImuEncoder: site_ids {self.site_ids} contain duplicates')
    if any(not 0 <= site < self.num_site_ids for site in self.site_ids):
      raise ValueError(
        f'ImuEncoder: site_ids {self.site_ids} must lie in [0, num_site_ids={self.num_site_ids})'
      )
    if time % self.patch_len:
      raise ValueError(
        f'ImuEncoder: {time} samples are not a multiple of imu_patch={self.patch_len}'
      )
    if site_mask.shape != (batch, sites):
      raise ValueError(f'ImuEncoder: imu_sites mask shape {site_mask.shape} != {(batch, sites)}')

  @nn.compact
  def __call__(
    self,
    imu: jax.Array,
    site_mask: jax.Array,
    *,
    train: bool,
    example_ids: jax.Array | None = None,
    reconstruct: bool = False,
  ) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Pooled features (B, width); with `reconstruct`, also (B, 2) float32 per example: the
    summed squared error of the masked patches' predicted values and how many values that is
    (0 where nothing was masked), so that a batch's mean is sum / sum at any micro-batching."""
    self._check(imu, site_mask)
    if reconstruct and not self.mask_ratio > 0:
      raise ValueError('ImuEncoder: reconstruct=True needs mask_ratio > 0 (model.imu_mask_ratio)')
    cfg = self.transformer
    dtype = parse_dtype(cfg.dtype)
    batch, time, sites, _ = imu.shape
    num_patches = time // self.patch_len
    site_mask = site_mask.astype(bool)
    if example_ids is None:
      example_ids = default_example_ids(batch)

    imu = jnp.where(site_mask[:, None, :, None], imu.astype(jnp.float32), 0.0)
    raw = imu
    if self.magnitudes:
      norms = [jnp.sqrt(jnp.sum(imu[..., s] ** 2, -1, keepdims=True)) for s in ACC_GYR_AXES]
      imu = jnp.concatenate([imu, *norms], axis=-1)
    patch_embed = nn.Dense(cfg.width, dtype=dtype, name='patch_embed')
    tokens = dense_tokens(patch_embed, self._patches(imu))  # (B, S, P, D)
    masked = None
    if self.mask_ratio > 0:
      mask_token = self.param('mask_token', nn.initializers.normal(stddev=0.02), (cfg.width,))
      if reconstruct:
        keys = example_keys(self.make_rng('dropout'), example_ids)
        masked = (
          jax.vmap(lambda k: jax.random.bernoulli(k, self.mask_ratio, (sites, num_patches)))(keys)
          & site_mask[:, :, None]
        )
        tokens = jnp.where(masked[..., None], mask_token.astype(tokens.dtype), tokens)

    site_table = nn.Embed(
      self.num_site_ids,
      cfg.width,
      dtype=dtype,
      embedding_init=nn.initializers.normal(stddev=0.02),
      name='site_embed',
    )
    tokens = tokens + site_table(jnp.asarray(self.site_ids, jnp.int32))[None, :, None, :]
    time_table = learned_positions(self, 'time_embed', num_patches, self.max_time_tokens, cfg.width)
    tokens = tokens + time_table.astype(dtype)[None, None]

    tokens = tokens.reshape(batch, sites * num_patches, cfg.width)
    token_mask = jnp.repeat(site_mask, num_patches, axis=1)  # Same (site, patch) order.
    tokens = Transformer(cfg, name='transformer')(
      tokens, token_mask, train=train, example_ids=example_ids
    )
    pooled = masked_mean(tokens, token_mask)
    if not self.mask_ratio > 0 or not (reconstruct or self.is_initializing()):
      return pooled
    values = self.patch_len * IMU_CHANNELS
    head = nn.Dense(values, dtype=dtype, name='reconstruction_head')
    predicted = dense_tokens(head, tokens).astype(jnp.float32)
    if not reconstruct:  # Initialisation only: the head's parameters now exist.
      return pooled
    predicted = predicted.reshape(batch, sites, num_patches, values)
    target = self._patches(raw * jnp.asarray(RECONSTRUCTION_SCALE, jnp.float32))
    squared = jnp.where(masked[..., None], jnp.square(predicted - target), 0.0)
    error = jnp.sum(squared, axis=(1, 2, 3))
    count = jnp.sum(masked, axis=(1, 2), dtype=jnp.float32) * values
    return pooled, jnp.stack([error, count], axis=-1)
