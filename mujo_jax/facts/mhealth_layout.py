"""MHEALTH on disk (UCI, Banos et al. 2014): the one place these facts are written.

The archive holds `MHEALTHDATASET/mHealth_subject<1..10>.log` (and a README.txt): one file per
subject, one row per sample at 50 Hz, 24 whitespace-separated columns (the copies quoted in
public material are tab-separated; the reader accepts any whitespace), no header:

   1-3   chest accelerometer xyz (m/s^2)
   4-5   ECG lead 1, lead 2 (mV)
   6-8   left-ankle accelerometer xyz (m/s^2)
   9-11  left-ankle gyroscope xyz (see `GYRO_UNIT_TO_RAD_S`)
  12-14  left-ankle magnetometer xyz ("local" units, i.e. uncalibrated)
  15-17  right-lower-arm accelerometer xyz (m/s^2)
  18-20  right-lower-arm gyroscope xyz
  21-23  right-lower-arm magnetometer xyz
  24     label: 0 = null (between activities), 1..12 = `CLASS_NAMES`

The chest unit (a Shimmer2 with ECG board) has no gyroscope and no magnetometer.

Units, with the evidence we could read (no real file was available to us):
- The README's units line: "Acceleration (m/s^2), gyroscope (deg/s), magnetic field (local),
  ecg (mV)".
- The first row of `mHealth_subject1.log`, quoted verbatim in several public repositories
  (label 0): chest acc (-9.8184, 0.009971, 0.29563) |a| = 9.82; ankle acc (2.1849, -9.6967,
  0.63077) |a| = 9.96; arm acc (-8.6499, -4.5781, 0.18776) |a| = 9.79. So acceleration is m/s^2
  specific force *including* gravity (a still sensor reads |a| = g): `ACC_UNIT_TO_M_S2 = 1`.
- The same row's gyroscopes: ankle (0.1039, -0.84053, -0.68762) |w| = 1.09, arm (-0.44902,
  -1.0103, 0.034483) |w| = 1.11 file units, with every accelerometer at |a| ~ g (no motion).
  Read as deg/s that is a 0.019 rad/s zero-rate offset, typical of the analog MEMS gyroscopes
  of a Shimmer2 (500 deg/s range); read as rad/s it would be 63 deg/s of rotation while the
  accelerometers show a body at rest. One row agrees with deg/s and rules out rad/s;
  it cannot exclude a file-specific scale.
  So the gyroscope is converted by `GYRO_UNIT_TO_RAD_S = pi / 180`.
- The test a real file needs (`tfds_builders/mhealth/reader.gyro_magnitude_check`
  computes it and the builder logs it): in deg/s,
  the median |w| of the still classes (1-3) is a few units (offset + tremor, < 10), and the
  99th percentile |w| of the ankle while running (class 11) is hundreds (a shank swings at
  400-800 deg/s when running). In rad/s the running percentile would be ~ 5-15 and the still
  median ~ 0.05. If a real file shows running p99 below ~ 30 file units, the unit is not deg/s
  and this constant is wrong.
"""

from __future__ import annotations

import math
import re

RATE_HZ = 50.0
FOLDER = 'MHEALTHDATASET'
SUBJECTS: tuple[int, ...] = tuple(range(1, 11))
NUM_COLUMNS = 24

# Conversions of the file's units to the project's (acc m/s^2 incl. gravity, gyr rad/s).
ACC_UNIT_TO_M_S2 = 1.0
GYRO_UNIT_TO_RAD_S = math.pi / 180.0  # Documented deg/s; see the module docstring.

