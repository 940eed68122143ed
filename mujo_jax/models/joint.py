"""The joint model: one encoder + projection head per modality, and the multi-way loss head.

Parameter tree (what sharding rules and checkpoints see):
`{imu,pose,video,text}_encoder/...`, `{modality}_head/{kernel,bias}` and `loss_head/` with
`logit_scale` (clip) or `t`, `b` (siglip), plus `log_vars` (P,) for the `uncertainty` strategy.

`embed` and `loss` are separate methods so that exact gradient accumulation can embed
micro-batches, take the loss gradient w.r.t. the embeddings of the whole batch, and replay:
  emb = model.apply(v, batch, train=True, example_ids=ids, method='embed', rngs={'dropout': r})
  total, metrics = model.apply(v, emb, present, step, rng, method='loss')
Dropout masks depend only on (rng, example id, layer) — see `transformer.ExampleDropout`.

`build_model(JointModelSpec)`: the spec is typed (`ModelConfig`, `LossConfig` in
`mujo_jax/models/config.py`, `MultitaskConfig` in `mujo_jax/multitask.py`), and
`JointModelSpec.from_config(config)` is the one conversion from an ml_collections config
(`modalities`, `model`, `loss`, `multitask`, and `data.imu_site_ids` or `data.imu_sites`).
`init_params(model, rng, batch)` initialises through `embed` + `loss`, the paths training takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mujo_jax import losses
from mujo_jax import multitask as multitask_lib
from mujo_jax.facts.sites import site_ids
from mujo_jax.models.config import LossConfig, ModelConfig
from mujo_jax.models.imu import ImuEncoder
from mujo_jax.models.pose import PoseEncoder
from mujo_jax.models.text import BYTE_VOCAB_SIZE, TextEncoder
from mujo_jax.models.transformer import TransformerConfig, parse_dtype
from mujo_jax.models.video import VideoEncoder

Array = jax.Array

# Which batch keys each modality's encoder reads, in the order of its positional arguments.
BATCH_KEYS = {
  'imu': ('imu', 'imu_sites'),
  'pose': ('pose',),
  'video': ('video',),
  'text': ('text',),
}
# Keys an encoder reads when the batch has them (`schema.batch_spec` writes them): the pose
# encoder's forearm pronation and its per-example presence, with `model.pose_forearm_roll`.
OPTIONAL_BATCH_KEYS = {
  'pose': ('pose_forearm_pronation', 'pose_forearm_pronation_present'),
}


# The extra entry of `embed(train=True)` when the IMU encoder reconstructs masked patches:
# (B, 2) float32 per example, summed squared error and number of values (`imu.ImuEncoder`).
RECONSTRUCTION_KEY = 'imu_reconstruction'


def l2_normalize(x: Array, eps: float = 1e-6) -> Array:
  """x / max(|x|, eps) along the last axis; finite (and differentiable) at x = 0."""
  squared = jnp.sum(jnp.square(x), axis=-1, keepdims=True)
  return x * jax.lax.rsqrt(jnp.maximum(squared, eps * eps))


class LossHead(nn.Module):
  """Every pair's contrastive loss, combined by the multitask strategy."""

  loss_config: LossConfig
  multitask: multitask_lib.Multitask

  def _not_negative(self, labels: Array | None, batch: int) -> Array:
    """(P, B, B) bool: per pair, the off-diagonal entries that are not negatives."""
    mt = self.multitask
    none = jnp.zeros((len(mt.pair_indices), batch, batch), bool)
    if self.loss_config.text_negatives == 'all':
      return none
    if labels is None:
      raise ValueError(
        f'loss.text_negatives={self.loss_config.text_negatives!r} needs the batch labels '
        '(`label`) passed to the loss'
      )
    if labels.shape != (batch,):
      raise ValueError(f'loss: labels shape {labels.shape} != ({batch},)')
    same = labels[:, None] == labels[None, :]
    with_text = ['text' in (mt.modalities[a], mt.modalities[b]) for a, b in mt.pair_indices]
    return none | (jnp.asarray(with_text)[:, None, None] & same[None])

  @nn.compact
  def __call__(
    self,
    embeddings: Mapping[str, Array],
    present: Array,
    step: Array | int,
    rng: Array | None,
    labels: Array | None = None,
  ) -> tuple[Array, dict[str, Array]]:
    mt = self.multitask
    cfg = self.loss_config
    missing = [m for m in mt.modalities if m not in embeddings]
    if missing:
      raise ValueError(f'loss: embeddings lack {missing} (have {sorted(embeddings)})')
    batch = embeddings[mt.modalities[0]].shape[0]
    if present.shape != (batch, len(mt.modalities)):
      raise ValueError(
        f'loss: present has shape {present.shape}, expected '
        f'{(batch, len(mt.modalities))} (columns in the order {mt.modalities})'
      )
    stacked = jnp.stack([embeddings[m].astype(jnp.float32) for m in mt.modalities])  # (M,B,D)
    index_a = jnp.asarray([a for a, _ in mt.pair_indices], jnp.int32)
    index_b = jnp.asarray([b for _, b in mt.pair_indices], jnp.int32)
    present = jnp.asarray(present).astype(bool)
    pair_masks = (present[:, index_a] & present[:, index_b]).T  # (P, B)
    z_a, z_b = stacked[index_a], stacked[index_b]  # (P, B, D)
    not_negative = self._not_negative(labels, batch)  # (P, B, B)

    metrics = {}
    if cfg.type == 'clip':
      logit_scale = self.param('logit_scale', nn.initializers.constant(cfg.init_logit_scale), ())
      pair_losses = jax.vmap(
        lambda a, b, m, n: losses.clip_loss(
          a, b, logit_scale, m, max_logit_scale=cfg.max_logit_scale, not_negative=n
        )
      )(z_a, z_b, pair_masks, not_negative)
      scale = jnp.exp(jnp.minimum(logit_scale, cfg.max_logit_scale))
    else:
      t = self.param('t', nn.initializers.constant(cfg.siglip_init_t), ())
      b = self.param('b', nn.initializers.constant(cfg.siglip_init_b), ())
      pair_losses = jax.vmap(
        lambda za, zb, m, n: losses.siglip_loss(za, zb, t, b, m, not_negative=n)
      )(z_a, z_b, pair_masks, not_negative)
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
    if RECONSTRUCTION_KEY in embeddings:
      # Mean squared error per masked value over the examples whose IMU is present (sums, so
      # micro-batches add up); an example without IMU has nothing real to reconstruct.
      imu_present = present[:, mt.modalities.index('imu'), None]
      sums = jnp.where(imu_present, embeddings[RECONSTRUCTION_KEY].astype(jnp.float32), 0.0)
      error, count = jnp.sum(sums, axis=0)
      reconstruction = error / jnp.maximum(jax.lax.stop_gradient(count), 1.0)
      total = total + cfg.imu_reconstruction_weight * reconstruction
      metrics[f'{RECONSTRUCTION_KEY}_loss'] = reconstruction
    for index, name in enumerate(mt.pair_names):
      metrics[f'loss/{name}'] = pair_losses[index]
      metrics[f'weight/{name}'] = weights[index]
      metrics[f'pair_examples/{name}'] = pair_counts[index]
      if log_vars is not None:
        metrics[f'log_var/{name}'] = log_vars[index]
    metrics['loss'] = total
    return total, metrics


