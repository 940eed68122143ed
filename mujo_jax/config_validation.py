"""Checks a pretraining config before any compute, and fills the fields derived from others.

Each section's own rules live in its typed dataclass (`ModelConfig`, `LossConfig`,
`MultitaskConfig`, `JointModelSpec`), built here once through `JointModelSpec.from_config`; this
module keeps only the rules of the pretraining run that cross sections (schedule, accumulation,
window length against the model's patches, data rates, augmentation). Every error names the
key, the value found and what was expected, so that a typo on the command line fails in a second
instead of after a corpus build and a compile.
"""

from __future__ import annotations

import math
from typing import Any

import ml_collections

from mujo_jax.facts.sites import check_sites, site_ids
from mujo_jax.models import joint

ACCUM_MODES = ('exact', 'naive')
# Keys of the sections this module checks (`configs/pretrain.py` writes them; the typed sections
# `model`, `loss`, `multitask` check their own keys). A key outside these is a typo that would
# otherwise silently leave the default in place; a key missing from an older config is fine.
# `data.imu_site_ids` (from `imu_sites`) and `data.activities` (the corpus's class names, written
# by training) are derived, not set by users.
SECTION_KEYS: dict[str, tuple[str, ...]] = {
  'data': (
    'name', 'tfds_data_dir', 'builder_config', 'train_split', 'eval_split', 'imu_sites',
    'imu_site_ids', 'imu_rate_hz', 'pose_fps', 'video_fps', 'video_size', 'video_feature_dim',
    'num_workers', 'prefetch_batches', 'windows_per_activity', 'activities',
  ),
  'augment': (
    'imu_rotation_deg', 'imu_scale', 'site_dropout', 'single_site', 'single_site_favoured',
    'single_site_favoured_share', 'modality_dropout', 'forearm_pronation_dropout',
    'backwards_pairs',
  ),
  'optim': ('learning_rate', 'warmup_steps', 'weight_decay', 'b1', 'b2', 'grad_clip_norm'),
}  # fmt: skip


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise ValueError(f'invalid config: {message}')


def _is_int(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
  """A finite int or float (not a bool, a string or NaN): comparisons on it cannot raise."""
  return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(
  key: str, value: Any, low: float, *, strict: bool = True, below: float | None = None
) -> None:
  """`value` is a finite number > low (or >= low), and < below when given."""
  ok = _is_number(value) and (value > low if strict else value >= low)
  ok = ok and (below is None or value < below)
  if below is not None:
    expected = f'a number in {"(" if strict else "["}{low:g}, {below:g})'
  else:
    expected = f'a number {">" if strict else ">="} {low:g}'
  _check(ok, f'{key}={value!r}: expected {expected}')


def _known_keys(config: ml_collections.ConfigDict) -> None:
  for section, known in SECTION_KEYS.items():
    values = config.get(section, None)
    unknown = sorted(k for k in (values or {}) if k not in known)
    _check(not unknown, f'config.{section} has unknown keys {unknown}; known: {list(known)}')


def resolve_pretrain_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Validated copy of `config` with `data.imu_site_ids` filled in from `data.imu_sites`."""
  config = ml_collections.ConfigDict(config.to_dict())
  _known_keys(config)
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
      _is_int(config[key]) and config[key] > 0,
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
  _check(
    isinstance(config.get('init_from', ''), str),
    f'init_from={config.get("init_from")!r}: expected a workdir path or ""',
  )
  _check(
    _is_number(config.window_s) and config.window_s > 0,
    f'window_s={config.window_s!r}: expected a positive number of seconds',
  )
  for rate in ('imu_rate_hz', 'pose_fps', 'video_fps'):
    _check(
      _is_number(config.data[rate]) and config.data[rate] > 0,
      f'data.{rate}={config.data[rate]!r}: expected a positive number (> 0)',
    )
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
  _check(
    _is_int(config.data.num_workers) and config.data.num_workers >= 0,
    f'data.num_workers={config.data.num_workers!r}: expected an integer >= 0',
  )
  _check(
    not config.augment.get('backwards_pairs', False) or config.batch_size % 2 == 0,
    f'augment.backwards_pairs needs an even batch_size, got {config.batch_size}',
  )
  group_size = config.data.get('windows_per_activity', 1)
  _check(
    _is_int(group_size) and group_size >= 1,
    f'data.windows_per_activity={group_size!r}: expected an integer >= 1',
  )
  _check(
    config.batch_size % group_size == 0,
    f'data.windows_per_activity={group_size} does not divide batch_size={config.batch_size}',
  )
  for rate in ('imu_rotation_deg', 'imu_scale', 'site_dropout', 'single_site', 'modality_dropout'):
    _number(f'augment.{rate}', config.augment[rate], 0.0, strict=False)
  _check(
    config.augment.site_dropout < 1 and config.augment.modality_dropout < 1,
    'augment.site_dropout and augment.modality_dropout must be < 1',
  )
  _check(
    config.augment.single_site <= 1,
    f'augment.single_site={config.augment.single_site}: expected a probability <= 1',
  )
  # Checkpoints written before these two keys existed are resolved too: absent means off.
  favoured = config.augment.get('single_site_favoured', ())
  share = config.augment.get('single_site_favoured_share', 0.0)
  _number('augment.single_site_favoured_share', share, 0.0, strict=False)
  _check(share <= 1, f'augment.single_site_favoured_share={share}: expected a probability <= 1')
  if favoured:
    check_sites(tuple(favoured), tuple(config.data.imu_sites), where='augment.single_site_favoured')
  pronation_dropout = config.augment.get('forearm_pronation_dropout', 0.0)
  _number('augment.forearm_pronation_dropout', pronation_dropout, 0.0, strict=False, below=1.0)
  _check_optim(config.get('optim', None))
  return config


def _check_optim(optim: ml_collections.ConfigDict | None) -> None:
  """AdamW with warm-up: a negative or NaN rate would train silently in the wrong direction."""
  if optim is None:
    return
  _number('optim.learning_rate', optim.get('learning_rate', 1e-3), 0.0)
  warmup = optim.get('warmup_steps', 0)
  _check(
    _is_int(warmup) and warmup >= 0,
    f'optim.warmup_steps={warmup!r}: expected an integer >= 0',
  )
  _number('optim.weight_decay', optim.get('weight_decay', 0.0), 0.0, strict=False)
  for beta in ('b1', 'b2'):
    _number(f'optim.{beta}', optim.get(beta, 0.9), 0.0, strict=False, below=1.0)
  _number('optim.grad_clip_norm', optim.get('grad_clip_norm', 1.0), 0.0)
