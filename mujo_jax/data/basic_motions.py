"""BasicMotions: real smartwatch recordings (acc + gyro) of four activities, as an evaluation set.

Source. The UEA/UCR archive's BasicMotions, bundled with `sktime` (and byte-identical in
`aeon`, whose numba pin cannot be installed next to this project's numpy: aeon 1.6.0 needs
numba < 0.64 and numba 0.63.1 needs numpy < 2.4). Its description: four students each wore a
smartwatch and recorded standing ("resting"), walking, running and playing badminton five
times, 10 s per recording, "sampled once every tenth of a second"; 6 channels (3-D
accelerometer, 3-D gyroscope). 80 recordings, 20 per class; the archive's train/test split is
40/40 and we use both halves. The files carry no subject ids and no device placement, so a
recording is the unit of cross-validation (`group`) and the wrist is unknown: we map the watch
to `left_wrist`, the usual wrist for a watch.

Units and rate, established from the data (all 80 recordings):
- Rate 10 Hz, 100 samples = 10 s, as documented, and consistent with the motion: at 10 Hz the
  walking recordings' gyroscope spectra peak at 0.6-0.8 Hz (arm swing) and their |acc| spectra
  at 1.4-1.6 Hz (steps, twice the swing rate: 85-95 steps/min), running gyroscopes at
  1.0-1.2 Hz. Any other rate would put walking cadence outside the human range.
- Gyroscope in rad/s: |gyr| median 0.23 standing, 1.49 walking, 5.08 running, 3.03 badminton
  (as deg/s walking would be a 1.5 °/s arm swing, which is stillness).
- Accelerometer in m/s², with gravity removed (linear acceleration, not specific force):
  standing recordings read |acc| median 0.56 (mean vector 0.03-0.32 per recording), not 9.81
  or 1; walking |acc| median 3.3, running 16.7 (peaks 32 ≈ 3.3 g), badminton peaks 44. In g,
  a standing person would be shaking at 0.3-0.9 g rms per axis. The removed gravity is not the
  current one: a 10 s recording's mean linear acceleration should be ~0, but running reads a mean of
  (4.9, -4.6, -2.3) m/s² per axis and badminton (4.3, -0.9, -1.6), walking (0.8, 0.0, -0.3),
  standing (-0.1, 0.1, 0.0). That is what a gravity vector fixed at the start with the arm
  hanging (the watch's x axis down the forearm, reading -9.81) leaves behind once the forearm
  is raised: +x grows by up to 9.81. So the device subtracted a (roughly) fixed gravity.

Conversion to the project's units (acc m/s² specific force incl. gravity, gyr rad/s): with
`restore_gravity=True` (default) the fixed gravity reading of a hanging left forearm,
(-9.81, 0, 0) in the sensor frame, is added back. That frame matches the virtual `left_wrist`
sensor (x along the forearm towards the hand), and a watch's x axis (3 o'clock) on the left
wrist also points to the hand. It is exact for a gravity vector fixed at a hanging-arm start and
an approximation otherwise; `restore_gravity=False` keeps the recorded linear acceleration.
Statistics that are standardised per feature do not change (a constant shift).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from mujo_jax.facts.resample import resample
from mujo_jax.facts.units import GRAVITY

CLASS_NAMES: tuple[str, ...] = ('standing', 'walking', 'running', 'badminton')
RATE_HZ = 10.0
RECORDING_S = 10.0
SITE = 'left_wrist'
IMU_RATE_HZ = 50.0
# Gravity's reading in the sensor frame of a left-wrist watch on a hanging arm (x to the hand).
HANGING_ARM_GRAVITY = np.array([-GRAVITY, 0.0, 0.0])


@functools.cache
def recordings() -> tuple[np.ndarray, np.ndarray]:
  """All 80 recordings: (80, 100, 6) float64 as stored (acc m/s² without gravity, gyr rad/s),
  at 10 Hz, and their labels (80,) int32 into `CLASS_NAMES` (train split first, then test)."""
  if importlib.util.find_spec('sktime') is None:
    raise ModuleNotFoundError(
      'BasicMotions needs the sktime package: pip install "mujo_jax[eval-real]"'
    )
  from sktime.datasets import load_basic_motions

  xs, ys = [], []
  for split in ('train', 'test'):
    x, y = load_basic_motions(split=split, return_type='numpy3D')
    xs.append(np.asarray(x, np.float64).transpose(0, 2, 1))
    ys.append(np.asarray([CLASS_NAMES.index(str(name).lower()) for name in y], np.int32))
  x, y = np.concatenate(xs), np.concatenate(ys)
  x.setflags(write=False)
  y.setflags(write=False)
  return x, y


def to_project_units(stored: np.ndarray, restore_gravity: bool = True) -> np.ndarray:
  """(..., 6) stored channels -> acc specific force incl. gravity (m/s²) + gyr (rad/s)."""
  out = np.array(stored, np.float64)
  if restore_gravity:
    out[..., :3] += HANGING_ARM_GRAVITY
  return out


def windows(
  window_s: float = 5.0,
  hop_s: float = 2.5,
  imu_rate_hz: float = IMU_RATE_HZ,
  pose_fps: float = 30.0,
  restore_gravity: bool = True,
) -> dict[str, object]:
  """Every recording's windows in the batch schema (IMU only: there is no pose).

  Args:
    window_s, hop_s: window length and hop (s); 5 s every 2.5 s gives 3 windows a recording.
    imu_rate_hz: output rate; the 10 Hz recordings are resampled (polyphase).
    pose_fps: unused (no pose); accepted so every real dataset takes the same arguments.
    restore_gravity: add the fixed gravity back (see the module docstring).

  Returns:
    `imu` (N, T, 1, 6) float32, `imu_sites` (N, 1) bool, `label` (N,) int32, `group` (N,)
    int32 (the recording: no subject ids exist), `class_names`, `sites` ('left_wrist',).
  """
  del pose_fps
  if not 0 < window_s <= RECORDING_S or hop_s <= 0:
    raise ValueError(
      f'window_s must be in (0, {RECORDING_S}] and hop_s > 0, got {window_s}, {hop_s}'
    )
  x, y = recordings()
  length = round(window_s * imu_rate_hz)
  imu, label, group = [], [], []
  for index, recording in enumerate(x):
    stream = resample(to_project_units(recording, restore_gravity), RATE_HZ, imu_rate_hz)
    start = 0.0
    while round(start * imu_rate_hz) + length <= len(stream):
      first = round(start * imu_rate_hz)
      imu.append(stream[first : first + length, None, :])
      label.append(y[index])
      group.append(index)
      start += hop_s
  return {
    'imu': np.stack(imu).astype(np.float32),
    'imu_sites': np.ones((len(label), 1), bool),
    'label': np.asarray(label, np.int32),
    'group': np.asarray(group, np.int32),
    'class_names': CLASS_NAMES,
    'sites': (SITE,),
  }
