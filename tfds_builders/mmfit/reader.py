"""Reads one MM-Fit workout from disk and aligns every stream to the pose clock.

MM-Fit stores each workout as `wNN/wNN_<modality>.npy` plus a header-less `wNN_labels.csv`
(`mujo_jax.facts.mmfit_layout`). Streams run on their own irregular clocks; every sensor row
carries the camera frame it belongs to and a synchronised timestamp in milliseconds. This module
turns a workout into arrays on two uniform clocks:

* the pose clock: the rows of `pose_3d` (30 Hz camera frames, identified by their frame number);
* one 50 Hz IMU timeline anchored at the first pose frame.

Frame -> time. The pose files carry frame numbers but no timestamps, so the time of a pose frame
is taken from the sensor rows, with the reference loader's rule ("a sensor window starts at the
first sample whose frame >= f"): `T(f)` = the earliest timestamp among all acc/gyr rows (every
present device pooled) whose frame column is >= f. Pooling makes `T(f)` the start of frame f to
within the period of the fastest device (2 ms with a 500 Hz phone). Pose frames outside the frame
range covered by the sensors are extrapolated at 1000/30 ms per frame. Sample k of the IMU
timeline lies at `T(first pose frame) + k * 20 ms`.

Resampling. Each acc/gyr/mag/hr stream goes through `mujo_jax.facts.resample.resample` with
its timestamps: linear interpolation by timestamp onto a uniform grid at q * 50 Hz (q = round(
stream rate / 50), at least 1), then decimation by q with a zero-phase polyphase anti-aliasing
filter (`scipy.signal.resample_poly`, the filter family the reference loader resamples its
windows with), so 500 Hz phones do not alias onto 50 Hz. Timeline samples
further outside a stream's first..last timestamp, or inside a gap longer than
`max(ReadSettings.max_gap_s, 5 x the stream's median sample interval)`, are NaN (within three
median intervals beyond the first/last sample the edge value is held, because a stream's first
sample is naturally an interval or two later than the timeline's start): NaN means "not
measured here" and pipelines turn it into a presence mask; it is never replaced by zeros.

Repairs (documented and counted in `WorkoutReport.repairs`, never silent):
* sensor rows with a non-finite value, frame or timestamp are dropped (the gap is interpolated if
  short, NaN otherwise); more than `max_bad_row_fraction` of a file -> error;
* sensor rows out of timestamp order are stably re-sorted and rows repeating a timestamp dropped;
  more than `max_unordered_fraction` of a file out of order -> error;
* pose frames with non-finite joints are linearly interpolated per joint when the stretch is at
  most `max_pose_nan_frames` long; a longer stretch -> error.

Everything else that contradicts the layout (missing `pose_3d` or labels, truncated `.npy`,
wrong shapes, non-increasing pose frames, label rows outside the pose frame range or with an
unknown activity, acc not in m/s² with gravity, gyro in deg/s, pose_3d not in millimetres:
`mujo_jax.facts.units`) raises an error naming the workout and file, found versus expected. A
workout id must be `wNN`, so that it cannot name a path outside the data directory.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import io
import math
import os
import zipfile
from typing import BinaryIO

import numpy as np

from mujo_jax.facts import resample, units
from mujo_jax.facts.activities import ACTIVITIES, NON_ACTIVITY
from mujo_jax.facts.mmfit_layout import (
  DEVICES,
  FRAME_MS,
  HR_DEVICES,
  IMU_RATE_HZ,
  MAG_DEVICES,
  MODALITIES,
  NUM_POSE_2D_JOINTS,
  NUM_POSE_3D_JOINTS,
  POSE_3D_UNITS_PER_M,
  SUBJECT_BY_WORKOUT,
  is_workout_id,
  labels_file,
  modality_file,
)

EDGE_HOLD_INTERVALS = 3.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadSettings:
  """Tolerances of the reader; the defaults are what the builder uses."""

  imu_rate_hz: float = IMU_RATE_HZ
  # A gap between two sensor rows longer than this (or 5 median intervals) is not interpolated.
  max_gap_s: float = 0.5
  # Longest stretch of non-finite pose frames that is interpolated rather than rejected.
  max_pose_nan_frames: int = 15
  # Largest fraction of a sensor file that may be dropped as non-finite, or be out of order.
  max_bad_row_fraction: float = 0.05
  max_unordered_fraction: float = 0.01


# --------------------------------------------------------------------------------------------
# Where the files are: a folder of wNN/ folders, or mm-fit.zip read in place.
# --------------------------------------------------------------------------------------------


class WorkoutSource:
  """The `wNN/` folders of MM-Fit, in a directory or inside `mm-fit.zip`."""

  def workouts(self) -> list[str]:
    raise NotImplementedError

  def exists(self, workout: str, filename: str) -> bool:
    raise NotImplementedError

  def size(self, workout: str, filename: str) -> int:
    raise NotImplementedError

  def open(self, workout: str, filename: str) -> BinaryIO:
    raise NotImplementedError

  def describe(self, workout: str, filename: str) -> str:
    raise NotImplementedError


class FolderSource(WorkoutSource):
  """`root/wNN/wNN_<modality>.npy`."""

  def __init__(self, root: str | os.PathLike[str]):
    self.root = os.fspath(root)

  def workouts(self) -> list[str]:
    return sorted(
      name
      for name in os.listdir(self.root)
      if is_workout_id(name) and os.path.isdir(os.path.join(self.root, name))
    )

  def _path(self, workout: str, filename: str) -> str:
    return os.path.join(self.root, workout, filename)

  def exists(self, workout: str, filename: str) -> bool:
    return os.path.isfile(self._path(workout, filename))

  def size(self, workout: str, filename: str) -> int:
    return os.path.getsize(self._path(workout, filename))

  def open(self, workout: str, filename: str) -> BinaryIO:
    return open(self._path(workout, filename), 'rb')

  def describe(self, workout: str, filename: str) -> str:
    return self._path(workout, filename)


class ZipSource(WorkoutSource):
  """Members `[prefix/]wNN/wNN_<modality>.npy` of a zip archive, read without extracting it."""

  def __init__(self, path: str | os.PathLike[str]):
    self.path = os.fspath(path)
    self._zip = zipfile.ZipFile(self.path)
    self._members: dict[tuple[str, str], zipfile.ZipInfo] = {}
    for info in self._zip.infolist():
      if info.is_dir():
        continue
      parts = info.filename.split('/')
      if len(parts) >= 2 and is_workout_id(parts[-2]):
        self._members[(parts[-2], parts[-1])] = info
    if not self._members:
      raise FileNotFoundError(
        f'{self.path}: no member of the form [mm-fit/]wNN/wNN_<modality>.npy; first members: '
        f'{[i.filename for i in self._zip.infolist()[:5]]}'
      )

  def workouts(self) -> list[str]:
    return sorted({workout for workout, _ in self._members})

  def exists(self, workout: str, filename: str) -> bool:
    return (workout, filename) in self._members

  def size(self, workout: str, filename: str) -> int:
    return self._members[(workout, filename)].file_size

  def open(self, workout: str, filename: str) -> BinaryIO:
    return self._zip.open(self._members[(workout, filename)])

  def describe(self, workout: str, filename: str) -> str:
    info = self._members.get((workout, filename))
    member = info.filename if info else f'{workout}/{filename}'
    return f'{self.path}:{member}'


def find_source(manual_dir: str | os.PathLike[str]) -> WorkoutSource:
  """Finds MM-Fit in `manual_dir`: `mm-fit.zip`, an `mm-fit/` folder, or `wNN/` folders.

  Raises:
    FileNotFoundError: none of the three forms is there; the message lists what is.
  """
  manual_dir = os.fspath(manual_dir)
  if not os.path.isdir(manual_dir):
    raise FileNotFoundError(f'MM-Fit manual_dir {manual_dir!r} is not a directory')
  zip_path = os.path.join(manual_dir, 'mm-fit.zip')
  if os.path.isfile(zip_path):
    return ZipSource(zip_path)
  folder = os.path.join(manual_dir, 'mm-fit')
  if os.path.isdir(folder) and FolderSource(folder).workouts():
    return FolderSource(folder)
  if FolderSource(manual_dir).workouts():
    return FolderSource(manual_dir)
  raise FileNotFoundError(
    f'MM-Fit not found in {manual_dir!r}: expected mm-fit.zip, an mm-fit/ folder, or wNN/ '
    f'folders; found {sorted(os.listdir(manual_dir))[:20]}'
  )


# --------------------------------------------------------------------------------------------
# Loading and validating single files.
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class WorkoutReport:
  """What the reader found missing or repaired in one workout (for the build log)."""

  workout: str
  missing: list[str] = dataclasses.field(default_factory=list)
  incomplete_devices: list[str] = dataclasses.field(default_factory=list)
  repairs: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

  def summary(self) -> str:
    parts = [f'missing={",".join(self.missing) or "-"}']
    if self.incomplete_devices:
      parts.append(f'devices without acc+gyr={",".join(self.incomplete_devices)}')
    if self.repairs:
      parts.append('repairs=' + ','.join(f'{k}:{v}' for k, v in sorted(self.repairs.items())))
    return f'{self.workout}: ' + ' '.join(parts)


def load_npy(source: WorkoutSource, workout: str, filename: str) -> np.ndarray:
  """Loads one `.npy`, checking first that the file holds all the bytes its header promises."""
  where = source.describe(workout, filename)
  total_bytes = source.size(workout, filename)
  try:
    with source.open(workout, filename) as handle:
      version = np.lib.format.read_magic(handle)
      if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
      elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
      else:
        shape, dtype = None, None
      header_bytes = handle.tell()
  except ValueError as error:
    raise ValueError(f'{workout}: {where} is not a valid .npy file ({error})') from None
  if dtype is not None:
    if dtype.kind not in 'fiu':
      raise ValueError(f'{workout}: {where} holds dtype {dtype}; expected a numeric array')
    expected = header_bytes + math.prod(shape) * dtype.itemsize
    if total_bytes < expected:
      raise ValueError(
        f'{workout}: {where} is truncated: its header promises shape {shape} {dtype} '
        f'({expected} bytes with the header) but the file has {total_bytes} bytes'
      )
  try:
    with source.open(workout, filename) as handle:
      array = np.load(handle, allow_pickle=False)
  except (ValueError, EOFError, OSError) as error:
    raise ValueError(f'{workout}: {where} could not be read as .npy ({error})') from None
  if array.dtype.kind not in 'fiu':
    raise ValueError(f'{workout}: {where} holds dtype {array.dtype}; expected a numeric array')
  return array


def _check_shape(
  array: np.ndarray, expected: tuple[int | None, ...], workout: str, where: str, layout: str
) -> None:
  ok = array.ndim == len(expected) and all(
    e is None or s == e for s, e in zip(array.shape, expected, strict=False)
  )
  if not ok:
    shown = '(' + ', '.join('N' if e is None else str(e) for e in expected) + ')'
    raise ValueError(f'{workout}: {where} has shape {array.shape}; expected {shown} ({layout})')


def _integer_frames(values: np.ndarray, workout: str, where: str) -> np.ndarray:
  if not np.all(np.isfinite(values)):
    bad = int(np.argmax(~np.isfinite(values)))
    raise ValueError(f'{workout}: {where} has a non-finite frame number at row {bad}')
  rounded = np.round(values)
  if np.any(np.abs(values - rounded) > 1e-6):
    bad = int(np.argmax(np.abs(values - rounded) > 1e-6))
    raise ValueError(
      f'{workout}: {where} frame column holds {values[bad]!r} at row {bad}; '
      'expected whole frame numbers'
    )
  return rounded.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class LabelRow:
  start_frame: int
  end_frame: int
  reps: int
  label: int


def read_labels(source: WorkoutSource, workout: str) -> list[LabelRow]:
  """Parses `wNN_labels.csv` (no header: start_frame,end_frame,reps,activity)."""
  filename = labels_file(workout)
  where = source.describe(workout, filename)
  if not source.exists(workout, filename):
    raise FileNotFoundError(f'{workout}: labels file {where} is missing (required)')
  with source.open(workout, filename) as handle:
    text = io.TextIOWrapper(handle, encoding='utf-8').read()
  rows = []
  for line_number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
    if not fields or all(not f.strip() for f in fields):
      continue
    if len(fields) != 4:
      raise ValueError(
        f'{workout}: {where} line {line_number} has {len(fields)} fields '
        f'{fields}; expected 4: start_frame,end_frame,reps,activity'
      )
    try:
      start, end, reps = (int(float(f)) for f in fields[:3])
    except ValueError:
      raise ValueError(
        f'{workout}: {where} line {line_number}: {fields[:3]} are not integers '
        '(start_frame,end_frame,reps)'
      ) from None
    activity = fields[3].strip()
    if activity not in ACTIVITIES:
      raise ValueError(
        f'{workout}: {where} line {line_number}: unknown activity {activity!r}; '
        f'expected one of {", ".join(ACTIVITIES)}'
      )
    if end <= start or reps < 0:
      raise ValueError(
        f'{workout}: {where} line {line_number}: start {start}, end {end}, reps '
        f'{reps}; expected start < end and reps >= 0'
      )
    rows.append(LabelRow(start, end, reps, ACTIVITIES.index(activity)))
  return rows


# --------------------------------------------------------------------------------------------
# Repairs and resampling.
# --------------------------------------------------------------------------------------------


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
  """(start, length) of the longest run of True in `mask`."""
  if not mask.any():
    return 0, 0
  padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
  edges = np.flatnonzero(np.diff(padded))
  starts, ends = edges[::2], edges[1::2]
  best = int(np.argmax(ends - starts))
  return int(starts[best]), int(ends[best] - starts[best])


def _clean_sensor(
  array: np.ndarray,
  workout: str,
  where: str,
  settings: ReadSettings,
  report: WorkoutReport,
  name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Returns (frames int64, timestamps_ms float64, values float64) sorted by timestamp."""
  array = np.asarray(array, dtype=np.float64)
  finite = np.all(np.isfinite(array), axis=1)
  dropped = int((~finite).sum())
  if dropped > settings.max_bad_row_fraction * len(array):
    start, length = _longest_run(~finite)
    raise ValueError(
      f'{workout}: {where} has {dropped} of {len(array)} rows with non-finite values (longest '
      f'stretch {length} rows from row {start}); at most '
      f'{settings.max_bad_row_fraction:.0%} can be dropped and bridged'
    )
  if dropped:
    report.repairs[f'{name}:non_finite_rows_dropped'] += dropped
    array = array[finite]
  timestamps = array[:, 1]
  unordered = int(np.sum(np.diff(timestamps) < 0))
  if unordered:
    if unordered > settings.max_unordered_fraction * len(array):
      first = int(np.argmax(np.diff(timestamps) < 0))
      raise ValueError(
        f'{workout}: {where} timestamps decrease at {unordered} of {len(array)} rows (first at '
        f'row {first + 1}: {timestamps[first]} -> {timestamps[first + 1]} ms); expected '
        f'increasing timestamps (at most {settings.max_unordered_fraction:.0%} re-sorted)'
      )
    order = np.argsort(timestamps, kind='stable')
    array = array[order]
    timestamps = array[:, 1]
    report.repairs[f'{name}:rows_resorted'] += unordered
  repeated = np.concatenate([[False], np.diff(timestamps) == 0])
  if repeated.any():
    report.repairs[f'{name}:repeated_timestamps_dropped'] += int(repeated.sum())
    array = array[~repeated]
  if len(array) < 2:
    raise ValueError(f'{workout}: {where} has {len(array)} usable rows; expected at least 2')
  frames = _integer_frames(array[:, 0], workout, where)
  return frames, array[:, 1].copy(), array[:, 2:]


