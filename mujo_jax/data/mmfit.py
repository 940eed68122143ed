"""MM-Fit windows in the batch schema, with the reference loader's semantics.

The TFDS builder (`tfds_builders/mmfit`) stores one example per workout with every stream on the
pose clock (30 Hz frames) or on a 50 Hz IMU timeline anchored at the first pose frame. This module
cuts those workouts into windows exactly like the official MM-Fit loader (github
KDMStromback/mm-fit, `utils/dataset.py` + `train_multimodal_ar.py`), so that numbers are
comparable with published ones:

* A window is identified by a pose index i; its frame is f = frame[i]. The pose window is the
  150 pose rows i .. i+149 (by index, as the reference slices `pose_3d[:, i:i+150]`).
* The valid indices of a workout are 0 .. N - 150 - 30 - 1: the reference's
  `__len__ = N - skeleton_window_length - 30` (the 30 frames keep the sensor window inside the
  recording).
* Evaluation windows start at indices 0, 6, 12, ... (stride 0.2 s). With
  `stride_origin='split'` they instead follow the reference's `SequentialStridedSampler` over
  the `ConcatDataset` of the split's workouts, whose stride runs across workout boundaries.
* Label: the first labels row with start < f + 75 < end (strict), else non_activity.
* IMU window: the 250 samples of the 50 Hz timeline from the first sample at or after the time
  of frame f (`pose_time_s[i]`; the builder documents how frames map to time).

Missing data is masked, never invented: a site whose device was not worn in the workout, or
whose 250 samples are not all measured (NaN in the stored timeline), has `imu_sites` False and
zeros in `imu`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Literal

import grain
import numpy as np
import tensorflow_datasets as tfds

from mujo_jax.facts import mmfit_layout
from mujo_jax.facts.activities import NON_ACTIVITY
from mujo_jax.facts.mmfit_layout import (
  DEVICES,
  EVAL_STRIDE_S,
  IMU_RATE_HZ,
  POSE_FPS,
  REFERENCE_MARGIN_FRAMES,
  WINDOW_S,
)
from mujo_jax.facts.resample import num_samples

DEFAULT_SITES = mmfit_layout.DEFAULT_DEVICES
SPLITS: tuple[str, ...] = tuple(mmfit_layout.SPLITS)
# Modalities a window can carry, for the `present` vector; MM-Fit has no video or text.
_KNOWN_MODALITIES = ('imu', 'pose', 'video', 'text')

PoseAxes = Literal['z_up', 'file']


@dataclasses.dataclass(frozen=True, kw_only=True)
class WindowSpec:
  """How windows are cut; the defaults are the reference's."""

  window_s: float = WINDOW_S
  sites: tuple[str, ...] = DEFAULT_SITES
  modalities: tuple[str, ...] | None = None
  pose_axes: PoseAxes = 'z_up'

  def __post_init__(self):
    if not (math.isfinite(self.window_s) and self.window_s > 0):
      raise ValueError(f'window_s must be finite and > 0, got {self.window_s}')
    if not self.sites or isinstance(self.sites, str):
      raise ValueError(f'sites must be a non-empty tuple of device names, got {self.sites!r}')
    unknown = [s for s in self.sites if s not in DEVICES]
    if unknown:
      raise ValueError(f'unknown MM-Fit sites {unknown}; expected names from {DEVICES}')
    if self.modalities is not None:
      unknown = [m for m in self.modalities if m not in _KNOWN_MODALITIES]
      if unknown:
        raise ValueError(f'unknown modalities {unknown}; expected names from {_KNOWN_MODALITIES}')
    if self.pose_axes not in ('z_up', 'file'):
      raise ValueError(f"pose_axes must be 'z_up' or 'file', got {self.pose_axes!r}")

  @property
  def pose_frames(self) -> int:
    return num_samples(self.window_s, POSE_FPS)

  @property
  def imu_samples(self) -> int:
    return num_samples(self.window_s, IMU_RATE_HZ)


def window_label(
  frame: int,
  set_start: np.ndarray,
  set_end: np.ndarray,
  set_label: np.ndarray,
  pose_frames: int = 150,
) -> int:
  """The reference label of a window starting at `frame`: first set with start < centre < end.

  The centre is `frame + pose_frames / 2` (f + 75 for 5 s), compared strictly on both sides.
  """
  centre = frame + pose_frames / 2
  inside = np.flatnonzero((set_start < centre) & (centre < set_end))
  return int(set_label[inside[0]]) if inside.size else NON_ACTIVITY


