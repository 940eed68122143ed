r"""Evaluation of a pretraining checkpoint: linear probes, baselines, zero-shot, retrieval.

  python -m mujo_jax.main --config=configs/linear_probe.py --config.checkpoint=W --workdir=E
  python -m mujo_jax.main --config=configs/linear_probe.py:datasets=synthetic+mmfit \
      --config.checkpoint=W --config.mmfit_data_dir=~/tensorflow_datasets --workdir=E

W is a pretraining workdir (`config.json` + `checkpoints/`; `checkpoint_step=None` takes its
latest checkpoint) or a directory of exported weights (`config.json` + `params.npz`, e.g. the
shipped `mujo_jax/pretrained/wearables_small`). Results go to E: `probe_results.csv`,
`probe_results.md`, `zero_shot.csv`, `retrieval.csv`, `robustness.csv`, `probe_windows.npz`
(which training windows each fraction and seed used) and PNG plots.

Variants (after the colon): datasets=synthetic|mmfit|synthetic+mmfit, seeds=N (seeds 0..N-1),
supervised=true|false, quick (the probe pretraining ends with: IMU, 2 labels per class and all
training windows, random-init baseline only), runlocal (a seconds-long smoke run: few windows,
2 fractions, 1 seed). The settings are `configs.common.linear_probe_settings`.

Modality sets (`modality_sets`): `imu` (all the dataset's IMU sites), `imu:left_wrist` (one
site: the others are masked absent), `imu:left_wrist/right_wrist` (a subset of sites),
`imu:each` (expands to one set per site of the dataset), `pose`, `video`, and concatenations of
embeddings with `+`, e.g. `imu+pose`. A set naming a modality the dataset does not have (video
on MM-Fit) is skipped and listed in `probe_results.md`.
"""

from __future__ import annotations

import ml_collections

from configs.common import linear_probe_settings, parse_arg


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = parse_arg(arg, datasets='synthetic', seeds=3, supervised=True, quick=False, runlocal=False)
  config = linear_probe_settings(
    datasets=arg.datasets,
    seeds=arg.seeds,
    supervised=arg.supervised,
    quick=arg.quick,
    runlocal=arg.runlocal,
  )
  config.job = 'linear_probe'
  config.checkpoint = ''  # Pretraining workdir (required).
  config.checkpoint_step = ml_collections.config_dict.placeholder(int)  # None: the latest.
  config.mesh = (('data', -1),)
  return config
