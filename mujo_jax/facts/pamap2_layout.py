"""PAMAP2 on disk: the one place its file names, columns, units, classes and subjects are written.

PAMAP2 Physical Activity Monitoring (Reiss and Stricker, ISWC 2012; UCI id 231) holds one
space-separated text file per subject and session, `Protocol/subject1NN.dat` (the 12 protocol
activities, subjects 101-109) and `Optional/subject1NN.dat` (6 optional activities, five subjects),
under a top folder `PAMAP2_Dataset/`. Every line is one 100 Hz sample of 54 numbers:

  1 timestamp (s), 2 activityID, 3 heart rate (bpm, ~9 Hz: NaN on the other lines), then three
  Colibri IMUs (hand, chest, ankle) of 17 columns each: temperature (°C), 3D acceleration
  (m/s², ±16 g, 13 bit), 3D acceleration (m/s², ±6 g, 13 bit), 3D gyroscope (rad/s), 3D
  magnetometer (µT), orientation (4 columns, documented as invalid).

`NaN` marks a value that was not received (wireless drop-outs; the heart rate between its
beats); the dataset's readme recommends the ±16 g accelerometer because the ±6 g one saturates
(running, jumping) and is not calibrated against the other. The TFDS builder
(`tfds_builders/pamap2`) reads this layout, the synthetic writer
(`mujo_jax.synthesis.pamap2_writer`) writes it and `mujo_jax.data.pamap2` windows the built set.
"""

from __future__ import annotations

import re

from mujo_jax.facts.units import STANDARD_GRAVITY

RATE_HZ = 100.0  # Every IMU and every line of a file.
HEART_RATE_HZ = 9.0  # Approximate; NaN on the lines between two heart-rate samples.

TOP_FOLDER = 'PAMAP2_Dataset'
SESSIONS: tuple[str, ...] = ('protocol', 'optional')
SESSION_FOLDERS: dict[str, str] = {'protocol': 'Protocol', 'optional': 'Optional'}
# The archive as UCI serves it wraps PAMAP2_Dataset.zip in a second zip.
ARCHIVE_NAMES: tuple[str, ...] = ('PAMAP2_Dataset.zip', 'pamap2+physical+activity+monitoring.zip')

NUM_COLUMNS = 54
COLUMN_TIMESTAMP = 0
COLUMN_ACTIVITY = 1
COLUMN_HEART_RATE = 2
IMU_COLUMNS = 17
# IMU name -> first (0-based) column of its 17; hand 3..19, chest 20..36, ankle 37..53.
IMUS: tuple[str, ...] = ('hand', 'chest', 'ankle')
IMU_FIRST_COLUMN: dict[str, int] = {'hand': 3, 'chest': 20, 'ankle': 37}
# Offsets inside one IMU's 17 columns.
OFFSET_TEMPERATURE = 0
OFFSET_ACC16 = 1  # 3 columns, ±16 g: the one the builder reads.
OFFSET_ACC6 = 4  # 3 columns, ±6 g: saturates above ~59 m/s²; kept out of `imu`.
OFFSET_GYR = 7  # 3 columns, rad/s.
OFFSET_MAG = 10  # 3 columns, µT.
OFFSET_ORIENTATION = 13  # 4 columns, invalid in this data collection (readme).
ACC16_FULL_SCALE_MS2 = 16 * STANDARD_GRAVITY
ACC6_FULL_SCALE_MS2 = 6 * STANDARD_GRAVITY


def imu_columns(imu: str, offset: int, width: int = 3) -> list[int]:
  """0-based file columns of `width` values at `offset` within IMU `imu`."""
  first = IMU_FIRST_COLUMN[imu] + offset
  return list(range(first, first + width))


