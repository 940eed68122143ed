r"""Multitask strategies × contrastive losses: which way of mixing the pairs trains best.

  python -m mujo_jax.main --config=configs/experiments/strategies.py --workdir=W
  python -m mujo_jax.main --config=configs/experiments/strategies.py:runlocal --workdir=W
  python -m mujo_jax.main --config=configs/experiments/strategies.py:small --workdir=W
  python -m mujo_jax.main --config=configs/experiments/strategies.py --workdir=W \
      --config.print_commands=True

Members: joint, round_robin, random_pair, anchored on each modality and uncertainty weighting,
each with the CLIP and the SigLIP loss (`<strategy>_<loss>`, 16 members), on all four
modalities. Variants (after the colon): size=tiny|small|base, seeds=N (pretraining seeds
0..N-1; default 3, 1 with runlocal, 2 with small), steps=N (pretraining steps; 0:
configs/pretrain.py's), datasets=synthetic|synthetic+basic_motions+deepmimic (the evaluation's
datasets), members=a+b (a subset), runlocal (tiny model, tiny corpus, 10 steps: the CI run,
.ci/run), small (tiny model, default corpus, 300 steps, 2 seeds, the real-data sets too: ~15
min as two processes on two idle CPU cores, longer when shared;
configs/experiments/_common.py `SMALL`).
"""

from __future__ import annotations

import ml_collections

from configs.common import parse_arg
from configs.experiments import _common
from mujo_jax import multitask

MODALITIES = ('imu', 'pose', 'text', 'video')
LOSSES = ('clip', 'siglip')


def members() -> dict[str, str]:
  variants = {}
  for strategy in multitask.STRATEGIES:
    anchors = MODALITIES if strategy == 'anchored' else ('',)
    for anchor in anchors:
      for loss in LOSSES:
        name = f'{strategy}_{anchor}_{loss}' if anchor else f'{strategy}_{loss}'
        variant = (
          f'strategy={strategy},anchor={anchor},loss={loss}'
          if anchor
          else (f'strategy={strategy},loss={loss}')
        )
        variants[name] = variant
  return variants


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variant = arg or ''
  arg = parse_arg(arg, **_common.shared_arg_defaults())
  return _common.experiment_config('strategies', members(), arg, variant)