def _to_z_up(pose: np.ndarray) -> np.ndarray:
  """MM-Fit camera axes (x right, y down, z forward) -> x right, y forward, z up.

  A proper rotation (det +1). It assumes MM-Fit's pose_3d follows the VideoPose3D / Human3.6M
  camera convention with y pointing down, which its plotting code (y drawn as the vertical axis)
  suggests; pass `pose_axes='file'` to keep the stored axes.
  """
  return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], axis=-1)


@dataclasses.dataclass
class _Workout:
  """The arrays of one workout that windows need (pose already pelvis-relative)."""

  number: int
  subject: int
  frame: np.ndarray  # (N,) int64
  pose_time_s: np.ndarray  # (N,) float64
  pose: np.ndarray  # (N, 17, 3) float32
  imu: np.ndarray  # (K, S, 6) float32, NaN where not measured
  sets: tuple[np.ndarray, np.ndarray, np.ndarray]  # start, end, label


def _load_workout(record: dict[str, Any], spec: WindowSpec) -> _Workout:
  pose = np.asarray(record['pose_3d'], np.float32)
  pose = pose - pose[:, :1, :]
  if spec.pose_axes == 'z_up':
    pose = _to_z_up(pose)
  num_samples = max((np.asarray(record['imu'][d]).shape[0] for d in DEVICES), default=0)
  imu = np.full((num_samples, len(spec.sites), 6), np.nan, np.float32)
  for column, device in enumerate(spec.sites):
    stream = np.asarray(record['imu'][device], np.float32)
    imu[: stream.shape[0], column] = stream
  sets = record['sets']
  return _Workout(
    number=mmfit_layout.workout_number(record['workout']),
    subject=int(record['subject']),
    frame=np.asarray(record['frame'], np.int64),
    pose_time_s=np.asarray(record['pose_time_s'], np.float64),
    pose=pose,
    imu=imu,
    sets=(
      np.asarray(sets['start_frame']),
      np.asarray(sets['end_frame']),
      np.asarray(sets['label']),
    ),
  )


class WindowSource:
  """Random-access windows of one split: (workout, pose index) pairs cut on demand.

  Workouts are decoded from the TFDS data source on first use and kept in memory (pose and the
  selected IMU sites: ~25 MB per full-size workout). Pickling (grain worker processes) drops the
  cache; each worker decodes what it needs.
  """

  def __init__(self, data_dir: str | None, split: str, spec: WindowSpec, starts_fn: Any):
    if split not in SPLITS:
      raise ValueError(f'unknown MM-Fit split {split!r}; expected one of {SPLITS}')
    self._data_dir = data_dir
    self._split = split
    self._spec = spec
    self._source = tfds.data_source('mmfit', split=split, data_dir=data_dir)
    self._cache: dict[int, _Workout] = {}
    lengths = []
    for index in range(len(self._source)):
      lengths.append(self._workout(index).frame.size)
    self._index = starts_fn(lengths, spec)  # (W, 2) int64: workout index, pose index

  def __getstate__(self):
    state = dict(self.__dict__)
    state['_cache'] = {}
    return state

  def _workout(self, index: int) -> _Workout:
    if index not in self._cache:
      self._cache[index] = _load_workout(self._source[index], self._spec)
    return self._cache[index]

  def __len__(self) -> int:
    return int(self._index.shape[0])

  def __getitem__(self, item: int) -> dict[str, np.ndarray]:
    workout_index, pose_index = (int(v) for v in self._index[item])
    return cut_window(self._workout(workout_index), pose_index, self._spec)

  def __repr__(self) -> str:
    return (
      f'mmfit.WindowSource(split={self._split!r}, windows={len(self)}, sites={self._spec.sites})'
    )


def cut_window(workout: _Workout, pose_index: int, spec: WindowSpec) -> dict[str, np.ndarray]:
  """One window in the batch schema (no batch axis)."""
  pose_frames, imu_samples = spec.pose_frames, spec.imu_samples
  frame = int(workout.frame[pose_index])
  pose = workout.pose[pose_index : pose_index + pose_frames]
  if pose.shape[0] != pose_frames:
    raise ValueError(
      f'w{workout.number:02d}: pose index {pose_index} leaves '
      f'{pose.shape[0]} < {pose_frames} frames'
    )
  # First 50 Hz sample at or after the time of frame f.
  start = int(math.ceil(workout.pose_time_s[pose_index] * IMU_RATE_HZ - 1e-6))
  imu = workout.imu[start : start + imu_samples]
  if imu.shape[0] < imu_samples:
    imu = np.concatenate(
      [imu, np.full((imu_samples - imu.shape[0],) + imu.shape[1:], np.nan, np.float32)]
    )
  sites = np.all(np.isfinite(imu), axis=(0, 2))
  imu = np.where(sites[None, :, None], imu, 0.0).astype(np.float32)
  window = {
    'pose': np.ascontiguousarray(pose, np.float32),
    'imu': imu,
    'imu_sites': sites,
    'label': np.int32(window_label(frame, *workout.sets, pose_frames=pose_frames)),
    'workout': np.int32(workout.number),
    'subject': np.int32(workout.subject),
    'start_frame': np.int32(frame),
  }
  if spec.modalities is not None:
    has = {'imu': bool(sites.any()), 'pose': True, 'video': False, 'text': False}
    window['present'] = np.array([has[m] for m in spec.modalities], bool)
  return window


