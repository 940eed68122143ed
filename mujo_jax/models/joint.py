"""The joint model: one encoder + projection head per modality, and the multi-way loss head.

Parameter tree (what sharding rules and checkpoints see):
`{imu,pose,video,text}_encoder/...`, `{modality}_head/{kernel,bias}` and `loss_head/` with
`logit_scale` (clip) or `t`, `b` (siglip), plus `log_vars` (P,) for the `uncertainty` strategy.

`embed` and `loss` are separate methods so that exact gradient accumulation (issue 6) can embed
micro-batches, take the loss gradient w.r.t. the embeddings of the whole batch, and replay:
  emb = model.apply(v, batch, train=True, example_ids=ids, method='embed', rngs={'dropout': r})
  total, metrics = model.apply(v, emb, present, step, rng, method='loss')
Dropout masks depend only on (rng, example id, layer) — see `transformer.ExampleDropout`.

Config keys read by `build_model` (configs/pretrain.py writes them):
  modalities                  tuple of 'imu'|'pose'|'video'|'text' (or 'imu+pose+...')
  model.size                  'tiny'|'small'|'base' (models/sizes.py)
  model.{width, depth, num_heads, mlp_dim, embed_dim, dropout_rate}   None = size preset
  model.dtype                 'float32'|'bfloat16' compute dtype (params stay float32)
  model.remat                 optional bool, recompute blocks in backward (default False)
  model.attention             optional 'auto'|'xla'|'einsum' (TransformerConfig; 'auto')
  model.imu_patch             samples per IMU token (25)
  model.pose_patch            frames per pose token (10)
  model.video_tubelet         (frames, rows, cols) per video token ((5, 8, 8))
  model.video_input           'frames' (uint8 (B,T,H,W,C)) | 'features' (float (B,T,F))
  model.text_max_len          longest token sequence (96)
  model.num_site_ids          optional, size of the IMU site table (64)
  data.imu_site_ids           tuple of global site ids (indices into virtual_imu.SITES), or
  data.imu_sites              tuple of site names (mapped through virtual_imu.SITES)
  loss.type                   'clip'|'siglip'
  loss.{init_logit_scale, max_logit_scale, siglip_init_t, siglip_init_b}
  multitask.{strategy, pairs, pair_weights, anchor}   (mujo_jax/multitask.py)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mujo_jax import losses
from mujo_jax import multitask as multitask_lib
from mujo_jax.data import schema
from mujo_jax.models.imu import ImuEncoder
from mujo_jax.models.pose import PoseEncoder
from mujo_jax.models.sizes import get_size
from mujo_jax.models.text import BYTE_VOCAB_SIZE, TextEncoder
from mujo_jax.models.transformer import TransformerConfig, parse_dtype
from mujo_jax.models.video import VIDEO_INPUTS, VideoEncoder

Array = jax.Array

LOSS_TYPES = ('clip', 'siglip')
NUM_SITE_IDS = 64
# Which batch keys each modality's encoder reads.
BATCH_KEYS = {'imu': ('imu', 'imu_sites'), 'pose': ('pose',), 'video': ('video',),
              'text': ('text',)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class LossConfig:
  type: str = 'clip'
  init_logit_scale: float = math.log(1 / 0.07)  # CLIP.
  max_logit_scale: float = losses.MAX_LOGIT_SCALE
  siglip_init_t: float = math.log(10.0)  # big_vision.
  siglip_init_b: float = -10.0

  def __post_init__(self):
    if self.type not in LOSS_TYPES:
      raise ValueError(f'loss.type={self.type!r}: expected one of {LOSS_TYPES}')


def l2_normalize(x: Array, eps: float = 1e-6) -> Array:
  """x / max(|x|, eps) along the last axis; finite (and differentiable) at x = 0."""
  squared = jnp.sum(jnp.square(x), axis=-1, keepdims=True)
  return x * jax.lax.rsqrt(jnp.maximum(squared, eps * eps))


class LossHead(nn.Module):
  """Every pair's contrastive loss, combined by the multitask strategy."""

  loss_config: LossConfig
  multitask: multitask_lib.Multitask

  @nn.compact
  def __call__(self, embeddings: Mapping[str, Array], present: Array, step: Array | int,
               rng: Array | None) -> tuple[Array, dict[str, Array]]:
    mt = self.multitask
    cfg = self.loss_config
    missing = [m for m in mt.modalities if m not in embeddings]
    if missing:
      raise ValueError(f'loss: embeddings lack {missing} (have {sorted(embeddings)})')
    batch = embeddings[mt.modalities[0]].shape[0]
    if present.shape != (batch, len(mt.modalities)):
      raise ValueError(f'loss: present has shape {present.shape}, expected '
                       f'{(batch, len(mt.modalities))} (columns in the order {mt.modalities})')
    stacked = jnp.stack([embeddings[m].astype(jnp.float32) for m in mt.modalities])  # (M,B,D)
    index_a = jnp.asarray([a for a, _ in mt.pair_indices], jnp.int32)
    index_b = jnp.asarray([b for _, b in mt.pair_indices], jnp.int32)
    present = jnp.asarray(present).astype(bool)
    pair_masks = (present[:, index_a] & present[:, index_b]).T  # (P, B)
    z_a, z_b = stacked[index_a], stacked[index_b]  # (P, B, D)

    metrics = {}
    if cfg.type == 'clip':
      logit_scale = self.param('logit_scale', nn.initializers.constant(cfg.init_logit_scale), ())
      pair_losses = jax.vmap(
          lambda a, b, m: losses.clip_loss(a, b, logit_scale, m,
                                           max_logit_scale=cfg.max_logit_scale))(z_a, z_b,
                                                                                 pair_masks)
      scale = jnp.exp(jnp.minimum(logit_scale, cfg.max_logit_scale))
    else:
      t = self.param('t', nn.initializers.constant(cfg.siglip_init_t), ())
      b = self.param('b', nn.initializers.constant(cfg.siglip_init_b), ())
      pair_losses = jax.vmap(lambda za, zb, m: losses.siglip_loss(za, zb, t, b, m))(
          z_a, z_b, pair_masks)
      scale = jnp.exp(t)
      metrics['siglip_bias'] = b
    metrics['logit_scale'] = scale
    metrics['temperature'] = 1.0 / scale

    log_vars = None
    if mt.learns_log_vars:
      log_vars = self.param('log_vars', nn.initializers.zeros, (len(mt.pairs),))
    if rng is None and mt.needs_rng:
      rng = self.make_rng('multitask')
    pair_counts = jnp.sum(pair_masks, axis=1)
    total, weights = multitask_lib.combine(mt, pair_losses, pair_counts > 0, step, rng, log_vars)
    for index, name in enumerate(mt.pair_names):
      metrics[f'loss/{name}'] = pair_losses[index]
      metrics[f'weight/{name}'] = weights[index]
      metrics[f'pair_examples/{name}'] = pair_counts[index]
      if log_vars is not None:
        metrics[f'log_var/{name}'] = log_vars[index]
    metrics['loss'] = total
    return total, metrics