# The file's label ids: 0 = null, then the README's activities L1..L12 in order.
NULL_LABEL = 0
CLASS_NAMES: tuple[str, ...] = (
  'Standing still',
  'Sitting and relaxing',
  'Lying down',
  'Walking',
  'Climbing stairs',
  'Waist bends forward',
  'Frontal elevation of arms',
  'Knees bending (crouching)',
  'Cycling',
  'Jogging',
  'Running',
  'Jump front & back',
)
# ClassLabel names of the stored per-sample label: the file's ids unchanged (0 = 'null').
LABEL_NAMES: tuple[str, ...] = ('null',) + CLASS_NAMES
# Protocol lengths from the README: a duration in seconds or a repetition count.
PROTOCOL: tuple[tuple[str, str, float], ...] = (
  ('Standing still', 's', 60.0),
  ('Sitting and relaxing', 's', 60.0),
  ('Lying down', 's', 60.0),
  ('Walking', 's', 60.0),
  ('Climbing stairs', 's', 60.0),
  ('Waist bends forward', 'reps', 20),
  ('Frontal elevation of arms', 'reps', 20),
  ('Knees bending (crouching)', 'reps', 20),
  ('Cycling', 's', 60.0),
  ('Jogging', 's', 60.0),
  ('Running', 's', 60.0),
  ('Jump front & back', 'reps', 20),
)
# About how many rows the ten files hold together (the full-size writer's target).
TOTAL_ROWS = 1_200_000

# Zero-based column indices.
COLUMN_NAMES: tuple[str, ...] = (
  'chest_acc_x', 'chest_acc_y', 'chest_acc_z', 'ecg_lead_1', 'ecg_lead_2',
  'ankle_acc_x', 'ankle_acc_y', 'ankle_acc_z', 'ankle_gyro_x', 'ankle_gyro_y', 'ankle_gyro_z',
  'ankle_mag_x', 'ankle_mag_y', 'ankle_mag_z',
  'arm_acc_x', 'arm_acc_y', 'arm_acc_z', 'arm_gyro_x', 'arm_gyro_y', 'arm_gyro_z',
  'arm_mag_x', 'arm_mag_y', 'arm_mag_z', 'label',
)  # fmt: skip
LABEL_COLUMN = 23
ECG_COLUMNS = (3, 4)

# Sensor -> project site. The README's column list calls the arm unit the "right-lower-arm
# sensor" (its setup text says "right wrist"): a strapped unit on the lower arm is our
# `right_forearm`; `right_wrist` is where a watch sits (MM-Fit's smartwatch site), which the
# column list does not say.
SITES: tuple[str, ...] = ('chest', 'left_ankle', 'right_forearm')
# Per site: accelerometer columns, gyroscope columns (None: the device has none), magnetometer.
ACC_COLUMNS: tuple[tuple[int, int, int], ...] = ((0, 1, 2), (5, 6, 7), (14, 15, 16))
GYRO_COLUMNS: tuple[tuple[int, int, int] | None, ...] = (None, (8, 9, 10), (17, 18, 19))
MAG_SITES: tuple[str, ...] = ('left_ankle', 'right_forearm')
MAG_COLUMNS: tuple[tuple[int, int, int], ...] = ((11, 12, 13), (20, 21, 22))

# Subject-wise protocol of the literature: leave-one-subject-out over the ten subjects, as in
# Jordao et al., "Human Activity Recognition Based on Wearable Sensor Data: A Standardization of
# the State-of-the-Art" (arXiv:1806.05226, 2018), who evaluate MHEALTH with LOSO. Fold k holds
# out subject k.
LOSO_FOLDS: tuple[tuple[int, ...], ...] = tuple((subject,) for subject in SUBJECTS)

_SUBJECT_RE = re.compile(r'^mHealth_subject(\d+)\.log$')


def subject_file(subject: int) -> str:
  """File name of one subject: 3 -> 'mHealth_subject3.log'."""
  return f'mHealth_subject{int(subject)}.log'


def subject_of_file(name: str) -> int | None:
  """'mHealth_subject3.log' (or a path ending in it) -> 3; None for any other name."""
  match = _SUBJECT_RE.match(name.replace('\\', '/').rsplit('/', 1)[-1])
  return int(match.group(1)) if match else None


def class_index(label_id: int) -> int:
  """File label id -> class index into `CLASS_NAMES` (-1 for the null class 0)."""
  return int(label_id) - 1