def resample_stream(
  timestamps_ms: np.ndarray,
  values: np.ndarray,
  grid_start_ms: float,
  num_samples: int,
  rate_hz: float,
  max_gap_s: float,
) -> np.ndarray:
  """Resamples an irregular stream onto `grid_start_ms + k * 1000 / rate_hz`, k < num_samples.

  Args:
    timestamps_ms: (n,) strictly increasing sample times.
    values: (n, c) samples.
    grid_start_ms: time of output sample 0.
    num_samples: output length.
    rate_hz: output rate.
    max_gap_s: gaps longer than max(max_gap_s, 5 median intervals) are not bridged.

  Returns:
    (num_samples, c) float32; NaN where the stream does not cover the output sample.
  """
  values = np.asarray(values, dtype=np.float64)
  if values.ndim == 1:
    values = values[:, None]
  median_interval_ms = float(np.median(np.diff(timestamps_ms)))
  out = resample.resample(
    values, None, rate_hz, times_s=(timestamps_ms - grid_start_ms) / 1000.0, num_out=num_samples
  )
  grid = grid_start_ms + np.arange(num_samples) * (1000.0 / rate_hz)
  max_gap_ms = max(max_gap_s * 1000.0, 5.0 * median_interval_ms)
  after = np.searchsorted(timestamps_ms, grid, side='right')
  inside = (after > 0) & (after < timestamps_ms.size)
  gap = np.full(num_samples, np.inf)
  gap[inside] = timestamps_ms[after[inside]] - timestamps_ms[after[inside] - 1]
  # Within EDGE_HOLD_INTERVALS sample intervals beyond either end the edge value is held: a
  # stream's first sample is naturally up to an interval or two later than the timeline start.
  hold_ms = EDGE_HOLD_INTERVALS * median_interval_ms
  near_ends = ((grid >= timestamps_ms[0] - hold_ms) & (grid < timestamps_ms[0])) | (
    (grid >= timestamps_ms[-1]) & (grid <= timestamps_ms[-1] + hold_ms)
  )
  covered = (inside & (gap <= max_gap_ms)) | near_ends
  out = out.astype(np.float32)
  out[~covered] = np.nan
  return out


