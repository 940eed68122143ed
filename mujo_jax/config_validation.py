"""Checks a pretraining config before any compute, and fills the fields derived from others.

Each section's own rules live in its typed dataclass (`ModelConfig`, `LossConfig`,
`MultitaskConfig`, `JointModelSpec`), built here once through `JointModelSpec.from_config`; this
module keeps only the rules of the pretraining run that cross sections (schedule, accumulation,
window length against the model's patches, data rates, augmentation). Every error names the
key, the value found and what was expected, so that a typo on the command line fails in a second
instead of after a corpus build and a compile.
"""

from __future__ import annotations

import ml_collections

from mujo_jax.facts.sites import site_ids
from mujo_jax.models import joint

ACCUM_MODES = ('exact', 'naive')


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise ValueError(f'invalid config: {message}')


def resolve_pretrain_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Validated copy of `config` with `data.imu_site_ids` filled in from `data.imu_sites`."""
  config = ml_collections.ConfigDict(config.to_dict())
  config.data.imu_site_ids = site_ids(config.data.imu_sites, where='data.imu_sites')
  spec = joint.JointModelSpec.from_config(config)
  config.modalities = spec.modalities
  for key in (
    'total_steps',
    'batch_size',
    'log_every_steps',
    'save_every_steps',
    'keep_checkpoints',
    'accum_steps',
  ):
    _check(
      isinstance(config[key], int) and config[key] > 0,
      f'{key}={config[key]!r}: expected a positive integer',
    )
  _check(
    config.batch_size % config.accum_steps == 0,
    f'batch_size={config.batch_size} is not divisible by accum_steps={config.accum_steps}',
  )
  _check(
    config.accum_mode in ACCUM_MODES,
    f'accum_mode={config.accum_mode!r}: expected one of {ACCUM_MODES}',
  )
  _check(config.window_s > 0, f'window_s={config.window_s}: expected > 0')
  for rate in ('imu_rate_hz', 'pose_fps', 'video_fps'):
    _check(config.data[rate] > 0, f'data.{rate}={config.data[rate]}: expected > 0')
  for key, patch in (
    ('imu_rate_hz', spec.model.imu_patch),
    ('pose_fps', spec.model.pose_patch),
    ('video_fps', spec.model.video_tubelet[0]),
  ):
    samples = config.window_s * config.data[key]
    _check(
      abs(samples - round(samples)) < 1e-6 and round(samples) % patch == 0,
      f'window_s={config.window_s} at data.{key}={config.data[key]} gives {samples} samples, '
      f'not a multiple of the model patch {patch}',
    )
  _check(config.data.num_workers >= 0, f'data.num_workers={config.data.num_workers}: expected >= 0')
  for rate in ('imu_rotation_deg', 'imu_scale', 'site_dropout', 'single_site', 'modality_dropout'):
    _check(config.augment[rate] >= 0, f'augment.{rate}={config.augment[rate]}: expected >= 0')
  _check(
    config.augment.site_dropout < 1 and config.augment.modality_dropout < 1,
    'augment.site_dropout and augment.modality_dropout must be < 1',
  )
  _check(
    config.augment.single_site <= 1,
    f'augment.single_site={config.augment.single_site}: expected a probability <= 1',
  )
  return config
