"""Shoulder exercises on a smartwatch (seglearn's `watch` data): real recordings for evaluation.

Source. `seglearn` (PyPI, BSD-3) bundles `seglearn/data/watch_dataset.npy`, "6-axis inertial
sensor data ... recorded as study subjects performed sets of 20 shoulder exercise repetitions
while wearing a smartwatch" (its `load_watch`; the study: Burns et al. 2018, "Shoulder
physiotherapy exercise recognition: machine learning the inertial signals from a smartwatch",
arXiv 1802.01489). 140 recordings: 10 subjects × 7 exercises × both arms (`side` 1 = right,
0 = left; the watch is on the exercising arm's wrist), 19-52 s each, sampled at 50 Hz, channels
`ax ay az wx wy wz`. Classes (its `y_labels`): pendulum, abduction, forward elevation, internal
rotation, external rotation, trapezius extension, upright row. Subjects are known, so folds are
subject-wise and a label budget counts recordings (one set of 20 repetitions).

The file is a pickled dict inside a `.npy`. It is read with an unpickler that only rebuilds
NumPy arrays and plain containers, so loading never executes code from the file.

Units and axes, established from the data (tests/test_shoulder_watch.py):
- Accelerometer in g: |acc| has a median of 1.07 over all samples.
- Gyroscope in rad/s: |gyr| has a median of 2.0 over these exercises; in °/s that would be a
  near-still arm.
- The accelerometer reads the gravity vector, not the specific force (Core Motion's sign): in
  abduction and forward elevation, where the raised arm holds the palm down and the watch face
  up, `az` is below -0.7 g for 36-42 % of the samples and above +0.7 g for under 8 %. A
  specific force reads +1 g along the face normal when the face is up.
- After the sign is turned round, a hanging arm (pendulum, trapezius extension) reads the
  specific force -1 g along x on the left wrist and +1 g on the right: x (the watch's 3 o'clock)
  points to the hand on the left wrist, as in the model's `left_wrist` frame, and to the elbow
  on the right wrist, the way round a watch is usually worn there.

Conversion to the project's units: acc (m/s², specific force incl. gravity) = -9.80665 × stored;
gyr as stored. The device axes are kept as recorded (a model meets them as users' data comes).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np

from mujo_jax.data import recordings as recordings_lib
from mujo_jax.facts.units import STANDARD_GRAVITY

CLASS_NAMES: tuple[str, ...] = (
  'pendulum_swings',
  'shoulder_abduction',
  'shoulder_flexion',
  'shoulder_internal_rotation',
  'shoulder_external_rotation',
  'trapezius_extension',
  'upright_rows',
)
# The file's own class codes, in the order of CLASS_NAMES.
STORED_CLASS_CODES: tuple[str, ...] = ('PEN', 'ABD', 'FEL', 'IR', 'ER', 'TRAP', 'ROW')
STORED_CHANNELS: tuple[str, ...] = ('ax', 'ay', 'az', 'wx', 'wy', 'wz')
RATE_HZ = 50.0
# The watch's site by the file's `side` code.
SITES: tuple[str, ...] = ('left_wrist', 'right_wrist')
IMU_RATE_HZ = 50.0

# What the file's pickle may rebuild: NumPy arrays and dtypes (numpy 1.x and 2.x module names),
# and the raw bytes of their buffers (pickled as `_codecs.encode(text, 'latin1')`).
_ALLOWED_GLOBALS = {
  ('_codecs', 'encode'),
  ('numpy.core.multiarray', '_reconstruct'),
  ('numpy._core.multiarray', '_reconstruct'),
  ('numpy.core.multiarray', 'scalar'),
  ('numpy._core.multiarray', 'scalar'),
  ('numpy', 'ndarray'),
  ('numpy', 'dtype'),
}


class _ArraysOnly(pickle.Unpickler):
  def find_class(self, module: str, name: str):
    if (module, name) not in _ALLOWED_GLOBALS:
      raise pickle.UnpicklingError(
        f'watch_dataset.npy: refusing to load {module}.{name} (only NumPy arrays are expected)'
      )
    return super().find_class(module, name)


def data_path() -> Path:
  spec = importlib.util.find_spec('seglearn')
  if spec is None or not spec.submodule_search_locations:
    raise ModuleNotFoundError(
      'the shoulder watch recordings need the seglearn package: pip install "mujo_jax[eval-real]"'
    )
  return Path(next(iter(spec.submodule_search_locations))) / 'data' / 'watch_dataset.npy'


def read_file(path: Path) -> dict:
  """The file's dict, NumPy arrays only (see `_ArraysOnly`); the file is not imported."""
  with open(path, 'rb') as handle:
    version = np.lib.format.read_magic(handle)
    read_header = (
      np.lib.format.read_array_header_1_0
      if version == (1, 0)
      else np.lib.format.read_array_header_2_0
    )
    shape, _, dtype = read_header(handle)
    if dtype != np.dtype(object) or shape != ():
      raise ValueError(f'{path}: expected a pickled dict (object scalar), got {dtype} {shape}')
    # np.save pickles the whole 0-d object array; its one element is the dict.
    content = _ArraysOnly(io.BytesIO(handle.read())).load()
  if isinstance(content, np.ndarray) and content.shape == ():
    content = content.item()
  if not isinstance(content, dict):
    raise ValueError(f'{path}: expected a dict, got {type(content).__name__}')
  return content


