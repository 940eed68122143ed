"""MotionSense on disk: the one place its file names, columns, units, trials and splits are written.

MotionSense (Malekzadeh et al., IoTDI 2019; github mmalekzadeh/motion-sense) is 24 people with
an iPhone 6s in the front trouser pocket doing six activities in 15 trials around one campus,
logged at 50 Hz from Core Motion's `CMDeviceMotion`. Folder (A) of the release,
`A_DeviceMotion_data/<act>_<trial>/sub_<n>.csv`, holds one CSV per subject and trial, written by
pandas with its unnamed index column first:

  ,attitude.roll,attitude.pitch,attitude.yaw,gravity.x,gravity.y,gravity.z,rotationRate.x,...

Units (Apple's `CMDeviceMotion` documentation): attitude in radians, rotationRate in rad/s,
gravity and userAcceleration in g, device axes (x to the right of the screen, y to its top,
z out of the screen). Their sum is the raw accelerometer reading (`CMAccelerometerData`), whose
sign is the opposite of specific force: a phone lying still face up reads (0, 0, -1) g, a phone
in free fall reads 0. The project's accelerometer convention is specific force incl. gravity
(a still sensor reads +9.81 m/s² along its axis that points up), hence
`specific_force = -(gravity + userAcceleration) * STANDARD_GRAVITY`.

`data_subjects_info.csv` (code, weight kg, height cm, age years, gender 0 = female, 1 = male)
lists the subjects. The TFDS builder (`tfds_builders/motionsense`) reads this layout, the
synthetic writer (`mujo_jax.synthesis.motionsense_writer`) writes it, `mujo_jax.data.motionsense`
cuts evaluation windows from the built dataset.
"""

from __future__ import annotations

import re

import numpy as np

from mujo_jax.facts.units import STANDARD_GRAVITY  # Core Motion reports acc in g.

RATE_HZ = 50.0

ARCHIVE = 'A_DeviceMotion_data.zip'  # data/A_DeviceMotion_data.zip of the GitHub release
FOLDER = 'A_DeviceMotion_data'
SUBJECTS_FILE = 'data_subjects_info.csv'
SUBJECTS_HEADER: tuple[str, ...] = ('code', 'weight', 'height', 'age', 'gender')

# The CSV header; the first column (pandas' index) has no name.
COLUMNS: tuple[str, ...] = (
  '',
  'attitude.roll', 'attitude.pitch', 'attitude.yaw',
  'gravity.x', 'gravity.y', 'gravity.z',
  'rotationRate.x', 'rotationRate.y', 'rotationRate.z',
  'userAcceleration.x', 'userAcceleration.y', 'userAcceleration.z',
)  # fmt: skip
HEADER = ','.join(COLUMNS)
ATTITUDE = slice(1, 4)
GRAVITY = slice(4, 7)
ROTATION_RATE = slice(7, 10)
USER_ACCELERATION = slice(10, 13)

# Activity codes in the order of the authors' loader (README `ACT_LABELS`, the `act` ids that
# published code derives), and the names the README gives them.
ACTIVITY_CODES: tuple[str, ...] = ('dws', 'ups', 'wlk', 'jog', 'std', 'sit')
CLASS_NAMES: tuple[str, ...] = (
  'downstairs',
  'upstairs',
  'walking',
  'jogging',
  'standing',
  'sitting',
)
# The 15 trials (README `TRIAL_CODES`): 1-9 are the long trials (2-3 min), 11-16 the short ones
# (30 s - 1 min); there is no trial 10.
TRIALS: dict[str, tuple[int, ...]] = {
  'dws': (1, 2, 11),
  'ups': (3, 4, 12),
  'wlk': (7, 8, 15),
  'jog': (9, 16),
  'std': (6, 14),
  'sit': (5, 13),
}
ACTIVITY_OF_TRIAL: dict[int, str] = {t: code for code, ts in TRIALS.items() for t in ts}
ALL_TRIALS: tuple[int, ...] = tuple(sorted(ACTIVITY_OF_TRIAL))
SUBJECTS: tuple[int, ...] = tuple(range(1, 25))

# The authors' activity-recognition split (codes/gen_paper_codes/1_MotionSense_Trial.ipynb: "We
# consider long trials as training dataset and short trials as test dataset", `trial > 10` ->
# test): every subject in both, trials disjoint. Subject-wise folds use the subject as group.
SPLITS: dict[str, tuple[int, ...]] = {
  'train': tuple(t for t in ALL_TRIALS if t <= 10),
  'test': tuple(t for t in ALL_TRIALS if t > 10),
}

# Where the phone was: "in the participant's front pocket" (README); which side is not
# published. The right pocket is where MM-Fit's always-worn phone (sp_r) sits and where a
# right-handed majority carries a phone.
SITE = 'right_thigh'

_TRIAL_FOLDER_RE = re.compile(r'^([a-z]+)_(\d+)$')
_SUBJECT_FILE_RE = re.compile(r'^sub_(\d+)\.csv$')

assert sorted(ALL_TRIALS) == [*range(1, 10), *range(11, 17)]
assert set(TRIALS) == set(ACTIVITY_CODES) and len(CLASS_NAMES) == len(ACTIVITY_CODES)


def trial_folder(trial: int) -> str:
  """7 -> 'wlk_7'."""
  if trial not in ACTIVITY_OF_TRIAL:
    raise ValueError(f'MotionSense has no trial {trial}; trials are {ALL_TRIALS}')
  return f'{ACTIVITY_OF_TRIAL[trial]}_{trial}'


def subject_file(subject: int) -> str:
  """3 -> 'sub_3.csv'."""
  return f'sub_{int(subject)}.csv'


def parse_trial_folder(name: str) -> tuple[str, int] | None:
  """'dws_11' -> ('dws', 11); None for names not of the form <letters>_<number>."""
  match = _TRIAL_FOLDER_RE.match(name)
  return (match.group(1), int(match.group(2))) if match else None


def parse_subject_file(name: str) -> int | None:
  """'sub_3.csv' -> 3; None for other names."""
  match = _SUBJECT_FILE_RE.match(name)
  return int(match.group(1)) if match else None


def class_id(trial: int) -> int:
  """Label id (into CLASS_NAMES) of a trial's activity."""
  return ACTIVITY_CODES.index(ACTIVITY_OF_TRIAL[trial])


def specific_force(gravity_g: np.ndarray, user_acceleration_g: np.ndarray) -> np.ndarray:
  """Core Motion gravity + userAcceleration (g, raw-accelerometer sign) -> specific force m/s².

  A phone lying still face up has gravity (0, 0, -1) g and userAcceleration 0 and returns
  (0, 0, +9.80665); in free fall userAcceleration cancels gravity and the result is 0.
  """
  total = np.asarray(gravity_g, np.float64) + np.asarray(user_acceleration_g, np.float64)
  return -total * STANDARD_GRAVITY
