"""Writes synthetic subjects in MotionSense's on-disk layout (`facts.motionsense_layout`).

MotionSense's builder must be tested on files shaped like the originals without shipping them.
Each (subject, trial) is one simulated person doing the trial's activity
(`wearable_motion.generate`: stairs_down, stairs_up, walking, jogging, standing, sitting) with a
phone in the right front trouser pocket; the clean virtual IMU at `right_thigh`
(`virtual_imu.from_pose`, specific force m/s² + rad/s) is turned into what Core Motion reports:

* the phone lies in the pocket in a per-subject orientation (screen towards the thigh or away,
  top up or down, tilted), re-seated for every trial by a few degrees (the participant took it
  out and put it back);
* raw accelerometer in g = -specific force / 9.80665 (Apple's sign: face up reads (0, 0, -1));
  `gravity` = the unit vector of the low-passed raw reading (Core Motion's fusion separates it
  with the gyroscope; a 0.5 Hz low-pass is the synthetic stand-in), `userAcceleration` = raw -
  gravity, so that their sum is exactly the raw reading;
* `rotationRate` = the gyroscope in rad/s; `attitude` roll = atan2(g_x, -g_z), pitch =
  -asin(g_y) (what the README's example rows satisfy), yaw = the integrated rate about the
  vertical from a random heading, wrapped to (-pi, pi];
* white noise on both sensors, 1 mg and 0.005 rad/s per sample.

Files: `A_DeviceMotion_data/<act>_<trial>/sub_<n>.csv` with pandas' unnamed index column
(header `,attitude.roll,...`, index 0..n-1), `%.9g` numbers, and `data_subjects_info.csv`
(code,weight,height,age,gender) with drawn attributes. `archive=True` also zips the folder as
`A_DeviceMotion_data.zip` (with macOS `__MACOSX/._*` members, as archives made on a Mac carry)
and removes the folder.

Trial lengths at full size: the authors' notebook reads 621,973 training rows (long trials of
dws/ups/wlk/jog, 168 files: 74 s each on average) and 145,687 test rows (short trials, 144
files: 20 s), so moving trials last U(60, 90) s (long) and U(15, 25) s (short); sitting and
standing follow the README's "2 to 3 minutes" and "30 seconds to 1 minute". That is ~1.2 M rows
for 24 subjects.
"""

from __future__ import annotations

import math
import os
import shutil
import zipfile
from collections.abc import Sequence

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from mujo_jax.facts import motionsense_layout as layout
from mujo_jax.facts import virtual_imu
from mujo_jax.synthesis import io as io_lib
from mujo_jax.synthesis import motion as motion_lib
from mujo_jax.synthesis import wearable_motion

MOTION_OF_ACTIVITY: dict[str, str] = {
  'dws': 'stairs_down',
  'ups': 'stairs_up',
  'wlk': 'walking',
  'jog': 'jogging',
  'std': 'standing',
  'sit': 'sitting',
}
POSE_FPS = 30.0
ACC_NOISE_G = 1e-3
GYR_NOISE_RAD_S = 5e-3
GRAVITY_CUTOFF_HZ = 0.5
# Seconds (low, high) per trial length class at full size.
_MOVING = ('dws', 'ups', 'wlk', 'jog')
DURATIONS_S: dict[tuple[bool, bool], tuple[float, float]] = {
  # (moving, long trial)
  (True, True): (60.0, 90.0),
  (True, False): (15.0, 25.0),
  (False, True): (120.0, 180.0),
  (False, False): (30.0, 60.0),
}


def trial_duration_s(trial: int, rng: np.random.Generator) -> float:
  moving = layout.ACTIVITY_OF_TRIAL[trial] in _MOVING
  low, high = DURATIONS_S[(moving, trial < 10)]
  return float(rng.uniform(low, high))


