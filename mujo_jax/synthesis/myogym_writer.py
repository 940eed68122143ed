"""Writes a synthetic `MyoGym.mat` in the published layout (`facts.myogym_layout`), quirks included.

MyoGym is distributed by its authors and cannot be fetched on our machines or in CI, yet its
builder must be tested on a file shaped like the original: one MATLAB v5 file whose `raw_data`
is N x 17 doubles (EMG timestamp, EMG 1..8, acc timestamp, acc xyz, gyro timestamp, gyro xyz)
and `raw_data_labels` N x 2 (exercise 1..30 or 99 = NULL, person 1..10), persons one after the
other. What is written, and why:

* A person's session: each exercise once, in id order, as one set of repetitions, with NULL
  (label 99: walking between stations, standing while changing weights) before each set and
  after the last. At full size a set lasts U(18, 32) s and a NULL gap U(45, 114) s, so ~77 % of
  the rows are NULL as in the paper, and 10 persons give about the published 2,017,041 rows.
* Motion: `wearable_motion.generate` with the `wearables` activity that is closest to the
  exercise (`MOTION_OF_EXERCISE`; several MyoGym classes share one, which only makes them
  harder to tell apart); the clean virtual IMU at `right_forearm` (`virtual_imu.from_pose`,
  specific force m/s^2 + rad/s) seen in the armband's frame (a per-person tilt of a few
  degrees: the band sits a little differently on every arm).
* Units and quantisation of the Myo SDK: acc in g = specific force / `ACC_G_TO_M_S2`, rounded to
  1/2048 g and clipped to +-16 g; gyro in deg/s = rad/s / `GYRO_DEG_S_TO_RAD_S` plus a bias of
  about 1 deg/s, rounded to 1/16 deg/s and clipped to +-2000 deg/s. White noise of 4 mg and
  0.3 deg/s before rounding.
* Timestamps in microseconds (what the printed values look like), packet arrival times: every
  person's clock starts at a random ~1.05e9-1.2e9 us and grows by 20 ms per sample with jitter
  (monotone, not evenly spaced). acc and gyro share a timestamp; EMG has its own.
* Buffering duplicates: after a share `duplicate_rate` of the samples the IMU sample is written
  again (same acc/gyro timestamps, values and labels) with a fresh EMG sample, as the real file
  holds; the builder must drop exactly these rows.
* EMG: integers on the Myo's int8 scale, Laplacian noise whose scale rises with the forearm's
  angular speed (muscles work while the arm moves), 0 for the first rows while EMG is not yet
  streaming.
* The file's other variables (`features_acc`, `features_gyro`, `features_labels`,
  `piirteet_emg`) as small placeholders of the right kind (per-window numbers and labels), so
  that a reader must pick its variables by name.

`write_myogym` writes the file; `make_person` + `write_mat` let tests change rows first.
"""

from __future__ import annotations

import dataclasses
import math
import os
import zipfile
from collections.abc import Sequence

import numpy as np
import scipy.io
from scipy.spatial.transform import Rotation

from mujo_jax.facts import myogym_layout as layout
from mujo_jax.facts import virtual_imu
from mujo_jax.synthesis import io as io_lib
from mujo_jax.synthesis import motion as motion_lib
from mujo_jax.synthesis import wearable_motion