@functools.cache
def recordings() -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray]:
  """All 140 recordings as stored: (T_i, 6) float64 (acc g, gravity-vector sign; gyr rad/s) at
  50 Hz, labels (140,) into `CLASS_NAMES`, subjects (140,) and sides (140,) (0 left, 1 right)."""
  path = data_path()
  data = read_file(path)
  missing = {'X', 'y', 'subject', 'side', 'X_labels', 'y_labels'} - set(data)
  if missing:
    raise ValueError(f'{path}: keys {sorted(missing)} are missing')
  if tuple(data['X_labels']) != STORED_CHANNELS or tuple(data['y_labels']) != STORED_CLASS_CODES:
    raise ValueError(
      f'{path}: channels {list(data["X_labels"])} and classes {list(data["y_labels"])}; '
      f'expected {list(STORED_CHANNELS)} and {list(STORED_CLASS_CODES)}'
    )
  xs = tuple(np.asarray(x, np.float64) for x in data['X'])
  labels = np.asarray(data['y'], np.int64)
  subjects = np.asarray(data['subject'], np.int64)
  sides = np.asarray(data['side'], np.float64)
  if not (len(xs) == len(labels) == len(subjects) == len(sides)):
    raise ValueError(f'{path}: X, y, subject and side differ in length')
  for index, x in enumerate(xs):
    if x.ndim != 2 or x.shape[1] != 6 or not np.isfinite(x).all():
      raise ValueError(f'{path}: recording {index} has shape {x.shape}; expected finite (T, 6)')
  if not set(np.unique(sides)) <= {0.0, 1.0} or not set(np.unique(labels)) <= set(
    range(len(CLASS_NAMES))
  ):
    raise ValueError(f'{path}: side must be 0/1 and y in 0..{len(CLASS_NAMES) - 1}')
  for array in (labels, subjects):
    array.setflags(write=False)
  sides = sides.astype(np.int64)
  sides.setflags(write=False)
  return xs, labels.astype(np.int32), subjects.astype(np.int32), sides


def to_project_units(stored: np.ndarray) -> np.ndarray:
  """(T, 6) stored channels -> acc specific force incl. gravity (m/s²) + gyr (rad/s)."""
  out = np.array(stored, np.float64)
  out[..., :3] *= -STANDARD_GRAVITY
  return out


def windows(
  window_s: float = 5.0,
  hop_s: float = 2.5,
  imu_rate_hz: float = IMU_RATE_HZ,
  pose_fps: float = 30.0,
) -> dict[str, object]:
  """Every recording's windows by `recordings.windows`' rules (IMU only: there is no pose).

  The two wrists are the site axis; each recording has the one watch of its exercising arm,
  and the other wrist is absent (masked, counted in `counts`, never zero-filled into a present
  site). Returns `recordings.windows`' dict: `group` is the subject (folds keep a person
  together), `recording` the index into `recordings()` (a budget's unit: one set of repetitions).
  """
  del pose_fps
  rules = recordings_lib.WindowRules(window_s=window_s, hop_s=hop_s, imu_rate_hz=imu_rate_hz)
  xs, labels, subjects, sides = recordings()
  sessions = []
  for stored, label, subject, side in zip(xs, labels, subjects, sides, strict=True):
    imu = np.zeros((len(stored), len(SITES), 6))
    imu[:, side] = to_project_units(stored)
    present = np.zeros((len(stored), len(SITES)), bool)
    present[:, side] = True
    sessions.append(
      recordings_lib.Recording(
        imu=imu,
        present=present,
        labels=np.full(len(stored), label),
        subject=int(subject),
        rate_hz=RATE_HZ,
      )
    )
  return recordings_lib.windows(sessions, SITES, CLASS_NAMES, rules)
