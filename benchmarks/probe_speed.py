"""Times the linear probes of `configs/linear_probe.py` on MM-Fit-sized embeddings (CPU).

What `linear_probe.run` does after embedding: for each default modality set (imu, each of the 4
MM-Fit IMU sites, pose, imu+pose), each label fraction (1 … 100 %) and each of 3 seeds, fit the
logistic-regression probe with C chosen on the validation split, and score it on test and
unseen_test — through the same function (`linear_probe.fit_and_score`). The embeddings are
random but class-structured (class means + a per-subject offset + noise, unit norm, labels in
runs as in a workout, half of them non_activity), so the solver does realistic work; embedding
time is not included.

Prints one JSON line per figure: {"name": ..., "value": ..., "unit": ...}.

  python benchmarks/probe_speed.py                          # ~40k training windows
  python benchmarks/probe_speed.py --train_windows=105000   # all train windows at 0.2 s stride
"""

from __future__ import annotations

import json
import os
import time
import types

import numpy as np
from absl import app, flags

from configs import linear_probe as linear_probe_config
from mujo_jax.eval import linear_probe, probe
from mujo_jax.facts import activities

_TRAIN = flags.DEFINE_integer('train_windows', 40_000, 'Windows of the fit split.')
_VALIDATION = flags.DEFINE_integer('validation_windows', 12_000, 'Windows of the validation split.')
_TEST = flags.DEFINE_integer('test_windows', 12_000, 'Windows of each evaluation split.')
_DIM = flags.DEFINE_integer('embed_dim', 128, 'Embedding width.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the synthetic embeddings.')
_JOBS = flags.DEFINE_integer('n_jobs', 1, 'Worker processes (-1: one per CPU core).')

SITES = ('left_wrist', 'right_wrist', 'right_thigh', 'head')  # MM-Fit's default devices.
NOISE = {'imu': 1.0, 'pose': 1.2, **{f'imu:{s}': 1.6 for s in SITES}}


def _emit(name: str, value: float, unit: str, **extra) -> None:
  print(
    json.dumps({'name': name, 'value': round(float(value), 3), 'unit': unit, **extra}), flush=True
  )


def _labels(count: int, rng: np.random.Generator) -> np.ndarray:
  """Runs of 20–80 windows (a set at 0.2 s stride), every other run non_activity."""
  labels = []
  exercise = True
  while len(labels) < count:
    label = rng.integers(0, activities.NON_ACTIVITY) if exercise else activities.NON_ACTIVITY
    labels += [label] * int(rng.integers(20, 80))
    exercise = not exercise
  return np.asarray(labels[:count], np.int64)


def _split(
  count: int, means: dict[str, np.ndarray], rng: np.random.Generator, subjects: int
) -> dict[str, np.ndarray]:
  labels = _labels(count, rng)
  subject = np.repeat(np.arange(subjects), int(np.ceil(count / subjects)))[:count]
  out = {'label': labels, 'group': subject}
  for key, class_means in means.items():
    offsets = rng.normal(scale=0.5, size=(subjects, class_means.shape[1]))
    x = (
      class_means[labels]
      + offsets[subject]
      + rng.normal(scale=NOISE[key], size=(count, class_means.shape[1]))
    )
    out[key] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
  return out


def main(argv):
  del argv
  config = linear_probe_config.get_config()
  rng = np.random.default_rng(_SEED.value)
  num_classes = len(activities.ACTIVITIES)
  means = {key: rng.normal(scale=0.35, size=(num_classes, _DIM.value)) for key in NOISE}
  splits = {
    'train': _split(_TRAIN.value, means, rng, 10),
    'validation': _split(_VALIDATION.value, means, rng, 3),
    'test': _split(_TEST.value, means, rng, 3),
    'unseen_test': _split(_TEST.value, means, rng, 5),
  }
  data = types.SimpleNamespace(
    fit_split='train', validation_split='validation', eval_splits=('test', 'unseen_test')
  )
  sets, _ = probe.expand_modality_sets(config.modality_sets, ('imu', 'pose'), SITES)
  fractions = probe.check_fractions(config.fractions)
  seeds = tuple(config.seeds)
  settings = linear_probe.probe_settings(config)

  start = time.perf_counter()
  subsets = {}
  for seed in seeds:
    for fraction, indices in probe.stratified_subsets(
      splits['train']['label'], fractions, seed
    ).items():
      subsets[(seed, fraction)] = indices
  rows = linear_probe.fit_and_score(
    splits, sets, subsets, fractions, seeds, data, settings, _JOBS.value
  )
  seconds = time.perf_counter() - start

  detail = {
    'train_windows': _TRAIN.value,
    'embed_dim': _DIM.value,
    'modality_sets': [s.name for s in sets],
    'fractions': list(fractions),
    'seeds': list(seeds),
    'c_grid': list(settings.c_grid),
    'tol': settings.tol,
    'n_jobs': _JOBS.value,
    'cpu_count': os.cpu_count(),
  }
  _emit('probe_all_fractions_seeds_sets_seconds', seconds, 's', **detail)
  _emit('probe_rows', len(rows), 'rows')
  _emit('probe_not_converged_fits', sum(not r['converged'] for r in rows), 'rows')
  for name in [s.name for s in sets]:
    full = [
      r['macro_f1']
      for r in rows
      if r['modality_set'] == name and r['fraction'] == 1.0 and r['split'] == 'test'
    ]
    low = [
      r['macro_f1']
      for r in rows
      if r['modality_set'] == name and r['fraction'] == 0.02 and r['split'] == 'test'
    ]
    _emit(f'macro_f1_test/{name}/2%', np.mean(low), 'F1')
    _emit(f'macro_f1_test/{name}/100%', np.mean(full), 'F1')


if __name__ == '__main__':
  app.run(main)
