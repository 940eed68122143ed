"""MM-Fit on disk and the reference loader's windows: the one place these facts are written.

MM-Fit (Strömbäck et al., IMWUT 2020) stores each workout `wNN` as `wNN/wNN_<modality>.npy`
plus a header-less `wNN_labels.csv` (start_frame,end_frame,reps,activity). `pose_3d` is
(3, N, 18): per channel the camera frame number, then 17 Human3.6M joints in millimetres;
`pose_2d` is (2, N, 19) with 18 COCO joints in pixels; every sensor file holds rows of
(frame, timestamp ms, values...). The TFDS builder (`tfds_builders/mmfit`) reads this layout,
the synthetic writer (`mujo_jax.synthesis.mmfit_writer`) writes it, and `mujo_jax.data.mmfit`
cuts the reference's windows from the built dataset.
"""

from __future__ import annotations

import re

POSE_FPS = 30.0  # Camera frames per second: the clock of a workout.
FRAME_MS = 1000.0 / POSE_FPS
IMU_RATE_HZ = 50.0  # The builder's uniform IMU timeline, anchored at the first pose frame.
POSE_3D_UNITS_PER_M = 1000.0  # pose_3d is in millimetres (its plotting code draws 650 mm).

DEVICES: tuple[str, ...] = ('sw_l', 'sw_r', 'sp_l', 'sp_r', 'eb_l')
MAG_DEVICES: tuple[str, ...] = ('sp_l', 'sp_r')
HR_DEVICES: tuple[str, ...] = ('sw_l', 'sw_r')
# Devices worn in all 21 workouts (sp_l is missing in 15 of them).
DEFAULT_DEVICES: tuple[str, ...] = ('sw_l', 'sw_r', 'sp_r', 'eb_l')
# The only workouts with `sp_l_*` files.
SP_L_WORKOUTS = frozenset({3, 6, 8, 13, 14, 17})
# Every modality file, in the reference order.
MODALITIES: tuple[str, ...] = (
  'sw_l_acc', 'sw_l_gyr', 'sw_l_hr', 'sw_r_acc', 'sw_r_gyr', 'sw_r_hr', 'sp_l_acc', 'sp_l_gyr',
  'sp_l_mag', 'sp_r_acc', 'sp_r_gyr', 'sp_r_mag', 'eb_l_acc', 'eb_l_gyr', 'pose_2d', 'pose_3d',
)  # fmt: skip
NUM_POSE_3D_JOINTS = 17
NUM_POSE_2D_JOINTS = 18

# Participant of each workout, from the official MM-Fit EDA notebook (github
# KDMStromback/mm-fit, "Workout-Participant ID mapping").
SUBJECT_BY_WORKOUT: dict[str, int] = {
  'w00': 2, 'w01': 0, 'w02': 1, 'w03': 0, 'w04': 1, 'w05': 2, 'w06': 0, 'w07': 1, 'w08': 0,
  'w09': 1, 'w10': 0, 'w11': 1, 'w12': 3, 'w13': 4, 'w14': 0, 'w15': 1, 'w16': 5, 'w17': 6,
  'w18': 7, 'w19': 8, 'w20': 9,
}  # fmt: skip

# The split recommended by the MM-Fit authors (TFDS split names).
SPLITS: dict[str, tuple[str, ...]] = {
  'train': ('w01', 'w02', 'w03', 'w04', 'w06', 'w07', 'w08', 'w16', 'w17', 'w18'),
  'validation': ('w14', 'w15', 'w19'),
  'test': ('w09', 'w10', 'w11'),
  'unseen_test': ('w00', 'w05', 'w12', 'w13', 'w20'),
}

# The reference loader's windows (github KDMStromback/mm-fit, `utils/dataset.py`): 5 s long,
# evaluated every 0.2 s, labelled by the set containing the window centre, and kept 30 pose
# frames (1 s) away from the end so that the sensor window stays inside the recording
# (`__len__ = N - skeleton_window_length - 30`).
WINDOW_S = 5.0
EVAL_STRIDE_S = 0.2
REFERENCE_MARGIN_FRAMES = 30

_WORKOUT_RE = re.compile(r'w\d\d')


def is_workout_id(name: str) -> bool:
  """Whether `name` is a workout folder name `wNN`."""
  # fullmatch: `$` alone also matches before a trailing newline ('w01\n').
  return isinstance(name, str) and bool(_WORKOUT_RE.fullmatch(name))


def workout_id(number: int) -> str:
  """3 -> 'w03'."""
  if not 0 <= number <= 99:
    raise ValueError(f'MM-Fit workout numbers lie in 0..99, got {number}')
  return f'w{number:02d}'


def workout_number(name: str | bytes) -> int:
  """'w03' (or b'w03') -> 3."""
  name = name.decode() if isinstance(name, bytes) else str(name)
  if not is_workout_id(name):
    raise ValueError(f'unexpected MM-Fit workout id {name!r}; expected wNN')
  return int(name[1:])


def modality_file(workout: str, modality: str) -> str:
  """File name of one modality of a workout: `wNN_<modality>.npy`."""
  return f'{workout}_{modality}.npy'


def labels_file(workout: str) -> str:
  """File name of a workout's labels: `wNN_labels.csv`."""
  return f'{workout}_labels.csv'