# MyoGym exercise id -> the `wearables` activity whose forearm motion is closest.
MOTION_OF_EXERCISE: dict[int, str] = {
  1: 'dumbbell_rows',  # Seated Cable Rows
  2: 'dumbbell_rows',  # One-Arm Dumbbell Row
  3: 'dumbbell_shoulder_press',  # Wide-Grip Pulldown Behind The Neck
  4: 'dumbbell_rows',  # Bent Over Barbell Row
  5: 'dumbbell_rows',  # Reverse Grip Bent-Over Row
  6: 'dumbbell_shoulder_press',  # Wide-Grip Front Pulldown
  7: 'chest_flyes',  # Bench Press
  8: 'chest_flyes',  # Incline Dumbbell Flyes
  9: 'dumbbell_shoulder_press',  # Incline Dumbbell Press
  10: 'chest_flyes',  # Dumbbell Flyes
  11: 'pushups',  # Pushups
  12: 'chest_flyes',  # Leverage Chest Press
  13: 'chest_flyes',  # Close-Grip Barbell Bench Press
  14: 'tricep_extensions',  # Bar Skullcrusher
  15: 'tricep_extensions',  # Triceps Pushdown
  16: 'tricep_extensions',  # Bench Dip / Dip
  17: 'tricep_extensions',  # Overhead Triceps Extension
  18: 'tricep_extensions',  # Tricep Dumbbell Kickback
  19: 'bicep_curls',  # Spider Curl
  20: 'bicep_curls',  # Dumbbell Alternate Bicep Curl
  21: 'hammer_curls',  # Incline Hammer Curl
  22: 'bicep_curls',  # Concentration Curl
  23: 'bicep_curls',  # Cable Curl
  24: 'hammer_curls',  # Hammer Curl
  25: 'upright_rows',  # Upright Barbell Row
  26: 'lateral_shoulder_raises',  # Side Lateral Raise
  27: 'front_raises',  # Front Dumbbell Raise
  28: 'dumbbell_shoulder_press',  # Seated Dumbbell Shoulder Press
  29: 'arm_circles',  # Car Drivers
  30: 'reverse_flyes',  # Lying Rear Delt Raise
}
assert tuple(MOTION_OF_EXERCISE) == layout.EXERCISE_IDS
NULL_MOTIONS: tuple[str, ...] = ('walking_slow', 'standing')
ACC_NOISE_G = 4e-3
GYRO_NOISE_DEG_S = 0.3
ACC_RANGE_G = 16.0
GYRO_RANGE_DEG_S = 2000.0
SAMPLE_US = 1e6 / layout.RATE_HZ
# The published file's buffering duplicates: 2,017,041 rows, 1,608,998 after a public loader's
# drop_duplicates, i.e. 0.254 duplicates per distinct sample.
DUPLICATE_RATE = (layout.TOTAL_ROWS - 1_608_998) / 1_608_998
# Full-size durations (s): one set per exercise, NULL gaps around them.
SET_S = (18.0, 32.0)
NULL_S = (45.0, 114.0)
MAX_PIECE_S = 20.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class PersonSettings:
  """Shape of a synthetic person.

  Attributes:
    exercises: exercise ids done, in order (all 30 by default).
    set_s: seconds of each set; None draws U(`SET_S`) per set.
    null_s: seconds of each NULL gap; None draws U(`NULL_S`) per gap.
    duplicate_rate: buffered duplicate rows per distinct sample (the real file's by default).
    emg_off_rows: leading rows whose EMG is 0 (not streaming yet); None draws 20..100.
  """

  exercises: Sequence[int] = layout.EXERCISE_IDS
  set_s: float | None = None
  null_s: float | None = None
  duplicate_rate: float = DUPLICATE_RATE
  emg_off_rows: int | None = None

  def __post_init__(self):
    unknown = [e for e in self.exercises if e not in layout.EXERCISE_IDS]
    if unknown:
      raise ValueError(f'unknown MyoGym exercise ids {unknown}; expected 1..30')
    for name in ('set_s', 'null_s'):
      value = getattr(self, name)
      if value is not None and not value >= 1.0:
        raise ValueError(f'{name} must be None or >= 1 s, got {value}')
    if not 0 <= self.duplicate_rate < 1:
      raise ValueError(f'duplicate_rate must lie in [0, 1), got {self.duplicate_rate}')


@dataclasses.dataclass(frozen=True)
class Person:
  """One person's rows in the file's layout and the clean stream they were made from."""

  raw: np.ndarray  # (N, 17) float64, file units, duplicates included.
  labels: np.ndarray  # (N, 2) float64: exercise id, person id.
  duplicate: np.ndarray  # (N,) bool: the row repeats the previous row's IMU sample.


def write_myogym(
  out_dir: str | os.PathLike[str],
  *,
  subjects: Sequence[int] = layout.SUBJECTS,
  seed: int = 0,
  settings: PersonSettings = PersonSettings(),
  archive: bool = False,
  overwrite: bool = False,
) -> dict[int, Person]:
  """Writes `out_dir/MyoGym.mat` (or `MyoGym.zip` holding it) for `subjects`; returns them."""
  root = io_lib.ensure_empty_out_dir(out_dir, overwrite)
  people = {
    int(s): make_person(int(s), np.random.default_rng([seed, 1_701, int(s)]), settings)
    for s in subjects
  }
  path = root / layout.FILE_NAME
  write_mat(path, list(people.values()))
  if archive:
    with zipfile.ZipFile(root / 'MyoGym.zip', 'w', zipfile.ZIP_DEFLATED) as handle:
      handle.write(path, f'MyoGym/{layout.FILE_NAME}')
    path.unlink()
  return people


def write_mat(path: str | os.PathLike[str], people: Sequence[Person]) -> None:
  """Saves the persons' rows, in the given order, as the published variables (MATLAB v5)."""
  raw = np.concatenate([p.raw for p in people]) if people else np.zeros((0, layout.NUM_COLUMNS))
  labels = np.concatenate([p.labels for p in people]) if people else np.zeros((0, 2))
  scipy.io.savemat(
    path, {**_placeholder_features(raw, labels), 'raw_data': raw, 'raw_data_labels': labels}
  )


