"""Writes synthetic subjects in MHEALTH's on-disk format (`facts.mhealth_layout`), file for file.

MHEALTH cannot be downloaded on our machines or in CI, yet its builder must be tested on files
shaped like the originals: `MHEALTHDATASET/mHealth_subject<k>.log`, one tab-separated row of 24
columns per 50 Hz sample, numbers with 5 significant digits as in the rows quoted publicly
(`-9.8184  0.009971  0.29563  0.0041863 ...`), an integer label last. What is written:

* A subject follows the README's protocol: the twelve activities in order L1..L12 (1 minute
  each, or 20 repetitions), each preceded by a stretch of the null class (label 0: standing
  about, walking to the next station), so that ~70 % of the rows are null like the real
  set's. Motion comes from `wearable_motion.generate` (the `wearables` vocabulary has every
  MHEALTH activity), one person per subject.
* Accelerometers (chest, left ankle, right lower arm): `virtual_imu.from_pose` specific force
  in m/s^2 incl. gravity, plus noise, divided by `ACC_UNIT_TO_M_S2`.
* Gyroscopes (ankle, arm only: the chest unit has none, so its columns do not exist): rad/s
  from the virtual IMU divided by `GYRO_UNIT_TO_RAD_S` (deg/s, the documented unit), plus a
  zero-rate offset of about 1 deg/s like the real first row, plus noise.
* Magnetometers: illustrative only, a fixed field in "local" units seen in a random sensor
  attitude per segment plus noise (the builder stores them as read; nothing depends on them).
* ECG leads 1 and 2 (mV): a QRS-like pulse train whose rate rises with the activity's
  intensity.

`write_mhealth` writes whole subjects; `make_subject` + `write_log` let tests change rows
before writing (plant a known rotation rate, break a line).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from mujo_jax.facts import mhealth_layout as layout
from mujo_jax.facts import virtual_imu
from mujo_jax.synthesis import io as io_lib
from mujo_jax.synthesis import motion as motion_lib
from mujo_jax.synthesis import wearable_motion

# MHEALTH class -> the `wearables` motion that plays it.
MOTION_OF_CLASS: dict[str, str] = {
  'Standing still': 'standing',
  'Sitting and relaxing': 'sitting',
  'Lying down': 'lying',
  'Walking': 'walking',
  'Climbing stairs': 'stairs_up',
  'Waist bends forward': 'waist_bends_forward',
  'Frontal elevation of arms': 'frontal_elevation_of_arms',
  'Knees bending (crouching)': 'knee_bends',
  'Cycling': 'cycling',
  'Jogging': 'jogging',
  'Running': 'running',
  'Jump front & back': 'jump_front_back',
}
assert tuple(MOTION_OF_CLASS) == layout.CLASS_NAMES
# Seconds per repetition used to size the 20-repetition exercises.
REP_S: dict[str, float] = {
  'Waist bends forward': 3.0,
  'Frontal elevation of arms': 2.5,
  'Knees bending (crouching)': 2.5,
  'Jump front & back': 1.0,
}
MIN_PIECE_S = 1.0  # Shorter segments are cut from a 1 s piece.
NULL_MOTIONS: tuple[str, ...] = ('standing', 'walking_slow')
HEART_RATE_BPM: dict[str, float] = {'Jogging': 130.0, 'Running': 150.0, 'Jump front & back': 140.0}
FORMATS: tuple[str, ...] = ('%.5g',) * (layout.NUM_COLUMNS - 1) + ('%d',)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubjectSettings:
  """Shape of a synthetic subject.

  Attributes:
    scale: multiplies every duration (1 = the real protocol; 0.05 makes ~6k-row test files).
    rows: target rows per subject before `scale`; None draws around `TOTAL_ROWS / 10`.
    max_segment_s: motion is generated in pieces of at most this length (the null class
      alternates standing and slow walking between pieces).
  """

  scale: float = 1.0
  rows: int | None = None
  max_segment_s: float = 20.0

  def __post_init__(self):
    if not 0 < self.scale <= 10:
      raise ValueError(f'scale must lie in (0, 10], got {self.scale}')
    if self.rows is not None and self.rows < 100:
      raise ValueError(f'rows must be None or >= 100, got {self.rows}')


def write_mhealth(
  out_dir: str | os.PathLike[str],
  subjects: Sequence[int] = layout.SUBJECTS,
  seed: int = 0,
  overwrite: bool = False,
  settings: SubjectSettings = SubjectSettings(),
) -> list[str]:
  """Writes `out_dir/MHEALTHDATASET/mHealth_subject<k>.log` for each subject; returns paths."""
  root = io_lib.ensure_empty_out_dir(out_dir, overwrite)
  folder = root / layout.FOLDER
  folder.mkdir()
  paths = []
  for subject in subjects:
    rng = np.random.default_rng([seed, 50, int(subject)])
    path = folder / layout.subject_file(subject)
    write_log(path, make_subject(int(subject), rng, settings))
    paths.append(str(path))
  return paths


def write_log(path: str | os.PathLike[str], rows: np.ndarray) -> None:
  """Writes (T, 24) rows as MHEALTH does: tab-separated, 5 significant digits, integer label."""
  np.savetxt(path, rows, fmt=list(FORMATS), delimiter='\t')


def _segments(rng: np.random.Generator, settings: SubjectSettings) -> list[tuple[int, float]]:
  """(label id, seconds) of the protocol: null before each activity, one after the last."""
  activity_s = []
  for name, kind, amount in layout.PROTOCOL:
    activity_s.append(
      float(amount) * REP_S[name] * rng.uniform(0.85, 1.15) if kind == 'reps' else float(amount)
    )
  rows = settings.rows or int(layout.TOTAL_ROWS / len(layout.SUBJECTS) * rng.uniform(0.85, 1.15))
  null_total_s = max(rows / layout.RATE_HZ - sum(activity_s), 13 * 2.0)
  weights = rng.dirichlet(np.full(13, 4.0))
  segments = []
  for index, seconds in enumerate(activity_s):
    segments.append((layout.NULL_LABEL, float(null_total_s * weights[index])))
    segments.append((index + 1, seconds))
  segments.append((layout.NULL_LABEL, float(null_total_s * weights[-1])))
  return [(label, seconds * settings.scale) for label, seconds in segments]


def _motion_imu(
  activity: str, subject: motion_lib.Subject, seconds: float, rng: np.random.Generator, max_s
) -> np.ndarray:
  """(T, 3, 6) virtual IMU at the MHEALTH sites and rate, generated in pieces of <= max_s."""
  total = max(2, int(round(seconds * layout.RATE_HZ)))
  pieces, made = [], 0
  while made < total:
    count = min(total - made, int(max_s * layout.RATE_HZ))
    count = max(count, int(MIN_PIECE_S * layout.RATE_HZ))  # the virtual IMU's smoothing
    name = activity if activity else NULL_MOTIONS[len(pieces) % len(NULL_MOTIONS)]
    motion = wearable_motion.generate(
      name, subject, count / layout.RATE_HZ, layout.RATE_HZ, rng=rng
    )
    pieces.append(virtual_imu.from_pose(motion.pose, layout.RATE_HZ, layout.SITES))
    made += pieces[-1].shape[0]
  return np.concatenate(pieces)[:total]


def _ecg(rng: np.random.Generator, bpm: np.ndarray) -> np.ndarray:
  """(T, 2) mV: Gaussian QRS pulses at the per-sample heart rate, lead 2 a scaled lead 1."""
  phase = np.cumsum(bpm / 60.0 / layout.RATE_HZ)
  distance = (phase - np.round(phase)) * (60.0 / np.maximum(bpm, 1.0))  # seconds to a beat
  lead_1 = 1.2 * np.exp(-0.5 * (distance / 0.02) ** 2) - 0.15 * np.exp(
    -0.5 * ((distance - 0.25) / 0.06) ** 2
  )
  lead_1 += 0.02 * rng.standard_normal(lead_1.shape)
  return np.stack([lead_1, 0.8 * lead_1 + 0.02 * rng.standard_normal(lead_1.shape)], axis=1)


def make_subject(
  subject: int, rng: np.random.Generator, settings: SubjectSettings = SubjectSettings()
) -> np.ndarray:
  """All rows (T, 24) of one subject's file, in the file's units, label ids in the last column."""
  person = motion_lib.sample_subject(np.random.default_rng([int(subject), 7]), int(subject))
  imus, labels, bpms, mags = [], [], [], []
  field = np.array([0.3, 0.0, -0.9])  # "local" magnetometer units, world frame
  for label, seconds in _segments(rng, settings):
    activity = MOTION_OF_CLASS[layout.CLASS_NAMES[label - 1]] if label else ''
    imu = _motion_imu(activity, person, seconds, rng, settings.max_segment_s)
    imus.append(imu)
    labels.append(np.full(imu.shape[0], label, np.int64))
    name = layout.CLASS_NAMES[label - 1] if label else ''
    bpms.append(np.full(imu.shape[0], HEART_RATE_BPM.get(name, 75.0)))
    attitude = np.linalg.qr(rng.standard_normal((2, 3, 3)))[0]
    mags.append(np.broadcast_to((attitude @ field)[None], (imu.shape[0], 2, 3)))
  imu = np.concatenate(imus).astype(np.float64)
  count = imu.shape[0]
  rows = np.zeros((count, layout.NUM_COLUMNS))
  for site, columns in enumerate(layout.ACC_COLUMNS):
    acc = imu[:, site, :3] + 0.03 * rng.standard_normal((count, 3))
    rows[:, columns] = acc / layout.ACC_UNIT_TO_M_S2
  for site, columns in enumerate(layout.GYRO_COLUMNS):
    if columns is None:
      continue
    offset = rng.normal(0.0, 0.7, 3) * layout.GYRO_UNIT_TO_RAD_S
    gyr = imu[:, site, 3:] + offset + 0.005 * rng.standard_normal((count, 3))
    rows[:, columns] = gyr / layout.GYRO_UNIT_TO_RAD_S
  mag = np.concatenate(mags) + 0.02 * rng.standard_normal((count, 2, 3))
  for index, columns in enumerate(layout.MAG_COLUMNS):
    rows[:, columns] = mag[:, index]
  rows[:, layout.ECG_COLUMNS] = _ecg(rng, np.concatenate(bpms))
  rows[:, layout.LABEL_COLUMN] = np.concatenate(labels)
  return rows