def frame_times_ms(
  pose_frames: np.ndarray, sensor_frames: list[np.ndarray], sensor_times_ms: list[np.ndarray]
) -> np.ndarray:
  """T(f): earliest pooled sensor timestamp whose frame is >= f, for each pose frame f.

  Frames beyond the sensors' frame range are extrapolated at 1000/30 ms per frame.
  """

  def first_times(query: np.ndarray) -> np.ndarray:
    result = np.full(query.size, np.inf)
    for frames, times in zip(sensor_frames, sensor_times_ms, strict=True):
      if np.all(frames[1:] >= frames[:-1]):
        # Rows are in time order, so with non-decreasing frames the first row whose frame is
        # >= f is also the earliest such row.
        earliest = times
      else:
        order = np.argsort(frames, kind='stable')
        frames = frames[order]
        earliest = np.minimum.accumulate(times[order][::-1])[::-1]
      index = np.searchsorted(frames, query, side='left')
      inside = index < frames.size
      result[inside] = np.minimum(result[inside], earliest[index[inside]])
    return result

  first_frame = min(int(frames.min()) for frames in sensor_frames)
  last_frame = max(int(frames.max()) for frames in sensor_frames)
  result = first_times(pose_frames)
  edges = first_times(np.array([first_frame, last_frame]))
  before, after = pose_frames < first_frame, pose_frames > last_frame
  result[before] = edges[0] - (first_frame - pose_frames[before]) * FRAME_MS
  result[after] = edges[1] + (pose_frames[after] - last_frame) * FRAME_MS
  return result


