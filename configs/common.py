"""Helpers shared by the config files (big_vision style `file.py:k=v,k=v` variants)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import ml_collections


def _parse_value(key: str, text: str, default: Any) -> Any:
  """Converts `text` to the type of `default` so `size=tiny` and `batch_size=8` both work."""
  if isinstance(default, bool):
    lowered = text.lower()
    if lowered in ('1', 'true', 'yes', ''):
      return True
    if lowered in ('0', 'false', 'no'):
      return False
    raise ValueError(f'config argument {key}={text!r}: expected a boolean (true/false)')
  if isinstance(default, int):
    try:
      return int(text)
    except ValueError:
      raise ValueError(f'config argument {key}={text!r}: expected an integer') from None
  if isinstance(default, float):
    try:
      return float(text)
    except ValueError:
      raise ValueError(f'config argument {key}={text!r}: expected a number') from None
  return text


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `k=v,k=v` (the part after `:` in `--config=file.py:...`) against `defaults`.

  A bare `k` means `k=true` (`runlocal`). Unknown keys are rejected with the list of known ones
  so that a typo never silently falls back to a default.
  """
  values = dict(defaults)
  for item in filter(None, (arg or '').split(',')):
    key, _, text = item.partition('=')
    key = key.strip()
    if key not in defaults:
      raise ValueError(f'unknown config argument {key!r} in {arg!r}; known: {sorted(defaults)}')
    values[key] = _parse_value(key, text.strip(), defaults[key])
  return ml_collections.ConfigDict(values)


def linear_probe_settings(
  *,
  datasets: str = 'synthetic',
  seeds: int = 3,
  supervised: bool = True,
  quick: bool = False,
  runlocal: bool = False,
) -> ml_collections.ConfigDict:
  """Settings of the linear-probe evaluator (mujo_jax/eval/linear_probe.py).

  One function for the `linear_probe` job (configs/linear_probe.py) and the evaluators that
  pretraining runs (configs/pretrain.py `evals`), so that the demo's end-of-run probe and the
  job report the same number for the same checkpoint, modality, label budget and seed: the job
  run with `:quick` (and `runlocal` if the run had it) repeats the demo's probe exactly.

  `quick`: the cheap configuration pretraining ends with: the IMU set only, 2 labels per class
  and all (at most 1,500) training windows, no baselines but random init, no plots.
  """
  config = ml_collections.ConfigDict()
  config.datasets = tuple(datasets.split('+'))

  # ---------------------------------------------------------------- data
  # Synthetic corpus: fit on `train`, choose C on `validation`, report on held-out subjects.
  config.synthetic = ml_collections.ConfigDict()
  config.synthetic.tfds_data_dir = ml_collections.config_dict.placeholder(str)  # None: as W's.
  config.synthetic.builder_config = ml_collections.config_dict.placeholder(str)  # None: as W's.
  config.synthetic.eval_splits = ('test',)
  config.synthetic.max_windows = ml_collections.config_dict.placeholder(int)  # Per split.
  # MM-Fit: the TFDS data_dir holding the built `mmfit` dataset.
  config.mmfit_data_dir = ml_collections.config_dict.placeholder(str)
  config.mmfit = ml_collections.ConfigDict()
  config.mmfit.eval_splits = ('test', 'unseen_test')
  config.mmfit.sites = ('sw_l', 'sw_r', 'sp_r', 'eb_l')  # Devices worn in all 21 workouts.
  config.mmfit.stride_s = 0.2  # The reference evaluation stride.
  config.mmfit.max_windows = ml_collections.config_dict.placeholder(int)  # Per split.
  # Real recordings shipped in PyPI packages (the `eval-real` extra): sktime's BasicMotions
  # smartwatch set, scored by recording-wise 5-fold cross-validation (budgets count
  # recordings), and pybullet's DeepMimic motion capture with its virtual IMU (15 clips: too
  # few per class for a probe, so retrieval and zero-shot only).
  config.basic_motions = ml_collections.ConfigDict()
  config.basic_motions.hop_s = 2.5  # 3 windows of 5 s a 10 s recording.
  config.basic_motions.folds = 5
  config.basic_motions.budget_unit = 'group'  # 2/class = 2 labelled recordings of each class.
  # seglearn's smartwatch recordings of 7 shoulder exercises, both arms, 10 subjects: subject-wise
  # 5-fold cross-validation, budgets count recordings (a set of 20 repetitions).
  config.shoulder_watch = ml_collections.ConfigDict()
  config.shoulder_watch.hop_s = 2.5
  config.shoulder_watch.folds = 5
  config.shoulder_watch.budget_unit = 'recording'
  config.deepmimic = ml_collections.ConfigDict()
  config.deepmimic.hop_s = 1.0
  config.deepmimic.folds = 0
  config.deepmimic.budget_unit = 'group'
  # Downstream sets the user downloads and builds (`tfds build tfds_builders/<name>
  # --manual_dir=... --data_dir=D`): `data_dir` is D; subject-wise 5-fold cross-validation
  # (budgets count subjects' windows of a class).
  for name in ('mhealth', 'motionsense', 'pamap2', 'myogym'):
    config[name] = ml_collections.ConfigDict()
    config[name].data_dir = ml_collections.config_dict.placeholder(str)
    config[name].hop_s = 2.5
    config[name].folds = 5
    config[name].budget_unit = 'window'

  # ---------------------------------------------------------------- probes
  # Label budgets: fractions of each class's training windows, and fixed counts per class.
  config.fractions = (0.01, 0.02, 0.05, 0.10, 0.20, 0.50, 1.0)
  config.labels_per_class = ()
  config.seeds = tuple(range(seeds))
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

  # ---------------------------------------------------------------- baselines
  config.baselines = ml_collections.ConfigDict()
  # The same probe on the run's own initial weights (a randomly initialised model).
  config.baselines.random_init = True
  config.baselines.supervised = supervised  # Same encoders + linear head, from scratch.
  # The same probe on per-channel statistics of the raw IMU (eval/statistics.py).
  config.baselines.statistics = True
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

  if quick:
    config.modality_sets = ('imu',)
    config.fractions = (1.0,)
    config.labels_per_class = (2,)  # The low-label regime MuJo is about.
    config.seeds = tuple(range(5))
    config.synthetic.max_windows = 1500  # Evenly spaced windows of each split.
    config.baselines.supervised = False
    config.baselines.statistics = False
    config.zero_shot = config.retrieval = config.robustness = config.plots = False
  if runlocal:
    config.fractions = (0.2, 1.0) if not quick else config.fractions
    config.seeds = (0,) if not quick else config.seeds
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


def from_dataclass(instance: Any) -> ml_collections.ConfigDict:
  """`dataclasses.asdict(instance)` as a ConfigDict whose None fields stay overridable.

  A None default (e.g. `model.width`: the size preset's value) becomes a typed
  `placeholder`, so that `--config.model.width=256` parses as an int; the dataclass is the one
  owner of the default, the config only mirrors it.
  """
  hints = typing.get_type_hints(type(instance))
  section = ml_collections.ConfigDict()
  for key, value in dataclasses.asdict(instance).items():
    if value is None:
      kinds = [
        typing.get_origin(t) or t for t in typing.get_args(hints[key]) if t is not type(None)
      ]
      if len(kinds) != 1:
        raise TypeError(
          f'{type(instance).__name__}.{key}: a None default needs a type '
          f'`T | None`, got {hints[key]}'
        )
      value = ml_collections.config_dict.placeholder(kinds[0])
    section[key] = value
  return section
