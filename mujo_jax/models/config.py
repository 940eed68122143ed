"""Typed `config.model` and `config.loss`: each dataclass owns its defaults and its name lists.

These are the only defaults of the model and the loss: `configs/pretrain.py` writes
`dataclasses.asdict(ModelConfig(...))` into its `config.model`, and
`joint.JointModelSpec.from_config` reads an ml_collections config back into these types (keys
missing from an older config take the default here). Every check of a single section runs in
`__post_init__`, so an invalid value fails with one line naming the key, the value and what was
expected, before anything is compiled.

The name lists have one owner each, imported by everyone else:
  size presets    `sizes.SIZES`               attention   `transformer.ATTENTION_IMPLS`
  dtypes          `transformer.parse_dtype`   video input `video.VIDEO_INPUTS`
  loss types      `LOSS_TYPES` (here)         modalities, strategies  `mujo_jax.multitask`
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from mujo_jax import losses
from mujo_jax.facts.sites import NUM_SITE_IDS
from mujo_jax.models.sizes import get_size
from mujo_jax.models.transformer import ATTENTION_IMPLS, TransformerConfig, parse_dtype
from mujo_jax.models.video import VIDEO_INPUTS

LOSS_TYPES = ('clip', 'siglip')
# Which off-diagonal pairs with a text count as negatives (`LossConfig.text_negatives`).
TEXT_NEGATIVES = ('all', 'other_activities')
# Fields of `ModelConfig` whose None means "the size preset's value".
PRESET_FIELDS = ('width', 'depth', 'num_heads', 'mlp_dim', 'embed_dim', 'dropout_rate')


def _positive_int(key: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f'{key}={value!r}: expected a positive int')
  return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
  """`config.model`: a size preset, optional overrides of its shape, and the tokenisers' shapes.

  Patches and tubelet are in samples of the data rates (`data.imu_rate_hz` etc.): 25 IMU samples
  = 0.5 s at 50 Hz, 10 pose frames = 1/3 s at 30 fps, 5 video frames × 16 × 16 px = 40 tokens for
  a 5 s clip of 32 px frames at 10 fps (8 × 8 px gave 160 tokens and half of the step's FLOPs for
  a stick figure that 16 px patches already resolve).
  """

  size: str = 'small'  # One of `sizes.SIZES`.
  # None: the size preset's value (`PRESET_FIELDS`).
  width: int | None = None
  depth: int | None = None
  num_heads: int | None = None
  mlp_dim: int | None = None
  embed_dim: int | None = None
  dropout_rate: float | None = None
  dtype: str = 'float32'  # Compute dtype, 'float32' | 'bfloat16'; parameters stay float32.
  remat: bool = False  # Recompute transformer blocks in the backward pass (saves memory).
  attention: str = 'auto'  # One of `transformer.ATTENTION_IMPLS`.
  imu_patch: int = 25  # Samples per IMU token.
  # Append |acc| and |gyr| to each IMU sample (`imu.ImuEncoder`). False for checkpoints written
  # before the key existed (their patch embedding has 6 channels a sample).
  imu_magnitudes: bool = False
  # Share of IMU tokens masked in training and reconstructed (`imu.ImuEncoder`, weighted by
  # `loss.imu_reconstruction_weight`); 0: no mask token, no reconstruction head.
  imu_mask_ratio: float = 0.0
  pose_patch: int = 10  # Frames per pose token.
  # The pose encoder also reads the forearms' pronation where the batch has it (the wearables
  # corpora store it; `schema.FOREARM_PRONATION`), masked where a source has none. False for
  # checkpoints written before the key existed (no `forearm_roll_embed`).
  pose_forearm_roll: bool = False
  video_tubelet: tuple[int, int, int] = (5, 16, 16)  # (frames, rows, cols) per video token.
  # 'frames': uint8 (B, T, H, W, C); 'features': pre-extracted float (B, T, F).
  video_input: str = 'frames'
  text_max_len: int = 96  # Longest token sequence.
  num_site_ids: int = NUM_SITE_IDS

  def __post_init__(self):
    get_size(self.size)
    for key in ('imu_patch', 'pose_patch', 'text_max_len', 'num_site_ids'):
      _positive_int(f'model.{key}', getattr(self, key))
    tubelet = self.video_tubelet
    if not isinstance(tubelet, tuple) or len(tubelet) != 3:
      raise ValueError(f'model.video_tubelet={tubelet!r}: expected (frames, rows, cols)')
    for value in tubelet:
      _positive_int('model.video_tubelet', value)
    if self.video_input not in VIDEO_INPUTS:
      raise ValueError(f'model.video_input={self.video_input!r}: expected one of {VIDEO_INPUTS}')
    for key in ('remat', 'imu_magnitudes', 'pose_forearm_roll'):
      if not isinstance(getattr(self, key), bool):
        raise ValueError(f'model.{key}={getattr(self, key)!r}: expected a bool')
    ratio = self.imu_mask_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
      raise ValueError(f'model.imu_mask_ratio={ratio!r}: expected a value in [0, 1)')
    if self.attention not in ATTENTION_IMPLS:
      raise ValueError(f'model.attention={self.attention!r}: expected one of {ATTENTION_IMPLS}')
    parse_dtype(self.dtype)
    _positive_int('model.embed_dim', self.resolved('embed_dim'))
    self.transformer()  # Checks width, depth, heads, mlp_dim and dropout_rate.

  def resolved(self, key: str) -> Any:
    """The value of `key` in `PRESET_FIELDS`: the override, or the size preset's."""
    if key not in PRESET_FIELDS:
      raise KeyError(f'{key!r} is not one of {PRESET_FIELDS}')
    value = getattr(self, key)
    return getattr(get_size(self.size), key) if value is None else value

  def transformer(self) -> TransformerConfig:
    """The transformer shape shared by the four encoders."""
    rate = self.resolved('dropout_rate')
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
      raise ValueError(f'model.dropout_rate={rate!r}: expected a value in [0, 1)')
    return TransformerConfig(
      width=self.resolved('width'),
      depth=self.resolved('depth'),
      num_heads=self.resolved('num_heads'),
      mlp_dim=self.resolved('mlp_dim'),
      dropout_rate=float(rate),
      dtype=parse_dtype(self.dtype),
      remat=self.remat,
      attention=self.attention,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class LossConfig:
  """`config.loss`: the contrastive loss and its learned temperature's initialisation."""

  type: str = 'clip'  # One of `LOSS_TYPES`.
  init_logit_scale: float = math.log(1 / 0.07)  # CLIP.
  max_logit_scale: float = losses.MAX_LOGIT_SCALE
  siglip_init_t: float = math.log(10.0)  # big_vision.
  siglip_init_b: float = -10.0
  # Weight of the masked IMU reconstruction's mean squared error (g, rad/s) added to the
  # contrastive loss; used only with `model.imu_mask_ratio` > 0.
  imu_reconstruction_weight: float = 1.0
  # 'other_activities': in the pairs with text, a text of the batch's other windows of the same
  # activity (`label`) is not a negative: the texts describe the activity, not the window, so
  # with `data.windows_per_activity` > 1 they would be pushed apart from windows they describe.
  text_negatives: str = 'all'

  def __post_init__(self):
    if self.type not in LOSS_TYPES:
      raise ValueError(f'loss.type={self.type!r}: expected one of {LOSS_TYPES}')
    if self.text_negatives not in TEXT_NEGATIVES:
      raise ValueError(
        f'loss.text_negatives={self.text_negatives!r}: expected one of {TEXT_NEGATIVES}'
      )
    weight = self.imu_reconstruction_weight
    number = isinstance(weight, int | float) and not isinstance(weight, bool)
    if not (number and math.isfinite(weight) and weight >= 0):
      raise ValueError(f'loss.imu_reconstruction_weight={weight!r}: expected a number >= 0')
    for key in ('init_logit_scale', 'max_logit_scale', 'siglip_init_t', 'siglip_init_b'):
      value = getattr(self, key)
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f'loss.{key}={value!r}: expected a finite number')