class JointModel(nn.Module):
  """Encoders + projection heads of `modalities` into one L2-normalised space, and the loss.

  Built by `build_model` from a `JointModelSpec`; the fields are the spec resolved (size preset
  applied), so they carry no defaults of their own.
  """

  modalities: tuple[str, ...]
  transformer: TransformerConfig
  embed_dim: int
  loss_config: LossConfig
  multitask: multitask_lib.Multitask
  imu_site_ids: tuple[int, ...]
  imu_patch: int
  imu_magnitudes: bool
  imu_mask_ratio: float
  num_site_ids: int
  pose_patch: int
  pose_forearm_roll: bool
  video_tubelet: tuple[int, int, int]
  video_input: str
  text_max_len: int
  text_vocab_size: int = BYTE_VOCAB_SIZE  # The byte tokenizer's, not a setting.

  def setup(self):
    if self.multitask.modalities != self.modalities:
      raise ValueError(
        f'JointModel: multitask modalities {self.multitask.modalities} != {self.modalities}'
      )
    encoders = {
      'imu': lambda name: ImuEncoder(
        self.transformer,
        site_ids=self.imu_site_ids,
        patch_len=self.imu_patch,
        num_site_ids=self.num_site_ids,
        magnitudes=self.imu_magnitudes,
        mask_ratio=self.imu_mask_ratio,
        name=name,
      ),
      'pose': lambda name: PoseEncoder(
        self.transformer,
        patch_len=self.pose_patch,
        forearm_roll=self.pose_forearm_roll,
        name=name,
      ),
      'video': lambda name: VideoEncoder(
        self.transformer, input_kind=self.video_input, tubelet=self.video_tubelet, name=name
      ),
      'text': lambda name: TextEncoder(
        self.transformer, vocab_size=self.text_vocab_size, max_len=self.text_max_len, name=name
      ),
    }
    # Parameter names `{modality}_encoder`, `{modality}_head` (checkpoints and sharding rules).
    self.encoders = {m: encoders[m](f'{m}_encoder') for m in self.modalities}
    self.heads = {
      m: nn.Dense(self.embed_dim, dtype=parse_dtype(self.transformer.dtype), name=f'{m}_head')
      for m in self.modalities
    }
    self.loss_head = LossHead(self.loss_config, self.multitask)

  def embed(
    self,
    batch: Mapping[str, Array],
    train: bool = False,
    example_ids: Array | None = None,
    modalities: Sequence[str] | None = None,
  ) -> dict[str, Array]:
    """{modality: (B, embed_dim) float32, unit norm} for each of `modalities`.

    With `train` and `imu_mask_ratio` > 0, also `RECONSTRUCTION_KEY`: (B, 2) per-example sums of
    the masked IMU patches' squared error and value count, which `loss` turns into its term.

    `modalities`: a subset of the model's (default: all of them); only their encoders run and
    the batch needs only their keys (`BATCH_KEYS`), so MM-Fit windows without video or text can
    be embedded by a model pretrained on four modalities.
    `example_ids` (B,) int: global index of each example, which seeds its dropout masks;
    default `arange(B)`. Pass the ids of a micro-batch's examples to replay the masks of the
    full batch.
    """
    modalities = self.modalities if modalities is None else tuple(modalities)
    unknown = [m for m in modalities if m not in self.modalities]
    if unknown:
      raise ValueError(
        f'JointModel.embed: modalities {unknown} are not in the model (it has {self.modalities})'
      )
    for modality in modalities:
      missing = [key for key in BATCH_KEYS[modality] if key not in batch]
      if missing:
        raise ValueError(
          f'JointModel.embed: batch lacks {missing} for modality {modality!r} '
          f'(batch keys: {sorted(batch)})'
        )
    embeddings = {}
    for modality in modalities:
      inputs = [batch[key] for key in BATCH_KEYS[modality]]
      encoder = self.encoders[modality]
      if modality == 'imu' and train and self.imu_mask_ratio > 0:
        features, embeddings[RECONSTRUCTION_KEY] = encoder(
          *inputs, train=train, example_ids=example_ids, reconstruct=True
        )
      elif modality == 'pose' and self.pose_forearm_roll:
        # Optional inputs: a batch without them (real pose) embeds as without pronation.
        pronation_key, present_key = OPTIONAL_BATCH_KEYS['pose']
        features = encoder(
          *inputs,
          train=train,
          example_ids=example_ids,
          forearm_pronation=batch.get(pronation_key),
          forearm_pronation_present=batch.get(present_key),
        )
      else:
        features = encoder(*inputs, train=train, example_ids=example_ids)
      projected = self.heads[modality](features).astype(jnp.float32)
      embeddings[modality] = l2_normalize(projected)
    return embeddings

  def loss(
    self,
    embeddings: Mapping[str, Array],
    present: Array,
    step: Array | int = 0,
    rng: Array | None = None,
    labels: Array | None = None,
  ) -> tuple[Array, dict[str, Array]]:
    """(total loss, metrics) of the multitask strategy at `step`.

    `present` (B, M) bool in `modalities` order. `rng` picks the pair of `random_pair`;
    if None, the 'multitask' rng stream is used (flax falls back to 'params' during init).
    `labels` (B,) int: the batch's activities, read with `loss.text_negatives='other_activities'`.
    Metrics: `loss`, `loss/<pair>`, `weight/<pair>`, `pair_examples/<pair>`, `temperature`,
    `logit_scale`, plus `siglip_bias` (siglip) and `log_var/<pair>` (uncertainty).
    """
    return self.loss_head(embeddings, present, step, rng, labels)

  @property
  def pair_names(self) -> tuple[str, ...]:
    return self.multitask.pair_names