class JointModel(nn.Module):
  """Encoders + projection heads of `modalities` into one L2-normalised space, and the loss."""

  modalities: tuple[str, ...]
  transformer: TransformerConfig
  embed_dim: int
  loss_config: LossConfig
  multitask: multitask_lib.Multitask
  imu_site_ids: tuple[int, ...] = ()
  imu_patch: int = 25
  num_site_ids: int = NUM_SITE_IDS
  pose_patch: int = 10
  video_tubelet: tuple[int, int, int] = (5, 8, 8)
  video_input: str = 'frames'
  text_max_len: int = 96
  text_vocab_size: int = BYTE_VOCAB_SIZE

  def setup(self):
    if self.multitask.modalities != self.modalities:
      raise ValueError(f'JointModel: multitask modalities {self.multitask.modalities} != '
                       f'{self.modalities}')
    encoders = {
        'imu': lambda: ImuEncoder(self.transformer, site_ids=self.imu_site_ids,
                                  patch_len=self.imu_patch, num_site_ids=self.num_site_ids),
        'pose': lambda: PoseEncoder(self.transformer, patch_len=self.pose_patch),
        'video': lambda: VideoEncoder(self.transformer, input_kind=self.video_input,
                                      tubelet=self.video_tubelet),
        'text': lambda: TextEncoder(self.transformer, vocab_size=self.text_vocab_size,
                                    max_len=self.text_max_len),
    }
    for modality in self.modalities:
      setattr(self, f'{modality}_encoder', encoders[modality]())
      setattr(self, f'{modality}_head', nn.Dense(self.embed_dim,
                                                 dtype=parse_dtype(self.transformer.dtype)))
    self.loss_head = LossHead(self.loss_config, self.multitask)

  def _features(self, modality: str, batch: Mapping[str, Array], train: bool,
                example_ids: Array | None) -> Array:
    encoder = getattr(self, f'{modality}_encoder')
    if modality == 'imu':
      return encoder(batch['imu'], batch['imu_sites'], train=train, example_ids=example_ids)
    return encoder(batch[modality], train=train, example_ids=example_ids)

  def embed(self, batch: Mapping[str, Array], train: bool = False,
            example_ids: Array | None = None) -> dict[str, Array]:
    """{modality: (B, embed_dim) float32, unit norm} for each of `modalities`.

    `example_ids` (B,) int: global index of each example, which seeds its dropout masks;
    default `arange(B)`. Pass the ids of a micro-batch's examples to replay the masks of the
    full batch.
    """
    for modality in self.modalities:
      missing = [key for key in BATCH_KEYS[modality] if key not in batch]
      if missing:
        raise ValueError(f'JointModel.embed: batch lacks {missing} for modality {modality!r} '
                         f'(batch keys: {sorted(batch)})')
    embeddings = {}
    for modality in self.modalities:
      features = self._features(modality, batch, train, example_ids)
      projected = getattr(self, f'{modality}_head')(features).astype(jnp.float32)
      embeddings[modality] = l2_normalize(projected)
    return embeddings

  def loss(self, embeddings: Mapping[str, Array], present: Array, step: Array | int = 0,
           rng: Array | None = None) -> tuple[Array, dict[str, Array]]:
    """(total loss, metrics) of the multitask strategy at `step`.

    `present` (B, M) bool in `modalities` order. `rng` picks the pair of `random_pair`;
    if None, the 'multitask' rng stream is used (flax falls back to 'params' during init).
    Metrics: `loss`, `loss/<pair>`, `weight/<pair>`, `pair_examples/<pair>`, `temperature`,
    `logit_scale`, plus `siglip_bias` (siglip) and `log_var/<pair>` (uncertainty).
    """
    return self.loss_head(embeddings, present, step, rng)

  def __call__(self, batch: Mapping[str, Array], train: bool = False, step: Array | int = 0,
               rng: Array | None = None) -> tuple[Array, dict[str, Array]]:
    """embed + loss; `present` defaults to all-True when the batch has none (e.g. at init)."""
    embeddings = self.embed(batch, train)
    present = batch.get('present')
    if present is None:
      batch_size = embeddings[self.modalities[0]].shape[0]
      present = jnp.ones((batch_size, len(self.modalities)), bool)
    return self.loss(embeddings, present, step, rng)

  @property
  def pair_names(self) -> tuple[str, ...]:
    return self.multitask.pair_names