# activityID -> class name, in id order. 0 ("other", transient activities) is not a class.
ACTIVITY_NAMES: dict[int, str] = {
  1: 'lying',
  2: 'sitting',
  3: 'standing',
  4: 'walking',
  5: 'running',
  6: 'cycling',
  7: 'nordic_walking',
  9: 'watching_tv',
  10: 'computer_work',
  11: 'car_driving',
  12: 'ascending_stairs',
  13: 'descending_stairs',
  16: 'vacuum_cleaning',
  17: 'ironing',
  18: 'folding_laundry',
  19: 'house_cleaning',
  20: 'playing_soccer',
  24: 'rope_jumping',
}
TRANSIENT_ACTIVITY = 0
KNOWN_ACTIVITY_IDS = frozenset({TRANSIENT_ACTIVITY, *ACTIVITY_NAMES})
# Class index (the TFDS label) of each activityID; -1 = not a class.
CLASS_NAMES: tuple[str, ...] = tuple(ACTIVITY_NAMES.values())
CLASS_OF_ACTIVITY: dict[int, int] = {a: i for i, a in enumerate(ACTIVITY_NAMES)}
PROTOCOL_ACTIVITIES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17, 24)
OPTIONAL_ACTIVITIES: tuple[int, ...] = (9, 10, 11, 18, 19, 20)

SUBJECTS: tuple[int, ...] = tuple(range(101, 110))
# Subjects with an Optional/ file (the dataset's readme and PerformedActivitiesSummary).
OPTIONAL_SUBJECTS: tuple[int, ...] = (101, 105, 106, 108, 109)
# subjectInformation: every subject is right-handed except 108. The hand IMU sits over the wrist
# of the dominant arm and the ankle IMU on the dominant side's ankle.
LEFT_HANDED_SUBJECTS = frozenset({108})

# Site (`facts.sites.SITES`) of each IMU by dominant side.
SITES_BY_SIDE: dict[str, dict[str, str]] = {
  'right': {'hand': 'right_wrist', 'chest': 'chest', 'ankle': 'right_ankle'},
  'left': {'hand': 'left_wrist', 'chest': 'chest', 'ankle': 'left_ankle'},
}
# The fixed site set of evaluation windows: the dominant side named as right (8 of 9 subjects).
DOMINANT_SITES: tuple[str, ...] = ('right_wrist', 'chest', 'right_ankle')
# The anatomical site set: subject 108's hand/ankle IMUs land on the left-side sites.
ANATOMICAL_SITES: tuple[str, ...] = (
  'right_wrist',
  'left_wrist',
  'chest',
  'right_ankle',
  'left_ankle',
)


def dominant_side(subject: int) -> str:
  """'left' or 'right', from the dataset's subjectInformation."""
  return 'left' if subject in LEFT_HANDED_SUBJECTS else 'right'


def imu_sites(subject: int) -> tuple[str, str, str]:
  """Anatomical sites of the (hand, chest, ankle) IMUs of `subject`."""
  sites = SITES_BY_SIDE[dominant_side(subject)]
  return tuple(sites[imu] for imu in IMUS)  # type: ignore[return-value]


# The fixed split of Hammerla, Halloran and Plötz (IJCAI 2016, "Deep, convolutional, and
# recurrent models for human activity recognition using wearables"), reused by many later deep
# HAR papers: subject 105 validates, subject 106 tests, the other seven train. The dataset's
# own benchmark (Reiss and Stricker 2012) uses leave-one-subject-out: `group` in the windows.
LITERATURE_SPLIT: dict[str, tuple[int, ...]] = {
  'train': (101, 102, 103, 104, 107, 108, 109),
  'validation': (105,),
  'test': (106,),
}

_FILE_RE = re.compile(r'^subject(1\d\d)\.dat$')


def data_file(subject: int) -> str:
  """101 -> 'subject101.dat'."""
  if subject not in SUBJECTS:
    raise ValueError(f'PAMAP2 subjects are {SUBJECTS[0]}..{SUBJECTS[-1]}, got {subject}')
  return f'subject{subject}.dat'


def subject_of_file(name: str) -> int | None:
  """'subject105.dat' -> 105; None for any other name."""
  match = _FILE_RE.match(name)
  return int(match.group(1)) if match else None


def expected_subjects(session: str) -> tuple[int, ...]:
  """The subjects whose file the released archive holds for `session`."""
  if session not in SESSIONS:
    raise ValueError(f'unknown PAMAP2 session {session!r}; expected one of {SESSIONS}')
  return SUBJECTS if session == 'protocol' else OPTIONAL_SUBJECTS