# ------------------------------------------------------------------------------ spec


def _typed(cls: type, section: Any, key: str) -> Any:
  """`cls(**section)` for an ml_collections section; keys it lacks take the dataclass default."""
  values = {} if section is None else dict(section.items())
  names = [field.name for field in dataclasses.fields(cls)]
  unknown = sorted(k for k in values if k not in names)
  if unknown:
    raise ValueError(f'config.{key} has unknown keys {unknown}; known: {names}')

  def plain(value):  # JSON and ConfigDict hand back lists and ConfigDicts.
    if isinstance(value, list | tuple):
      return tuple(plain(v) for v in value)
    if hasattr(value, 'to_dict'):
      return value.to_dict()
    return value

  return cls(**{k: plain(v) for k, v in values.items()})


@dataclasses.dataclass(frozen=True, kw_only=True)
class JointModelSpec:
  """Everything `build_model` reads, typed and checked: the model's one input."""

  modalities: tuple[str, ...]
  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  loss: LossConfig = dataclasses.field(default_factory=LossConfig)
  multitask: multitask_lib.MultitaskConfig = dataclasses.field(
    default_factory=multitask_lib.MultitaskConfig
  )
  # Global site id of each IMU input site (`models.config.site_ids`); required with "imu".
  imu_site_ids: tuple[int, ...] = ()

  def __post_init__(self):
    modalities = multitask_lib.validate_modalities(self.modalities)
    object.__setattr__(self, 'modalities', modalities)
    ids = self.imu_site_ids
    if 'imu' in modalities:
      if not ids or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise ValueError(
          f'data.imu_site_ids={ids!r}: expected the ints of one or more sites '
          f'(or data.imu_sites) when "imu" is among the modalities'
        )
      bad = [i for i in ids if not 0 <= i < self.model.num_site_ids]
      if bad or len(set(ids)) != len(ids):
        raise ValueError(
          f'data.imu_site_ids={ids}: expected distinct ids in [0, {self.model.num_site_ids})'
        )
    if self.model.imu_mask_ratio > 0 and 'imu' not in modalities:
      raise ValueError(
        f'model.imu_mask_ratio={self.model.imu_mask_ratio}: masked IMU reconstruction needs '
        f'"imu" among the modalities {modalities}'
      )
    self.build_multitask()

  def build_multitask(self) -> multitask_lib.Multitask:
    return multitask_lib.build_multitask(self.modalities, self.multitask)

  @classmethod
  def from_config(cls, config: Any) -> JointModelSpec:
    """The spec of an ml_collections config: the one conversion, used by every caller.

    Reads `modalities` ('imu+pose' strings too), `model`, `loss`, `multitask`, and the IMU sites
    as `data.imu_site_ids` or else `data.imu_sites` (names).
    """
    modalities = multitask_lib.validate_modalities(config.modalities)
    ids = ()
    if 'imu' in modalities:
      data = config.get('data', None) or {}
      ids = data.get('imu_site_ids', None)
      if ids is None:
        names = data.get('imu_sites', None)
        if names is None:
          raise ValueError(
            'data.imu_site_ids (or data.imu_sites) is required when "imu" is among the modalities'
          )
        ids = site_ids(names, where='data.imu_sites')
    return cls(
      modalities=modalities,
      model=_typed(ModelConfig, config.get('model', None), 'model'),
      loss=_typed(LossConfig, config.get('loss', None), 'loss'),
      multitask=_typed(multitask_lib.MultitaskConfig, config.get('multitask', None), 'multitask'),
      imu_site_ids=tuple(ids),
    )