def _repair_pose(
  values: np.ndarray,
  workout: str,
  where: str,
  frames: np.ndarray,
  settings: ReadSettings,
  report: WorkoutReport,
  name: str,
) -> np.ndarray:
  """Interpolates short stretches of non-finite pose frames; rejects long ones."""
  bad = ~np.all(np.isfinite(values.reshape(values.shape[0], -1)), axis=1)
  if not bad.any():
    return values
  start, length = _longest_run(bad)
  if length > settings.max_pose_nan_frames or bad.all():
    raise ValueError(
      f'{workout}: {where} has {length} consecutive frames with non-finite joints (frames '
      f'{frames[start]}..{frames[start + length - 1]}); at most {settings.max_pose_nan_frames} '
      'are interpolated'
    )
  good = ~bad
  flat = values.reshape(values.shape[0], -1).copy()
  for column in range(flat.shape[1]):
    flat[bad, column] = np.interp(frames[bad], frames[good], flat[good, column])
  report.repairs[f'{name}:non_finite_frames_interpolated'] += int(bad.sum())
  return flat.reshape(values.shape)


# --------------------------------------------------------------------------------------------
# One workout.
# --------------------------------------------------------------------------------------------


def read_workout(
  source: WorkoutSource, workout: str, settings: ReadSettings = ReadSettings()
) -> tuple[dict[str, object], WorkoutReport]:
  """Reads, validates and aligns one workout.

  Returns:
    (example, report): `example` is a dict of numpy arrays in the builder's feature layout
    (see `mmfit_dataset_builder.Builder._info`); `report` lists missing files and repairs.
  """
  if not is_workout_id(workout):
    # The id becomes a path below the data directory: `../x` or `/x` would read elsewhere.
    raise ValueError(
      f'MM-Fit workout id {workout!r}: expected wNN (w and two digits), the name of a workout '
      'folder inside the data directory'
    )
  report = WorkoutReport(workout=workout)

  def filename(modality: str) -> str:
    return modality_file(workout, modality)

  for modality in MODALITIES:
    if not source.exists(workout, filename(modality)):
      report.missing.append(modality)
  if 'pose_3d' in report.missing:
    raise FileNotFoundError(
      f'{workout}: {source.describe(workout, filename("pose_3d"))} is '
      'missing; pose_3d is required (it is the clock of the workout)'
    )

  # Pose: the clock.
  where_3d = source.describe(workout, filename('pose_3d'))
  pose_3d = load_npy(source, workout, filename('pose_3d'))
  _check_shape(
    pose_3d,
    (3, None, NUM_POSE_3D_JOINTS + 1),
    workout,
    where_3d,
    'xyz, frames, frame number + 17 Human3.6M joints',
  )
  if pose_3d.shape[1] < 2:
    raise ValueError(f'{workout}: {where_3d} has {pose_3d.shape[1]} frames; expected at least 2')
  frames = _integer_frames(pose_3d[0, :, 0].astype(np.float64), workout, where_3d)
  if np.any(np.diff(frames) <= 0):
    bad = int(np.argmax(np.diff(frames) <= 0))
    raise ValueError(
      f'{workout}: {where_3d} frame numbers are not increasing at index '
      f'{bad + 1} ({frames[bad]} -> {frames[bad + 1]}); expected increasing frames'
    )
  joints_3d = np.transpose(pose_3d[:, :, 1:], (1, 2, 0)).astype(np.float64)  # (N, 17, 3)
  joints_3d = _repair_pose(joints_3d, workout, where_3d, frames, settings, report, 'pose_3d')
  units.check_pose(joints_3d, f'{workout}: {where_3d}', 'mm')
  # MM-Fit pose_3d is in millimetres (its plotting code draws a 650 mm radius).
  pose_3d_m = (joints_3d / POSE_3D_UNITS_PER_M).astype(np.float32)

  if 'pose_2d' in report.missing:
    pose_2d_px = np.zeros((0, NUM_POSE_2D_JOINTS, 2), np.float32)
  else:
    where_2d = source.describe(workout, filename('pose_2d'))
    pose_2d = load_npy(source, workout, filename('pose_2d'))
    _check_shape(
      pose_2d,
      (2, None, NUM_POSE_2D_JOINTS + 1),
      workout,
      where_2d,
      'xy, frames, frame number + 18 COCO joints',
    )
    frames_2d = _integer_frames(pose_2d[0, :, 0].astype(np.float64), workout, where_2d)
    if not np.array_equal(frames_2d, frames):
      raise ValueError(
        f'{workout}: {where_2d} has {frames_2d.size} frames ({frames_2d[:1]}..'
        f'{frames_2d[-1:]}); expected the {frames.size} frames of pose_3d '
        f'({frames[0]}..{frames[-1]})'
      )
    joints_2d = np.transpose(pose_2d[:, :, 1:], (1, 2, 0)).astype(np.float64)
    pose_2d_px = _repair_pose(
      joints_2d, workout, where_2d, frames, settings, report, 'pose_2d'
    ).astype(np.float32)

  # Labels.
  rows = read_labels(source, workout)
  where_labels = source.describe(workout, labels_file(workout))
  for number, row in enumerate(rows, start=1):
    if row.start_frame < frames[0] or row.end_frame > frames[-1]:
      raise ValueError(
        f'{workout}: {where_labels} row {number} spans frames {row.start_frame}..'
        f'{row.end_frame}, outside the pose frame range {frames[0]}..{frames[-1]}'
      )

  # Sensors.
  streams: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
  for modality in MODALITIES:
    if modality.startswith('pose') or modality in report.missing:
      continue
    where = source.describe(workout, filename(modality))
    array = load_npy(source, workout, filename(modality))
    columns = 3 if modality.endswith('_hr') else 5
    layout = 'frame, timestamp ms, bpm' if columns == 3 else 'frame, timestamp ms, x, y, z'
    _check_shape(array, (None, columns), workout, where, layout)
    streams[modality] = _clean_sensor(array, workout, where, settings, report, modality)
    # Wrong units (g, deg/s) would build without an error and only train wrongly.
    if modality.endswith('_acc'):
      units.check_acc(streams[modality][2], f'{workout}: {where}')
    elif modality.endswith('_gyr'):
      units.check_gyr(streams[modality][2], f'{workout}: {where}')

  inertial = [m for m in streams if m.endswith(('_acc', '_gyr'))]
  if not inertial:
    raise ValueError(
      f'{workout}: no accelerometer or gyroscope file; at least one is needed to '
      'relate pose frames to time'
    )
  sensor_frames = np.concatenate([streams[m][0] for m in inertial])
  if sensor_frames.max() < frames[0] or sensor_frames.min() > frames[-1]:
    raise ValueError(
      f'{workout}: sensor frame numbers {sensor_frames.min()}..{sensor_frames.max()} do not '
      f'overlap the pose frames {frames[0]}..{frames[-1]}'
    )
  pose_times = frame_times_ms(
    frames, [streams[m][0] for m in inertial], [streams[m][1] for m in inertial]
  )
  start_ms = float(pose_times[0])
  step_ms = 1000.0 / settings.imu_rate_hz
  num_samples = int(math.floor((pose_times[-1] + FRAME_MS - start_ms) / step_ms - 1e-9)) + 1

  def resampled(modality: str, channels: int) -> np.ndarray:
    if modality not in streams:
      return np.zeros((0, channels), np.float32)
    _, times, values = streams[modality]
    return resample_stream(
      times, values, start_ms, num_samples, settings.imu_rate_hz, settings.max_gap_s
    )

  imu = {}
  for device in DEVICES:
    acc, gyr = f'{device}_acc', f'{device}_gyr'
    if acc in streams and gyr in streams:
      imu[device] = np.concatenate([resampled(acc, 3), resampled(gyr, 3)], axis=1)
    else:
      if acc in streams or gyr in streams:
        report.incomplete_devices.append(device)
      imu[device] = np.zeros((0, 6), np.float32)
  mag = {device: resampled(f'{device}_mag', 3) for device in MAG_DEVICES}
  hr = {device: resampled(f'{device}_hr', 1)[:, 0] for device in HR_DEVICES}

  label, reps = frame_labels(frames, rows)
  example = {
    'workout': workout,
    'subject': np.int32(SUBJECT_BY_WORKOUT.get(workout, -1)),
    'frame': frames,
    'pose_time_s': ((pose_times - start_ms) / 1000.0).astype(np.float64),
    'timeline_start_ms': np.float64(start_ms),
    'pose_3d': pose_3d_m,
    'pose_2d': pose_2d_px,
    'label': label,
    'reps': reps,
    'sets': {
      'start_frame': np.array([r.start_frame for r in rows], np.int64),
      'end_frame': np.array([r.end_frame for r in rows], np.int64),
      'reps': np.array([r.reps for r in rows], np.int32),
      'label': np.array([r.label for r in rows], np.int32),
    },
    'imu': imu,
    'mag': mag,
    'hr': hr,
    'present': {m: m not in report.missing for m in MODALITIES},
  }
  return example, report


def frame_labels(frames: np.ndarray, rows: list[LabelRow]) -> tuple[np.ndarray, np.ndarray]:
  """Per-frame class and rep count: the first row with start <= frame <= end, else non-activity.

  Inclusive bounds, as the reference's `get_subset` selects a set's frames.
  """
  label = np.full(frames.shape, NON_ACTIVITY, np.int32)
  reps = np.zeros(frames.shape, np.int32)
  assigned = np.zeros(frames.shape, bool)
  for row in rows:
    inside = (frames >= row.start_frame) & (frames <= row.end_frame) & ~assigned
    label[inside] = row.label
    reps[inside] = row.reps
    assigned |= inside
  return label, reps
