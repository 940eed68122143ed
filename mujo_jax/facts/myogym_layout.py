"""MyoGym on disk: the one place its file, columns, units, classes and subjects are written.

MyoGym (Koskimäki, Siirtola and Röning, UbiComp/ISWC '17 Adjunct, "MyoGym: introducing an open
gym data set for activity recognition collected using Myo armband") is 10 persons doing 30 gym
exercises with a Thalmic Myo armband on the right forearm, "positioned so that the IMU was on
the top of the forearm". The authors publish ONE MATLAB file, `MyoGym.mat` (with a readme PDF,
"MyoGym - read me first"), that `scipy.io.loadmat` reads (MATLAB v5, not v7.3/HDF5: three
public loaders use loadmat). The TFDS builder (`tfds_builders/myogym`) reads it, the synthetic
writer (`mujo_jax.synthesis.myogym_writer`) writes it, `mujo_jax.data.myogym` windows it.

Variables used (others in the file: `features_acc`, `features_gyro`, `features_labels`,
`piirteet_emg`, precomputed window features that the builder ignores):

- `raw_data` (N x 17 double, N = 2,017,041 in the published file), one row per 50 Hz sample,
  columns (0-based; the readme numbers them from 1):
    0       EMG timestamp
    1-8     EMG channels 1..8 (raw Myo int8 scale, 0 while EMG is not yet streaming)
    9       accelerometer timestamp
    10-12   accelerometer x, y, z (g, see `ACC_G_TO_M_S2`)
    13      gyroscope timestamp
    14-16   gyroscope x, y, z (deg/s, see `GYRO_DEG_S_TO_RAD_S`)
- `raw_data_labels` (N x 2): exercise id (1..30, 99 = NULL: between sets, moving around,
  changing weights, stretching) and person id (1..10), one per row.

The sampling rate is the readme's: "the frequency of 50 Hz were used in data collection". Each
row holds one EMG, one acc and one gyro sample, so the published EMG is 50 Hz too (the Myo's raw
200 Hz EMG is not in the file), and there is no orientation or magnetometer.

Units. The readme states none for acc and gyro. The Myo SDK reports acceleration in g from a
2048 LSB/g register and rotation rate in deg/s from a 16 LSB/(deg/s) register, and the values
that public notebooks print from the file are exact multiples of 1/2048 (resting rows such as
(0.1177, 0.9858, 0.0313), |a| ~ 1) and of 1/16 (76.625, -68.4375). So acc is g and gyro deg/s:
an inference from quantisation and magnitude, not a documented fact. The builder logs both
checks (share of values on each grid, median |a| in g) for every build, so a file that
contradicts them shows in the log.

Timestamps. The readme says ms, but the printed values (~1.05e9-1.45e9, growing 14k-23k per
row) fit microseconds, and they are packet arrival times, not evenly spaced. They are not used
as the time base: sample k of a person is at k / 50 s, after the duplicate rule below.

Duplicate rows. The Myo's buffering writes some IMU samples twice (a row whose acc timestamp,
acc, gyro timestamp, gyro and labels equal those of the previous row of the same person, with a
fresh EMG sample); a public loader removes such rows (`drop_duplicates` after sorting by acc
time). The builder drops a row when `DUPLICATE_KEY_COLUMNS` and both labels equal the previous
row's of the same person, in file order, and counts the drops in the build log. It does not
re-sort: whether the file is in time order is not documented (the builder counts and logs
backward steps of the acc timestamp instead).
"""

from __future__ import annotations

import math

from mujo_jax.facts.units import STANDARD_GRAVITY

FILE_NAME = 'MyoGym.mat'
RAW_VARIABLE = 'raw_data'
LABELS_VARIABLE = 'raw_data_labels'
# Published rows (readme; confirmed by a loader's printed shape).
TOTAL_ROWS = 2_017_041

