"""MyoGym evaluation windows in the batch schema, from the TFDS-built dataset read by name.

`tfds build tfds_builders/myogym --manual_dir=... --data_dir=D` first; `windows(D)` then cuts
every person's stream by `recordings.windows`' rules (the one rule set of every continuous
downstream dataset): `window_s` windows every `hop_s` at 50 Hz, resampled to `imu_rate_hz`
with `facts.resample`, labelled by the centre sample. One site, `right_forearm` (the Myo's IMU);
no EMG (not a batch-schema modality).

NULL (file id 99: between sets) is ~77 % of the samples. By default a window whose centre is
NULL is dropped and counted (`counts['dropped_unlabelled']`), as for MHEALTH's null class, and
the classes are the 30 exercises (class index = file id - 1). `include_null=True` keeps NULL as
class 0 of 31 (`myogym_layout.LABEL_NAMES`, exercise k = class k), the 31-class task that
public MyoGym loaders build.

`group` is the person (1..10): leave-one-person-out (`myogym_layout.LOSO_FOLDS`) or any
subject-wise k-fold is group-wise cross-validation.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from mujo_jax.data import recordings
from mujo_jax.facts import myogym_layout as layout

NAME = 'myogym'


def load_recordings(
  data_dir: str | None, *, include_null: bool = False
) -> list[recordings.Recording]:
  """One `recordings.Recording` per person; labels as class indices (NULL -> -1 unless kept)."""
  source = tfds.data_source(NAME, split='train', data_dir=data_dir)
  out = []
  for index in range(len(source)):
    example = source[index]
    stored = np.asarray(example['label'], np.int64)  # 0 = NULL, k = exercise k
    out.append(
      recordings.Recording(
        imu=np.asarray(example['imu']),
        present=np.asarray(example['present'], bool),
        labels=stored if include_null else stored - 1,
        subject=int(example['subject']),
        rate_hz=layout.RATE_HZ,
      )
    )
  return out


def windows(
  data_dir: str | None,
  *,
  window_s: float = 5.0,
  hop_s: float = 2.5,
  imu_rate_hz: float = 50.0,
  include_null: bool = False,
) -> dict[str, object]:
  """Evaluation windows of all ten persons in the batch schema (`recordings.windows`' dict).

  Args:
    data_dir: TFDS data directory holding the built `myogym` (None: TFDS' default).
    window_s, hop_s: window length and hop (s).
    imu_rate_hz: output IMU rate (the stored rate is 50 Hz).
    include_null: keep NULL windows as class 0 of 31 instead of dropping them.

  Returns:
    `imu` (N, T, 1, 6) float32, `imu_sites` (N, 1) bool, `label` (N,) int32 into
    `class_names` (the 30 exercises, or NULL + 30), `group` (N,) int32 person, `class_names`,
    `sites` (('right_forearm',)), `counts`.
  """
  rules = recordings.WindowRules(window_s=window_s, hop_s=hop_s, imu_rate_hz=imu_rate_hz)
  names = layout.LABEL_NAMES if include_null else layout.CLASS_NAMES
  people = load_recordings(data_dir, include_null=include_null)
  return recordings.windows(people, layout.SITES, names, rules)