def _valid_count(num_frames: int, spec: WindowSpec) -> int:
  """The reference `__len__`: N - window - 30 (may be <= 0 for short workouts)."""
  return max(0, num_frames - spec.pose_frames - REFERENCE_MARGIN_FRAMES)


def _strided_starts(stride_frames: int, origin: str):
  def starts(lengths: Sequence[int], spec: WindowSpec) -> np.ndarray:
    rows = []
    offset = 0
    for workout_index, length in enumerate(lengths):
      count = _valid_count(length, spec)
      first = 0 if origin == 'workout' else (-offset) % stride_frames
      indices = np.arange(first, count, stride_frames, dtype=np.int64)
      rows.append(np.stack([np.full_like(indices, workout_index), indices], axis=1))
      offset += count
    return np.concatenate(rows) if rows else np.zeros((0, 2), np.int64)

  return starts


def _all_starts(lengths: Sequence[int], spec: WindowSpec) -> np.ndarray:
  return _strided_starts(1, 'workout')(lengths, spec)


def eval_windows(
  data_dir: str | None,
  split: str,
  window_s: float = WINDOW_S,
  stride_s: float = EVAL_STRIDE_S,
  sites: Sequence[str] = DEFAULT_SITES,
  modalities: Sequence[str] | None = None,
  pose_axes: PoseAxes = 'z_up',
  stride_origin: Literal['workout', 'split'] = 'workout',
) -> grain.MapDataset:
  """Evaluation windows of an MM-Fit split, in order, at a fixed stride.

  Args:
    data_dir: TFDS data_dir holding the built `mmfit` dataset (None: the TFDS default).
    split: 'train', 'validation', 'test' or 'unseen_test'.
    window_s: window length (5 s = 150 pose frames, 250 IMU samples).
    stride_s: stride (0.2 s = 6 pose frames).
    sites: devices to emit, in the order of the `imu` site axis (`DEVICE_SITES` names them).
    modalities: if given, each element carries `present` (M,) bool in this order.
    pose_axes: 'z_up' (x right, y forward, z up; see `_to_z_up`) or 'file' (stored axes).
    stride_origin: 'workout' (indices 0, 6, 12, ... in every workout) or 'split' (the
      reference's strided sampler over the concatenated split).

  Returns:
    A MapDataset of dicts: pose (T30,17,3) f32 pelvis-relative metres, imu (T50,S,6) f32,
    imu_sites (S,) bool, label/workout/subject/start_frame int32 [, present (M,) bool].
  """
  spec = WindowSpec(
    window_s=window_s,
    sites=tuple(sites),
    modalities=None if modalities is None else tuple(modalities),
    pose_axes=pose_axes,
  )
  stride_frames = int(round(stride_s * POSE_FPS))
  if stride_frames < 1:
    raise ValueError(f'stride_s={stride_s} is less than one pose frame')
  if stride_origin not in ('workout', 'split'):
    raise ValueError(f"stride_origin must be 'workout' or 'split', got {stride_origin!r}")
  source = WindowSource(data_dir, split, spec, _strided_starts(stride_frames, stride_origin))
  return grain.MapDataset.source(source)


def train_windows(
  data_dir: str | None,
  split: str,
  seed: int,
  window_s: float = WINDOW_S,
  sites: Sequence[str] = DEFAULT_SITES,
  modalities: Sequence[str] | None = None,
  pose_axes: PoseAxes = 'z_up',
) -> grain.MapDataset:
  """Training windows at random offsets: every valid start index once per epoch, shuffled.

  This is the reference's `RandomSampler` over all indices of the concatenated split. Elements
  have the keys of `eval_windows`. Call `.repeat()` for more than one epoch.
  """
  spec = WindowSpec(
    window_s=window_s,
    sites=tuple(sites),
    modalities=None if modalities is None else tuple(modalities),
    pose_axes=pose_axes,
  )
  source = WindowSource(data_dir, split, spec, _all_starts)
  return grain.MapDataset.source(source).shuffle(seed=seed)
