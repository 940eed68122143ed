"""Checks a config before any compute, and fills the fields derived from others.

Every error names the key, the value found and what was expected, so that a typo on the command
line fails in a second instead of after a corpus build and a compile.
"""

from __future__ import annotations

import ml_collections

MODALITIES = ('imu', 'pose', 'video', 'text')
LOSSES = ('clip', 'siglip')
STRATEGIES = ('joint', 'round_robin', 'random_pair', 'anchored', 'uncertainty')
SIZES = ('tiny', 'small', 'base')


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise ValueError(f'invalid config: {message}')


def resolve_pretrain_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Validated copy of `config` with `data.imu_site_ids` filled in from `data.imu_sites`."""
  from mujo_jax.facts import virtual_imu  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict(config.to_dict())
  modalities = tuple(config.modalities)
  _check(len(modalities) >= 2 and len(set(modalities)) == len(modalities)
         and set(modalities) <= set(MODALITIES),
         f'modalities={modalities}: expected 2 or more distinct names among {MODALITIES}')
  config.modalities = modalities
  _check(config.loss.type in LOSSES, f'loss.type={config.loss.type!r}: expected one of {LOSSES}')
  _check(config.multitask.strategy in STRATEGIES,
         f'multitask.strategy={config.multitask.strategy!r}: expected one of {STRATEGIES}')
  _check(config.model.size in SIZES, f'model.size={config.model.size!r}: expected one of {SIZES}')
  _check(config.multitask.strategy != 'anchored' or config.multitask.anchor in modalities,
         f'multitask.anchor={config.multitask.anchor!r}: strategy anchored needs one of '
         f'{modalities}')
  for key in ('total_steps', 'batch_size', 'log_every_steps', 'save_every_steps',
              'keep_checkpoints', 'accum_steps'):
    _check(isinstance(config[key], int) and config[key] > 0,
           f'{key}={config[key]!r}: expected a positive integer')
  _check(config.batch_size % config.accum_steps == 0,
         f'batch_size={config.batch_size} is not divisible by accum_steps={config.accum_steps}')
  _check(config.accum_mode in ('exact', 'naive'),
         f"accum_mode={config.accum_mode!r}: expected 'exact' or 'naive'")
  _check(config.window_s > 0, f'window_s={config.window_s}: expected > 0')
  for key, patch in (('imu_rate_hz', config.model.imu_patch), ('pose_fps', config.model.pose_patch),
                     ('video_fps', config.model.video_tubelet[0])):
    samples = config.window_s * config.data[key]
    _check(abs(samples - round(samples)) < 1e-6 and round(samples) % patch == 0,
           f'window_s={config.window_s} at data.{key}={config.data[key]} gives {samples} samples, '
           f'not a multiple of the model patch {patch}')
  unknown_sites = [s for s in config.data.imu_sites if s not in virtual_imu.SITES]
  _check(not unknown_sites, f'data.imu_sites has unknown sites {unknown_sites}; '
         f'known: {list(virtual_imu.SITES)}')
  _check(config.model.video_input in ('frames', 'features'),
         f"model.video_input={config.model.video_input!r}: expected 'frames' or 'features'")
  for rate in ('imu_rate_hz', 'pose_fps', 'video_fps'):
    _check(config.data[rate] > 0, f'data.{rate}={config.data[rate]}: expected > 0')
  _check(config.data.num_workers >= 0, f'data.num_workers={config.data.num_workers}: expected >= 0')
  for rate in ('imu_rotation_deg', 'imu_scale', 'site_dropout', 'modality_dropout'):
    _check(config.augment[rate] >= 0, f'augment.{rate}={config.augment[rate]}: expected >= 0')
  _check(config.augment.site_dropout < 1 and config.augment.modality_dropout < 1,
         'augment.site_dropout and augment.modality_dropout must be < 1')
  config.data.imu_site_ids = tuple(virtual_imu.SITES.index(s) for s in config.data.imu_sites)
  return config
