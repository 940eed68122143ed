r"""Evaluation of a pretraining checkpoint: linear probes, baselines, zero-shot, retrieval.

  python -m mujo_jax.main --config=configs/linear_probe.py --config.checkpoint=W --workdir=E
  python -m mujo_jax.main --config=configs/linear_probe.py:datasets=synthetic+mmfit \
      --config.checkpoint=W --config.mmfit_data_dir=~/tensorflow_datasets --workdir=E

W is a pretraining workdir (`config.json` + `checkpoints/`); `checkpoint_step=None` takes its
latest checkpoint. Results go to E: `probe_results.csv`, `probe_results.md`, `zero_shot.csv`,
`retrieval.csv`, `robustness.csv`, `probe_windows.npz` (which training windows each fraction and
seed used) and PNG plots.

Variants (after the colon): datasets=synthetic|mmfit|synthetic+mmfit, seeds=N (seeds 0..N-1),
supervised=true|false, runlocal (a seconds-long smoke run: few windows, 2 fractions, 1 seed).

Modality sets (`modality_sets`): `imu` (all the dataset's IMU sites), `imu:left_wrist` (one
site: the others are masked absent), `imu:left_wrist/right_wrist` (a subset of sites),
`imu:each` (expands to one set per site of the dataset), `pose`, `video`, and concatenations of
embeddings with `+`, e.g. `imu+pose`. A set naming a modality the dataset does not have (video
on MM-Fit) is skipped and listed in `probe_results.md`.
"""

from __future__ import annotations

import ml_collections

from configs.common import parse_arg


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = parse_arg(arg, datasets='synthetic', seeds=3, supervised=True, runlocal=False)
  config = ml_collections.ConfigDict()
  config.job = 'linear_probe'
  config.checkpoint = ''  # Pretraining workdir (required).
  config.checkpoint_step = ml_collections.config_dict.placeholder(int)  # None: the latest.
  config.seed = 0  # Seeds the random-init baseline's parameters.
  config.datasets = tuple(arg.datasets.split('+'))

  # ---------------------------------------------------------------- data
  # Synthetic corpus: fit on `train`, choose C on `validation`, report on held-out subjects.
  config.synthetic = ml_collections.ConfigDict()
  config.synthetic.tfds_data_dir = ml_collections.config_dict.placeholder(str)  # None: as W's.
  config.synthetic.builder_config = ml_collections.config_dict.placeholder(str)  # None: as W's.
  config.synthetic.eval_splits = ('test',)
  config.synthetic.max_windows = ml_collections.config_dict.placeholder(int)  # Per split.
  # MM-Fit (issue 4): the TFDS data_dir holding the built `mmfit` dataset.
  config.mmfit_data_dir = ml_collections.config_dict.placeholder(str)
  config.mmfit = ml_collections.ConfigDict()
  config.mmfit.eval_splits = ('test', 'unseen_test')
  config.mmfit.sites = ('sw_l', 'sw_r', 'sp_r', 'eb_l')  # Devices worn in all 21 workouts.
  config.mmfit.stride_s = 0.2  # The reference evaluation stride.
  config.mmfit.max_windows = ml_collections.config_dict.placeholder(int)  # Per split.

  # ---------------------------------------------------------------- probes
  config.fractions = (0.01, 0.02, 0.05, 0.10, 0.20, 0.50, 1.0)
  config.seeds = tuple(range(arg.seeds))
  config.modality_sets = ('imu', 'imu:each', 'pose', 'imu+pose')
  config.probe = ml_collections.ConfigDict()
  # Inverse L2 strengths tried; the best macro F1 on the validation split wins.
  config.probe.c_grid = (0.01, 0.1, 1.0, 10.0)
  config.probe.max_iter = 500
  # L-BFGS-B gradient tolerance. scikit-learn's default is 1e-4; 1e-3 takes ~40 % less time and
  # moved test macro F1 by <= 0.001 in benchmarks/probe_speed.py.
  config.probe.tol = 1e-3
  # Worker processes fitting modality sets in parallel (-1: one per CPU core). One process is
  # fastest on 2 busy cores (benchmarks/probe_speed.py: 25 s vs 35 s for 2); more help on
  # many idle cores.
  config.probe.n_jobs = 1
  config.embed_batch_size = 64  # Per device.
  config.mesh = (('data', -1),)

  # ---------------------------------------------------------------- baselines
  config.baselines = ml_collections.ConfigDict()
  config.baselines.random_init = True  # The same probe on a randomly initialised model.
  config.baselines.supervised = arg.supervised  # Same encoders + linear head, from scratch.
  config.supervised = ml_collections.ConfigDict()
  # Training from scratch costs a full optimisation per (set, fraction, seed): on a CPU the
  # baseline runs at a few fractions that bracket the curve.
  config.supervised.modality_sets = ('imu',)  # Subset of modality_sets.
  config.supervised.fractions = (0.02, 0.1, 1.0)  # Subset of fractions.
  config.supervised.steps = 200
  config.supervised.batch_size = 64
  config.supervised.learning_rate = 1e-3
  config.supervised.weight_decay = 1e-4

  # ---------------------------------------------------------------- other evaluations
  config.zero_shot = True  # Needs a text encoder in the checkpoint.
  config.retrieval = True
  config.retrieval_max_windows = 1000  # Evenly spaced windows of each evaluation split.
  config.robustness = True
  config.robustness_fraction = 1.0  # Label fraction of the probe that the table stresses.
  config.plots = True
  config.map_method = 'pca'  # 'pca' or 'tsne' for the 2-D map of the joint space.
  config.map_max_windows = 300

  if arg.runlocal:
    config.fractions = (0.2, 1.0)
    config.seeds = (0,)
    config.synthetic.max_windows = 64
    config.mmfit.max_windows = 256
    config.probe.c_grid = (0.1, 1.0)
    config.probe.max_iter = 200
    config.supervised.steps = 5
    config.supervised.fractions = config.fractions
    config.supervised.batch_size = 16
    config.embed_batch_size = 16
    config.retrieval_max_windows = 64
    config.map_max_windows = 64
  return config