def build_model(spec: JointModelSpec) -> JointModel:
  """The `JointModel` of `spec`, its size preset resolved."""
  model = spec.model
  return JointModel(
    modalities=spec.modalities,
    transformer=model.transformer(),
    embed_dim=model.resolved('embed_dim'),
    loss_config=spec.loss,
    multitask=spec.build_multitask(),
    imu_site_ids=spec.imu_site_ids,
    imu_patch=model.imu_patch,
    imu_magnitudes=model.imu_magnitudes,
    imu_mask_ratio=model.imu_mask_ratio,
    num_site_ids=model.num_site_ids,
    pose_patch=model.pose_patch,
    pose_forearm_roll=model.pose_forearm_roll,
    video_tubelet=model.video_tubelet,
    video_input=model.video_input,
    text_max_len=model.text_max_len,
  )


def _embed_and_loss(module: JointModel, batch: Mapping[str, Array]) -> tuple[Array, dict]:
  embeddings = module.embed(batch)
  batch_size = embeddings[module.modalities[0]].shape[0]
  # Initialisation only needs the shapes: every modality present, one activity for all.
  return module.loss(
    embeddings,
    jnp.ones((batch_size, len(module.modalities)), bool),
    labels=jnp.zeros((batch_size,), jnp.int32),
  )


def init_params(model: JointModel, rng: Array, batch: Mapping[str, Array]) -> Any:
  """Initial parameters of `model` for batches shaped like `batch` (its values are not used).

  Runs `embed` and `loss` (evaluation mode), so every encoder, head and the loss head create
  their parameters; the shapes follow the batch (e.g. the video feature width).
  """
  return model.init({'params': rng, 'dropout': rng}, batch, method=_embed_and_loss)['params']
