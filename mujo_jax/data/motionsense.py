"""MotionSense evaluation windows in the batch schema, from the TFDS-built dataset.

The builder (`tfds_builders/motionsense`, built beforehand with `tfds build`) stores one example
per subject and trial at 50 Hz with the phone's IMU at `right_thigh`. Windows follow the one
rule for continuous labelled recordings (`data.recordings.windows`: centre-sample label, short
gaps filled and counted, longer ones mask the site, resampled with `facts.resample`). Every
sample of a trial carries the trial's activity, so no window is unlabelled; a window never
spans two trials (each trial is its own recording).

Protocols: `group` is the subject (subject-wise folds keep a person together); `split` marks
the authors' trial-wise split (long trials 1-9 'train', short trials 11-16 'test', every subject
in both), and `trial` the trial of each window.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from mujo_jax.data import recordings
from mujo_jax.facts import motionsense_layout as layout

NAME = 'motionsense'


def windows(
  data_dir: str | None,
  *,
  window_s: float = 5.0,
  hop_s: float = 2.5,
  imu_rate_hz: float = 50.0,
) -> dict[str, object]:
  """Every trial's windows: `recordings.windows`' dict plus `trial` (N,) and `split` (N,).

  Args:
    data_dir: TFDS data directory holding the built `motionsense` (None: TFDS' default).
    window_s, hop_s: window length and hop (s).
    imu_rate_hz: output IMU rate (the stored rate is 50 Hz).

  Returns:
    `imu` (N, T, 1, 6) float32, `imu_sites` (N, 1) bool, `label` (N,) int32 into
    `class_names`, `group` (N,) int32 subject codes, `trial` (N,) int32, `split` (N,) str
    ('train' | 'test'), `class_names`, `sites` (('right_thigh',)), `counts` (summed over
    trials, plus `recordings` and `short_recordings`: trials shorter than one window).
  """
  rules = recordings.WindowRules(window_s=window_s, hop_s=hop_s, imu_rate_hz=imu_rate_hz)
  builder = tfds.builder(NAME, data_dir=data_dir)
  rate_hz = float(builder.info.metadata['rate_hz'])
  sites = tuple(builder.info.metadata['sites'])
  class_names = tuple(builder.info.features['activity'].names)
  by_trial: dict[int, list[recordings.Recording]] = {}
  short = 0
  for split in layout.SPLITS:
    source = tfds.data_source(NAME, split=split, data_dir=data_dir)
    for index in range(len(source)):
      example = source[index]
      if len(example['imu']) < round(window_s * rate_hz):
        short += 1
        continue
      by_trial.setdefault(int(example['trial']), []).append(
        recordings.Recording(
          imu=example['imu'],
          present=example['present'],
          labels=example['label'],
          subject=int(example['subject']),
          rate_hz=rate_hz,
        )
      )
  if not by_trial:
    raise ValueError(f'MotionSense in {data_dir}: no recording as long as one {window_s} s window')
  parts = [
    (trial, recordings.windows(recs, sites, class_names, rules))
    for trial, recs in sorted(by_trial.items())
  ]
  counts = {key: sum(part['counts'][key] for _, part in parts) for key in parts[0][1]['counts']}
  counts['recordings'] = sum(len(recs) for recs in by_trial.values())
  counts['short_recordings'] = short
  trial = np.concatenate([np.full(len(part['label']), t, np.int32) for t, part in parts])
  test = set(layout.SPLITS['test'])
  return {
    'imu': np.concatenate([part['imu'] for _, part in parts]),
    'imu_sites': np.concatenate([part['imu_sites'] for _, part in parts]),
    'label': np.concatenate([part['label'] for _, part in parts]),
    'group': np.concatenate([part['group'] for _, part in parts]),
    'trial': trial,
    'split': np.where(np.isin(trial, list(test)), 'test', 'train'),
    'class_names': class_names,
    'sites': sites,
    'counts': counts,
  }