def write_motionsense(
  out_dir: str | os.PathLike[str],
  *,
  subjects: Sequence[int] = layout.SUBJECTS,
  trials: Sequence[int] = layout.ALL_TRIALS,
  seed: int = 0,
  duration_s: float | None = None,
  archive: bool = False,
  overwrite: bool = False,
) -> dict[tuple[int, int], int]:
  """Writes MotionSense files for `subjects` x `trials` into `out_dir`.

  Args:
    out_dir: output directory; must be empty or absent unless `overwrite`.
    subjects: subject codes (rows of `data_subjects_info.csv`).
    trials: trial numbers to write (all 15 by default).
    seed: everything written is a function of the seed, the subject and the trial.
    duration_s: length of every trial; None draws the full-size lengths (`DURATIONS_S`).
    archive: zip the trial folders into `A_DeviceMotion_data.zip` (read in place by the builder).
    overwrite: replace the contents of a non-empty `out_dir`.

  Returns:
    Rows written per (trial, subject).
  """
  root = io_lib.ensure_empty_out_dir(out_dir, overwrite)
  folder = root / layout.FOLDER
  rows = {}
  for trial in trials:
    (folder / layout.trial_folder(trial)).mkdir(parents=True)
  with open(root / layout.SUBJECTS_FILE, 'w', newline='') as handle:
    handle.write(','.join(layout.SUBJECTS_HEADER) + '\n')
    for code in subjects:
      rng = np.random.default_rng([seed, 4_049, code])
      gender = int(rng.random() < 0.58)
      height = round(float(rng.normal(178 if gender else 166, 7)))
      weight = round(float(rng.normal(23.5, 3.5) * (height / 100) ** 2))
      handle.write(f'{code},{weight},{height},{int(rng.integers(18, 47))},{gender}\n')
  for code in subjects:
    subject = motion_lib.sample_subject(np.random.default_rng([seed, 7_919, code]), code)
    pocket = _pocket_orientation(np.random.default_rng([seed, 104_729, code]))
    for trial in trials:
      rng = np.random.default_rng([seed, 31_337, code, trial])
      seconds = duration_s if duration_s is not None else trial_duration_s(trial, rng)
      table = make_trial(trial, subject, pocket, seconds, rng)
      write_csv(folder / layout.trial_folder(trial) / layout.subject_file(code), table)
      rows[(trial, code)] = len(table)
  if archive:
    with zipfile.ZipFile(root / layout.ARCHIVE, 'w', zipfile.ZIP_DEFLATED) as handle:
      for trial in trials:
        name = layout.trial_folder(trial)
        handle.writestr(f'__MACOSX/{layout.FOLDER}/._{name}', b'\x00\x05\x16\x07')
        for code in subjects:
          path = folder / name / layout.subject_file(code)
          handle.write(path, f'{layout.FOLDER}/{name}/{path.name}')
    shutil.rmtree(folder)
  return rows


def _pocket_orientation(rng: np.random.Generator) -> np.ndarray:
  """Phone axes (columns) in the thigh sensor frame (x along the thigh towards the knee).

  In a front pocket the phone's long axis (y) runs along the thigh, top up or down, and its
  screen (z) faces the thigh or away from it, tilted by up to ~20 degrees.
  """
  top_down = rng.random() < 0.5
  screen_in = rng.random() < 0.5
  # Phone y along -x (top up) or +x (top down) of the thigh frame, z along +-z.
  y = np.array([1.0, 0.0, 0.0]) if top_down else np.array([-1.0, 0.0, 0.0])
  z = np.array([0.0, 0.0, -1.0]) if screen_in else np.array([0.0, 0.0, 1.0])
  base = np.stack([np.cross(y, z), y, z], axis=1)
  tilt = Rotation.from_rotvec(rng.normal(size=3) * math.radians(10.0)).as_matrix()
  return tilt @ base


def make_trial(
  trial: int,
  subject: motion_lib.Subject,
  pocket: np.ndarray,
  duration_s: float,
  rng: np.random.Generator,
) -> np.ndarray:
  """(n, 13) rows of one CSV: index, attitude, gravity, rotationRate, userAcceleration."""
  activity = MOTION_OF_ACTIVITY[layout.ACTIVITY_OF_TRIAL[trial]]
  motion = wearable_motion.generate(activity, subject, duration_s, POSE_FPS, rng=rng)
  imu = virtual_imu.from_pose(motion.pose, POSE_FPS, [layout.SITE], out_rate_hz=layout.RATE_HZ)
  imu = imu[:, 0].astype(np.float64)
  reseat = Rotation.from_rotvec(rng.normal(size=3) * math.radians(4.0)).as_matrix()
  phone = reseat @ pocket  # phone axes in the thigh frame
  force = imu[:, :3] @ phone  # specific force in phone axes (m/s²)
  rate = imu[:, 3:] @ phone
  n = len(force)
  force = force + rng.normal(size=(n, 3)) * ACC_NOISE_G * layout.STANDARD_GRAVITY
  rate = rate + rng.normal(size=(n, 3)) * GYR_NOISE_RAD_S
  raw = -force / layout.STANDARD_GRAVITY  # Core Motion's accelerometer reading (g)
  b, a = signal.butter(2, GRAVITY_CUTOFF_HZ / (layout.RATE_HZ / 2))
  low = signal.filtfilt(b, a, raw, axis=0)
  gravity = low / np.linalg.norm(low, axis=1, keepdims=True)
  user = raw - gravity
  roll = np.arctan2(gravity[:, 0], -gravity[:, 2])
  pitch = -np.arcsin(np.clip(gravity[:, 1], -1.0, 1.0))
  yaw_rate = np.sum(rate * -gravity, axis=1)
  yaw = rng.uniform(-np.pi, np.pi) + np.cumsum(yaw_rate) / layout.RATE_HZ
  yaw = np.angle(np.exp(1j * yaw))
  return np.concatenate(
    [np.arange(n)[:, None], roll[:, None], pitch[:, None], yaw[:, None], gravity, rate, user],
    axis=1,
  )


def write_csv(path: str | os.PathLike[str], table: np.ndarray) -> None:
  """pandas' `to_csv` layout: unnamed index column first, then the 12 named columns."""
  fmt = ','.join(['%d'] + ['%.9g'] * (len(layout.COLUMNS) - 1))
  np.savetxt(path, table, fmt=fmt, delimiter=',', header=layout.HEADER, comments='')