NUM_COLUMNS = 17
EMG_TIME_COLUMN = 0
EMG_COLUMNS: tuple[int, ...] = tuple(range(1, 9))
ACC_TIME_COLUMN = 9
ACC_COLUMNS: tuple[int, ...] = (10, 11, 12)
GYRO_TIME_COLUMN = 13
GYRO_COLUMNS: tuple[int, ...] = (14, 15, 16)
# The columns of one IMU sample: equal on consecutive rows of a person = a buffered duplicate.
DUPLICATE_KEY_COLUMNS: tuple[int, ...] = (
  ACC_TIME_COLUMN,
  *ACC_COLUMNS,
  GYRO_TIME_COLUMN,
  *GYRO_COLUMNS,
)
NUM_LABEL_COLUMNS = 2
EXERCISE_COLUMN = 0
PERSON_COLUMN = 1

RATE_HZ = 50.0
SITE = 'right_forearm'
SITES: tuple[str, ...] = (SITE,)

# Unit conversions (inferred, see the module docstring): the Myo SDK's g and deg/s.
ACC_G_TO_M_S2 = STANDARD_GRAVITY
GYRO_DEG_S_TO_RAD_S = math.pi / 180.0
# The Myo's register steps: acc values are multiples of 1/2048 g, gyro of 1/16 deg/s.
ACC_LSB_G = 1.0 / 2048.0
GYRO_LSB_DEG_S = 1.0 / 16.0

NULL_ID = 99
# The readme's table, in id order 1..30.
EXERCISE_NAMES: tuple[str, ...] = (
  'Seated Cable Rows',
  'One-Arm Dumbbell Row',
  'Wide-Grip Pulldown Behind The Neck',
  'Bent Over Barbell Row',
  'Reverse Grip Bent-Over Row',
  'Wide-Grip Front Pulldown',
  'Bench Press',
  'Incline Dumbbell Flyes',
  'Incline Dumbbell Press',
  'Dumbbell Flyes',
  'Pushups',
  'Leverage Chest Press',
  'Close-Grip Barbell Bench Press',
  'Bar Skullcrusher',
  'Triceps Pushdown',
  'Bench Dip / Dip',
  'Overhead Triceps Extension',
  'Tricep Dumbbell Kickback',
  'Spider Curl',
  'Dumbbell Alternate Bicep Curl',
  'Incline Hammer Curl',
  'Concentration Curl',
  'Cable Curl',
  'Hammer Curl',
  'Upright Barbell Row',
  'Side Lateral Raise',
  'Front Dumbbell Raise',
  'Seated Dumbbell Shoulder Press',
  'Car Drivers',
  'Lying Rear Delt Raise',
)
EXERCISE_IDS: tuple[int, ...] = tuple(range(1, len(EXERCISE_NAMES) + 1))
FILE_LABEL_IDS: frozenset[int] = frozenset(EXERCISE_IDS) | {NULL_ID}
# Evaluation classes: the 30 exercises (class index = file id - 1); NULL windows are dropped.
CLASS_NAMES: tuple[str, ...] = EXERCISE_NAMES
# ClassLabel names of the stored per-sample label: 0 = NULL (file id 99), k = exercise k, so a
# stored label equals the file id for every exercise. `windows(include_null=True)` uses these.
LABEL_NAMES: tuple[str, ...] = ('NULL', *EXERCISE_NAMES)

SUBJECTS: tuple[int, ...] = tuple(range(1, 11))
# Subject-wise protocol: leave one person out (10 folds). The original paper's own split is not
# documented publicly; later work splits by subject too (5 folds of 2 test persons, or 8/2).
LOSO_FOLDS: tuple[tuple[int, ...], ...] = tuple((s,) for s in SUBJECTS)


def stored_label(file_id: int) -> int:
  """File exercise id (1..30, 99) -> the stored ClassLabel index into `LABEL_NAMES`."""
  if file_id == NULL_ID:
    return 0
  if file_id in EXERCISE_IDS:
    return int(file_id)
  raise ValueError(f'unknown MyoGym exercise id {file_id}; expected 1..30 or {NULL_ID} (NULL)')