def _placeholder_features(raw: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
  """Per-window (200 samples, step 50) means and deviations standing in for the Box-1 features."""
  starts = np.arange(0, max(len(raw) - 200, 0) + 1, 50)
  if not len(raw) >= 200:
    starts = starts[:0]

  def stats(columns):
    values = [raw[s : s + 200][:, columns] for s in starts]
    if not values:
      return np.zeros((0, 2 * len(columns)))
    return np.stack([np.concatenate([v.mean(0), v.std(0)]) for v in values])

  emg = stats(list(layout.EMG_COLUMNS))
  return {
    'features_acc': stats(list(layout.ACC_COLUMNS)),
    'features_gyro': stats(list(layout.GYRO_COLUMNS)),
    'features_labels': labels[starts + 100] if len(starts) else np.zeros((0, 2)),
    'piirteet_emg': np.tile(emg, (1, 8)),
  }


def _segments(settings: PersonSettings, rng: np.random.Generator) -> list[tuple[int, float]]:
  """(file exercise id, seconds): NULL before every set and after the last."""
  draw = lambda fixed, bounds: fixed if fixed is not None else float(rng.uniform(*bounds))
  segments = []
  for exercise in settings.exercises:
    segments.append((layout.NULL_ID, draw(settings.null_s, NULL_S)))
    segments.append((int(exercise), draw(settings.set_s, SET_S)))
  segments.append((layout.NULL_ID, draw(settings.null_s, NULL_S)))
  return segments


def _imu(activity: str, person, seconds: float, rng: np.random.Generator) -> np.ndarray:
  """(T, 6) virtual IMU at `right_forearm`, 50 Hz, made in pieces of <= `MAX_PIECE_S`."""
  total = max(2, round(seconds * layout.RATE_HZ))
  pieces, made = [], 0
  while made < total:
    count = max(min(total - made, round(MAX_PIECE_S * layout.RATE_HZ)), round(layout.RATE_HZ))
    name = activity or NULL_MOTIONS[len(pieces) % len(NULL_MOTIONS)]
    motion = wearable_motion.generate(name, person, count / layout.RATE_HZ, layout.RATE_HZ, rng=rng)
    pieces.append(virtual_imu.from_pose(motion.pose, layout.RATE_HZ, layout.SITES)[:, 0])
    made += len(pieces[-1])
  return np.concatenate(pieces)[:total].astype(np.float64)


def make_person(
  subject: int, rng: np.random.Generator, settings: PersonSettings = PersonSettings()
) -> Person:
  """One person's rows in file units (duplicates included), person id `subject`."""
  body = motion_lib.sample_subject(np.random.default_rng([int(subject), 11]), int(subject))
  band = Rotation.from_rotvec(rng.normal(size=3) * math.radians(6.0)).as_matrix()
  imus, ids = [], []
  for exercise, seconds in _segments(settings, rng):
    activity = '' if exercise == layout.NULL_ID else MOTION_OF_EXERCISE[exercise]
    imus.append(_imu(activity, body, seconds, rng))
    ids.append(np.full(len(imus[-1]), exercise, np.float64))
  imu = np.concatenate(imus)
  exercise = np.concatenate(ids)
  n = len(imu)
  acc_g = imu[:, :3] @ band / layout.ACC_G_TO_M_S2 + rng.normal(size=(n, 3)) * ACC_NOISE_G
  gyro = imu[:, 3:] @ band / layout.GYRO_DEG_S_TO_RAD_S
  gyro = gyro + rng.normal(0.0, 1.0, 3) + rng.normal(size=(n, 3)) * GYRO_NOISE_DEG_S
  acc_g = np.clip(np.round(acc_g / layout.ACC_LSB_G) * layout.ACC_LSB_G, -ACC_RANGE_G, ACC_RANGE_G)
  gyro = np.round(gyro / layout.GYRO_LSB_DEG_S) * layout.GYRO_LSB_DEG_S
  gyro = np.clip(gyro, -GYRO_RANGE_DEG_S, GYRO_RANGE_DEG_S)
  start_us = float(rng.uniform(1.05e9, 1.2e9))
  jitter = rng.normal(0.0, 0.15, n) * SAMPLE_US
  imu_time = np.round(np.maximum.accumulate(start_us + np.arange(n) * SAMPLE_US + jitter))

  # Buffering: some samples are written twice; the copy follows the original.
  repeat = np.where(rng.random(n) < settings.duplicate_rate, 2, 1)
  repeat[0] = 1
  source = np.repeat(np.arange(n), repeat)
  duplicate = np.concatenate([[False], source[1:] == source[:-1]])
  rows = len(source)
  raw = np.zeros((rows, layout.NUM_COLUMNS))
  raw[:, layout.ACC_TIME_COLUMN] = imu_time[source]
  raw[:, layout.GYRO_TIME_COLUMN] = imu_time[source]
  raw[:, list(layout.ACC_COLUMNS)] = acc_g[source]
  raw[:, list(layout.GYRO_COLUMNS)] = gyro[source]
  span = imu_time[-1] - imu_time[0]
  emg_time = imu_time[0] + np.arange(rows) * (span / max(rows - 1, 1)) + rng.normal(0, 300, rows)
  raw[:, layout.EMG_TIME_COLUMN] = np.round(np.maximum.accumulate(emg_time))
  speed = np.linalg.norm(imu[:, 3:], axis=1)[source]
  scale = 2.0 + 12.0 * np.tanh(speed / 2.0)
  emg = np.round(rng.laplace(size=(rows, 8)) * scale[:, None])
  off = settings.emg_off_rows if settings.emg_off_rows is not None else int(rng.integers(20, 100))
  emg[:off] = 0.0
  raw[:, list(layout.EMG_COLUMNS)] = np.clip(emg, -128, 127)
  labels = np.stack([exercise[source], np.full(rows, float(subject))], axis=1)
  return Person(raw=raw, labels=labels, duplicate=duplicate)