# ------------------------------------------------------------------------------ config


def _positive_int(name: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f'config.{name}={value!r}: expected a positive int')
  return value


def _imu_site_ids(config: Any) -> tuple[int, ...]:
  data = config.get('data', None)
  site_ids = None if data is None else data.get('imu_site_ids', None)
  if site_ids is not None:
    site_ids = tuple(site_ids)
    for site in site_ids:
      if isinstance(site, bool) or not isinstance(site, int):
        raise ValueError(f'config.data.imu_site_ids={site_ids}: expected ints')
    return site_ids
  site_names = None if data is None else data.get('imu_sites', None)
  if site_names is None:
    raise ValueError('config.data.imu_site_ids (or config.data.imu_sites) is required when '
                     '"imu" is among the modalities')
  from mujo_jax.facts import virtual_imu  # pylint: disable=g-import-not-at-top
  unknown = [name for name in site_names if name not in virtual_imu.SITES]
  if unknown:
    raise ValueError(f'config.data.imu_sites: unknown sites {unknown}; known: '
                     f'{virtual_imu.SITES}')
  return tuple(virtual_imu.SITES.index(name) for name in site_names)


def build_model(config: Any) -> JointModel:
  """A `JointModel` from an ml_collections config (keys in the module docstring)."""
  modalities = multitask_lib.validate_modalities(config.modalities)
  model_cfg = config.model
  size = get_size(model_cfg.size)

  def pick(key: str) -> Any:
    value = model_cfg.get(key, None)
    return getattr(size, key) if value is None else value

  transformer = TransformerConfig(
      width=pick('width'), depth=pick('depth'), num_heads=pick('num_heads'),
      mlp_dim=pick('mlp_dim'), dropout_rate=float(pick('dropout_rate')),
      dtype=parse_dtype(model_cfg.get('dtype', None) or 'float32'),
      remat=bool(model_cfg.get('remat', False)),
      attention=model_cfg.get('attention', None) or 'auto')
  embed_dim = _positive_int('model.embed_dim', pick('embed_dim'))

  tubelet = tuple(model_cfg.get('video_tubelet', None) or (5, 8, 8))
  if len(tubelet) != 3:
    raise ValueError(f'config.model.video_tubelet={tubelet}: expected (frames, rows, cols)')
  for value in tubelet:
    _positive_int('model.video_tubelet', value)
  video_input = model_cfg.get('video_input', None) or 'frames'
  if video_input not in VIDEO_INPUTS:
    raise ValueError(f'config.model.video_input={video_input!r}: expected one of '
                     f'{VIDEO_INPUTS}')
  num_site_ids = _positive_int('model.num_site_ids',
                               model_cfg.get('num_site_ids', None) or NUM_SITE_IDS)
  site_ids = _imu_site_ids(config) if 'imu' in modalities else ()
  bad_sites = [s for s in site_ids if not 0 <= s < num_site_ids]
  if bad_sites or len(set(site_ids)) != len(site_ids):
    raise ValueError(f'config.data.imu_site_ids={site_ids}: expected distinct ids in '
                     f'[0, {num_site_ids})')

  loss_cfg = config.loss
  defaults = LossConfig()
  loss_config = LossConfig(
      type=loss_cfg.type,
      init_logit_scale=float(loss_cfg.get('init_logit_scale', defaults.init_logit_scale)),
      max_logit_scale=float(loss_cfg.get('max_logit_scale', defaults.max_logit_scale)),
      siglip_init_t=float(loss_cfg.get('siglip_init_t', defaults.siglip_init_t)),
      siglip_init_b=float(loss_cfg.get('siglip_init_b', defaults.siglip_init_b)))

  return JointModel(
      modalities=modalities, transformer=transformer, embed_dim=embed_dim,
      loss_config=loss_config, multitask=multitask_lib.from_config(config),
      imu_site_ids=site_ids,
      imu_patch=_positive_int('model.imu_patch', model_cfg.get('imu_patch', None) or 25),
      num_site_ids=num_site_ids,
      pose_patch=_positive_int('model.pose_patch', model_cfg.get('pose_patch', None) or 10),
      video_tubelet=tubelet, video_input=video_input,
      text_max_len=_positive_int('model.text_max_len',
                                 model_cfg.get('text_max_len', None) or 96))


def init_params(model: JointModel, config: Any, rng: jax.Array) -> Any:
  """Parameters of `model` for the batch schema of `config` (every encoder and the loss head)."""
  return model.init({'params': rng, 'dropout': rng}, schema.dummy_batch(config, 2), train=False,
                    step=0)['params']
