r"""Modality ablation: pretraining with each subset of the modalities that contains IMU.

  python -m mujo_jax.main --config=configs/experiments/modalities.py --workdir=W
  python -m mujo_jax.main --config=configs/experiments/modalities.py:runlocal --workdir=W

Which partner modality teaches the IMU tower most: one member per subset of imu/pose/text/video
that contains imu and has at least two modalities (`imu+pose`, ..., `imu+pose+text+video`; 7
members), joint strategy. Variants (after the colon): those of configs/experiments/strategies.py
plus loss=clip|siglip.
"""

from __future__ import annotations

import itertools

import ml_collections

from configs.common import parse_arg
from configs.experiments import _common

PARTNERS = ('pose', 'text', 'video')


def members(loss: str) -> dict[str, str]:
  variants = {}
  for count in range(1, len(PARTNERS) + 1):
    for partners in itertools.combinations(PARTNERS, count):
      modalities = '+'.join(('imu', *partners))
      variants[modalities.replace('+', '_')] = f'modalities={modalities},loss={loss}'
  return variants


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variant = arg or ''
  arg = parse_arg(arg, loss='clip', **_common.shared_arg_defaults())
  return _common.experiment_config('modalities', members(arg.loss), arg, variant)
