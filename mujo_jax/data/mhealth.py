"""MHEALTH evaluation windows, from the TFDS-built dataset read by name.

`tfds build tfds_builders/mhealth --manual_dir=... --data_dir=D` first; `windows(D)` then cuts
every subject's recording by `recordings.windows`' rules (the one rule set of every continuous
downstream dataset): `window_s` windows every `hop_s` at 50 Hz, resampled to `imu_rate_hz` with
`facts.resample`, labelled by the centre sample; windows whose centre is the null class (file
label 0) are dropped and counted. Short gaps of missing samples are filled, longer ones make the
site absent in that window.

Sites: `chest`, `left_ankle`, `right_forearm`. The chest unit has no gyroscope, and the model
reads acc and gyr of a site together, so the chest is absent (`imu_sites` False) in every window:
its accelerometer is in the built dataset (`acc_present`) but not offered as half a site.
`counts['absent_site_windows']` therefore includes one per window for the chest.

`group` is the subject (1..10): leave-one-subject-out, the literature's protocol
(`mhealth_layout.LOSO_FOLDS`), is group-wise cross-validation with 10 folds.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from mujo_jax.data import recordings
from mujo_jax.facts import mhealth_layout as layout

NAME = 'mhealth'


def load_recordings(data_dir: str) -> list[recordings.Recording]:
  """One `recordings.Recording` per subject of the built dataset, labels as class indices."""
  source = tfds.data_source(NAME, split='train', data_dir=data_dir)
  out = []
  for index in range(len(source)):
    example = source[index]
    labels = np.asarray(example['label'], np.int64) - 1  # file id -> class index, null -> -1
    out.append(
      recordings.Recording(
        imu=np.asarray(example['imu']),
        present=np.asarray(example['present'], bool),
        labels=labels,
        subject=int(example['subject']),
        rate_hz=layout.RATE_HZ,
      )
    )
  return out


def windows(
  data_dir: str, *, window_s: float = 5.0, hop_s: float = 2.5, imu_rate_hz: float = 50.0
) -> dict[str, object]:
  """Evaluation windows of all ten subjects in the batch schema (`recordings.windows`' dict).

  Returns `imu` (N, T, 3, 6) float32, `imu_sites` (N, 3) bool (the chest always False),
  `label` (N,) int32 into `class_names` (MHEALTH's 12 activities), `group` (N,) int32 subject,
  `class_names`, `sites`, `counts`.
  """
  rules = recordings.WindowRules(window_s=window_s, hop_s=hop_s, imu_rate_hz=imu_rate_hz)
  return recordings.windows(load_recordings(data_dir), layout.SITES, layout.CLASS_NAMES, rules)
