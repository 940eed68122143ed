"""Writes synthetic workouts in MM-Fit's on-disk layout (`facts.mmfit_layout`), file for file.

MM-Fit cannot be downloaded on our machines or in CI, yet its builder must be tested on files
shaped exactly like the originals. A workout here is one simulated person doing sets of ~10
repetitions of the ten exercises (`motion.generate_motion`), separated by non-activity, filmed
by one camera and worn sensors; every stream is derived from the same motion:

* `wNN_pose_3d.npy` (3, N, 18) float64: [c, i, 0] = frame number (in all three channels), then
  17 Human3.6M joints in millimetres, camera frame (x right, y down, z forward), as
  VideoPose3D-style lifting gives them. MM-Fit's plotting code draws a 650 mm radius, hence mm.
* `wNN_pose_2d.npy` (2, N, 19) float64: frame number, then 18 COCO joints in pixels of a
  1280 x 720 image, projected through the same camera.
* `wNN_<device>_{acc,gyr}.npy` (n, 5) float64: frame, timestamp (ms, epoch-like), x, y, z in
  m/s^2 (specific force incl. gravity) / rad/s, synthesised by `virtual_imu.from_pose` at the
  device's site and sampled at jittered timestamps around the nominal rates of the MM-Fit EDA
  notebook (watches ~100 Hz, S7 phone 210 Hz, P20 phone 500 Hz, earbud ~90 Hz), each device a
  few percent faster than nominal as in the real data. Phone gyroscopes are sampled slightly
  after the accelerometer and have one row more or fewer (the real ±1 mismatch).
* `wNN_sp_{l,r}_mag.npy` (n, 5): frame, timestamp, magnetic field in µT in the sensor frame: a
  constant Earth field rotated by the sensor orientation, which is integrated from the
  gyroscope signal starting from an orientation that agrees with gravity (heading random).
* `wNN_sw_{l,r}_hr.npy` (n, 3): frame, timestamp, bpm at ~1 Hz, rising during sets.
* `wNN_labels.csv`, no header: start_frame,end_frame,reps,activity per set.

The frame column of a sensor row is the camera frame during which it was sampled; frame numbers
start at a random offset, and a few camera frames are missing from the pose arrays (dropped
frames), so a reader that confuses row index with frame number is caught.

Missing files follow MM-Fit: `sp_l_*` only in w03 06 08 13 14 17. Which heart-rate files MM-Fit
lacks is not documented in what we can read; `HR_MISSING` is an illustrative choice.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence

import numpy as np

from mujo_jax.facts import mmfit_layout, skeleton, virtual_imu
from mujo_jax.facts.activities import ACTIVITIES
from mujo_jax.facts.mmfit_layout import FRAME_MS, POSE_FPS, SP_L_WORKOUTS
from mujo_jax.facts.sites import MMFIT_DEVICE_SITES
from mujo_jax.synthesis import camera as camera_lib
from mujo_jax.synthesis import io as io_lib
from mujo_jax.synthesis import motion as motion_lib

EXERCISES: tuple[str, ...] = tuple(a for a in ACTIVITIES if a != 'non_activity')

# Illustrative (not MM-Fit's documented pattern): workout -> watches without a heart-rate file.
HR_MISSING: dict[int, tuple[str, ...]] = {
  2: ('sw_l', 'sw_r'),
  5: ('sw_l', 'sw_r'),
  11: ('sw_r',),
  19: ('sw_l', 'sw_r'),
}
IMAGE_WIDTH, IMAGE_HEIGHT = 1280, 720
# Typical seconds per repetition at tempo 1 (2.4 s unless listed), to size a set of N reps.
_TYPICAL_REP_S = {'jumping_jacks': 1.0, 'pushups': 2.0, 'bicep_curls': 2.2, 'dumbbell_rows': 2.2}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Device:
  """A worn device: the rates its streams are sampled at and its noise."""

  rate_hz: float
  mag_rate_hz: float | None = None
  heart_rate: bool = False
  acc_noise: float = 0.05
  gyr_noise: float = 0.01


DEVICES: dict[str, Device] = {
  'sw_l': Device(rate_hz=100.0, heart_rate=True),
  'sw_r': Device(rate_hz=100.0, heart_rate=True),
  'sp_l': Device(rate_hz=500.0, mag_rate_hz=65.0, acc_noise=0.02, gyr_noise=0.004),  # Huawei P20
  'sp_r': Device(rate_hz=210.0, mag_rate_hz=100.0, acc_noise=0.02, gyr_noise=0.004),  # Samsung S7
  'eb_l': Device(rate_hz=90.0),  # eSense earbud
}
assert tuple(DEVICES) == mmfit_layout.DEVICES
# Earth's field (µT) in the world frame (z up): ~15 µT north, ~48 µT down (Sweden).
EARTH_FIELD_UT = np.array([15.0, 0.0, -48.0])


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkoutSettings:
  """Shape of a synthetic workout.

  Attributes:
    minutes: workout length; None draws a realistic 33-38 min (~64k pose frames).
    reps_per_set: repetitions the motion generator is asked for per set.
    rest_s: (low, high) rest between sets; None scales with the workout length (20-60 s for
      full-size workouts, a few seconds for 1-minute test workouts).
    dropped_frame_rate: fraction of camera frames missing from the pose arrays.
    imu_sim_rate_hz: rate at which the virtual IMU is synthesised before being sampled at each
      device's jittered timestamps.
  """

  minutes: float | None = None
  reps_per_set: int = 10
  rest_s: tuple[float, float] | None = None
  dropped_frame_rate: float = 5e-4
  imu_sim_rate_hz: float = 100.0

  def __post_init__(self):
    if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes >= 0.2):
      raise ValueError(f'minutes must be None or >= 0.2 (12 s), got {self.minutes}')
    if self.reps_per_set < 1:
      raise ValueError(f'reps_per_set must be >= 1, got {self.reps_per_set}')
    if self.rest_s is not None and not 0 < self.rest_s[0] <= self.rest_s[1]:
      raise ValueError(f'rest_s must be (low, high) with 0 < low <= high, got {self.rest_s}')
    if not 0 <= self.dropped_frame_rate < 0.1:
      raise ValueError(f'dropped_frame_rate must lie in [0, 0.1), got {self.dropped_frame_rate}')


def write_mmfit(
  out_dir: str | os.PathLike[str],
  num_workouts: int,
  seed: int = 0,
  overwrite: bool = False,
  minutes: float | None = None,
  settings: WorkoutSettings | None = None,
  workouts: Sequence[int] | None = None,
) -> list[str]:
  """Writes workouts w00, w01, ... (or the listed `workouts`) into `out_dir`.

  Args:
    out_dir: output directory; must be empty or absent unless `overwrite`.
    num_workouts: how many workouts, numbered from 0 (ignored when `workouts` is given).
    seed: everything written is a function of the seed and the workout number.
    overwrite: replace the contents of a non-empty `out_dir`.
    minutes: workout length (shorthand for `settings.minutes`); None = realistic (~35 min).
    settings: full settings; `minutes`, if given, overrides `settings.minutes`.
    workouts: explicit workout numbers to write (e.g. (3, 9, 14) for small dummy data).

  Returns:
    The workout ids written, e.g. ['w00', 'w01'].
  """
  if workouts is None:
    if num_workouts < 1:
      raise ValueError(f'num_workouts must be >= 1, got {num_workouts}')
    workouts = range(num_workouts)
  workouts = [int(w) for w in workouts]
  if not workouts or min(workouts) < 0 or max(workouts) > 99:
    raise ValueError(f'workout numbers must lie in 0..99, got {workouts}')
  settings = settings or WorkoutSettings()
  if minutes is not None:
    settings = dataclasses.replace(settings, minutes=minutes)
  root = io_lib.ensure_empty_out_dir(out_dir, overwrite)
  written = []
  for number in workouts:
    rng = np.random.default_rng([seed, 31_337, number])
    files = make_workout(number, rng, settings, seed)
    name = mmfit_layout.workout_id(number)
    folder = root / name
    folder.mkdir()
    for modality, array in files.items():
      if modality == 'labels':
        continue
      np.save(folder / mmfit_layout.modality_file(name, modality), array)
    with open(folder / mmfit_layout.labels_file(name), 'w', newline='') as handle:
      handle.writelines(f'{s},{e},{r},{a}\n' for s, e, r, a in files['labels'])
    written.append(name)
  return written


def subject_of(number: int) -> int:
  """MM-Fit's participant of workout `number` (workouts of one person share a body); beyond
  w20 new participants follow."""
  known = mmfit_layout.SUBJECT_BY_WORKOUT
  name = mmfit_layout.workout_id(number)
  return known[name] if name in known else number - len(known) + 10


# --------------------------------------------------------------------------------------------
# Motion of a whole workout.
# --------------------------------------------------------------------------------------------


def _blend(previous: np.ndarray, segment: np.ndarray, overlap: int) -> np.ndarray:
  """Joins `segment` to `previous` without a jump.

  Every segment is moved so that its mean pelvis position lies over the same floor spot (the
  person returns to the mat, and the camera keeps them in view over a 35-minute workout); the
  first `overlap` frames cross-fade from the previous segment's last frame.
  """
  segment = segment.copy()
  segment[..., :2] -= segment[:, 0, :2].mean(axis=0)
  overlap = min(overlap, previous.shape[0], segment.shape[0])
  if overlap > 0:
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, overlap))[:, None, None]
    segment[:overlap] = (1 - ramp) * previous[-1][None] + ramp * segment[:overlap]
  return segment


def workout_motion(
  rng: np.random.Generator, subject: motion_lib.Subject, settings: WorkoutSettings
) -> tuple[np.ndarray, list[tuple[int, int, int, str]]]:
  """Pose (F, 17, 3) of a whole workout and its sets as (start index, end index, reps, name)."""
  total_s = (
    settings.minutes * 60.0
    if settings.minutes is not None
    else float(rng.uniform(33.0, 38.0)) * 60.0
  )
  total_frames = int(round(total_s * POSE_FPS))
  rest_range = settings.rest_s or (min(20.0, 0.1 * total_s), min(60.0, 0.25 * total_s))
  order = list(rng.permutation(EXERCISES))
  pieces: list[np.ndarray] = []
  sets = []
  length = 0
  overlap = int(1.0 * POSE_FPS)

  def append(activity: str, duration_s: float) -> tuple[np.ndarray, motion_lib.Motion]:
    nonlocal length
    motion = motion_lib.generate_motion(activity, subject, duration_s, fps=POSE_FPS, rng=rng)
    pose = np.asarray(motion.pose, np.float64)
    pose = _blend(pieces[-1] if pieces else pose[:1], pose, overlap if pieces else 0)
    pieces.append(pose)
    start = length
    length += pose.shape[0]
    return start, motion

  exercise_index = 0
  while length < total_frames:
    remaining_s = (total_frames - length) / POSE_FPS
    rest = max(1.0, min(float(rng.uniform(*rest_range)), remaining_s))
    # Long rests come in chunks of at most 10 s (each re-centred by `_blend`), so a person who
    # walks about while resting stays in the camera's view.
    for chunk_s in _chunks(rest, 10.0):
      append('non_activity', chunk_s)
    remaining_s = (total_frames - length) / POSE_FPS
    activity = order[exercise_index % len(order)]
    rep_s = _TYPICAL_REP_S.get(activity, 2.4) / subject.tempo + subject.pause_s
    set_s = settings.reps_per_set * rep_s + 1.0
    # A set only starts when it fits with a short rest after it.
    if remaining_s < 0.5 * set_s + 2.0:
      for chunk_s in _chunks(max(1.0, remaining_s), 10.0) if remaining_s > 0 else ():
        append('non_activity', chunk_s)
      break
    exercise_index += 1
    start, motion = append(activity, min(set_s, remaining_s - 2.0))
    active = np.flatnonzero(np.asarray(motion.active))
    # Frames that the cross-fade rewrote do not show the exercise yet.
    active = active[active >= overlap]
    if active.size and int(motion.reps) > 0:
      sets.append((start + int(active[0]), start + int(active[-1]), int(motion.reps), activity))
  pose = np.concatenate(pieces)[: max(total_frames, 1)]
  sets = [s for s in sets if s[1] < pose.shape[0]]
  return pose, sets


def _chunks(total_s: float, longest_s: float) -> list[float]:
  count = max(1, math.ceil(total_s / longest_s))
  return [total_s / count] * count


# --------------------------------------------------------------------------------------------
# Sensors.
# --------------------------------------------------------------------------------------------


def _sample_times(
  rng: np.random.Generator, start_ms: float, end_ms: float, rate_hz: float
) -> np.ndarray:
  """Jittered sample times in [start_ms, end_ms): a few % fast, jitter, rare short dropouts."""
  period = 1000.0 / (rate_hz * rng.uniform(1.0, 1.04))
  count = int((end_ms - start_ms) / period * 1.05) + 16
  steps = period * np.clip(1.0 + 0.12 * rng.standard_normal(count), 0.4, 2.0)
  dropouts = rng.random(count) < 2e-4
  steps[dropouts] += rng.uniform(50.0, 300.0, int(dropouts.sum()))
  times = start_ms + rng.uniform(0.0, period) + np.concatenate([[0.0], np.cumsum(steps[:-1])])
  return np.round(times[times < end_ms], 3)


def _interp(times_ms: np.ndarray, grid_ms: np.ndarray, values: np.ndarray) -> np.ndarray:
  return np.stack(
    [np.interp(times_ms, grid_ms, values[:, c]) for c in range(values.shape[1])], axis=1
  )


def _orientations(
  gyr: np.ndarray, acc: np.ndarray, rate_hz: float, rng: np.random.Generator
) -> np.ndarray:
  """Sensor->world rotations (T, 3, 3) integrated from the gyroscope (body rates).

  The start orientation puts the mean accelerometer direction of the first 0.5 s on world up
  (a resting sensor reads +g along its up axis) with a random heading.
  """
  up = acc[: max(1, int(0.5 * rate_hz))].mean(axis=0)
  up = up / np.linalg.norm(up)
  z = np.array([0.0, 0.0, 1.0])
  axis = np.cross(up, z)
  sin, cos = np.linalg.norm(axis), float(up @ z)
  start = (
    _rodrigues(axis / sin * math.atan2(sin, cos))
    if sin > 1e-9
    else (np.eye(3) if cos > 0 else np.diag([1.0, -1.0, -1.0]))
  )
  yaw = rng.uniform(0, 2 * np.pi)
  start = _rodrigues(np.array([0.0, 0.0, yaw])) @ start
  steps = _rodrigues(gyr[:-1] / rate_hz)  # (T-1, 3, 3): rotation from sample k to k+1.
  # Prefix products R_k = start @ steps_0 @ ... @ steps_{k-1}, by doubling (log2 T passes).
  prefix = np.concatenate([np.eye(3)[None], steps])
  span = 1
  while span < prefix.shape[0]:
    prefix[span:] = prefix[:-span] @ prefix[span:]
    span *= 2
  return start @ prefix


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
  rotvec = np.asarray(rotvec, np.float64)
  angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
  axis = rotvec / np.maximum(angle, 1e-12)
  x, y, zc = axis[..., 0], axis[..., 1], axis[..., 2]
  zero = np.zeros_like(x)
  skew = np.stack(
    [np.stack([zero, -zc, y], -1), np.stack([zc, zero, -x], -1), np.stack([-y, x, zero], -1)], -2
  )
  angle = angle[..., None]
  return np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew


def _sensor_rows(
  frames_of: Callable[[np.ndarray], np.ndarray], times: np.ndarray, values: np.ndarray
) -> np.ndarray:
  """MM-Fit sensor rows: frame, timestamp (ms), values."""
  return np.concatenate([frames_of(times)[:, None], times[:, None], values], axis=1)


def make_workout(
  number: int, rng: np.random.Generator, settings: WorkoutSettings, seed: int = 0
) -> dict[str, object]:
  """All arrays of one workout, keyed by modality, plus 'labels' (rows for the CSV)."""
  subject = motion_lib.sample_subject(
    np.random.default_rng([seed, 7_919, subject_of(number)]), subject_of(number)
  )
  pose_world, sets = workout_motion(rng, subject, settings)
  num_frames = pose_world.shape[0]

  # Camera clock: camera frame k (frame number first_frame + k) starts at t0 + k * FRAME_MS.
  first_frame = int(rng.integers(0, 400))
  camera_frames = first_frame + np.arange(num_frames)
  t0_ms = 1.5e12 + float(rng.uniform(0.0, 5e10))
  keep = rng.random(num_frames) >= settings.dropped_frame_rate
  keep[[0, -1]] = True

  def frames_of(times_ms: np.ndarray) -> np.ndarray:
    index = np.floor((times_ms - t0_ms) / FRAME_MS)
    return first_frame + np.clip(index, 0, num_frames - 1)

  files: dict[str, object] = {}

  # Pose through one level-ish camera.
  coco_world = skeleton.h36m_to_coco(pose_world)
  # Far enough that the whole workout (walking lunges travel) stays in front of the camera.
  half_extent = 0.5 * float(np.max(np.ptp(coco_world.reshape(-1, 3), axis=0)))
  ranges = camera_lib.CameraRanges(
    elevation_deg=(0.0, 10.0), roll_deg=1.0, distance_m=(half_extent + 2.5, half_extent + 4.0)
  )
  camera = camera_lib.frame_clip(coco_world, rng, ranges)
  camera_points = (pose_world - camera.position) @ camera.rotation.T
  image = camera_lib.project(coco_world, camera)
  pixels = image * IMAGE_HEIGHT + np.array([(IMAGE_WIDTH - IMAGE_HEIGHT) / 2.0, 0.0])
  pose_3d = np.empty((3, int(keep.sum()), mmfit_layout.NUM_POSE_3D_JOINTS + 1))
  pose_3d[:, :, 0] = camera_frames[keep]
  pose_3d[:, :, 1:] = np.transpose(
    camera_points[keep] * mmfit_layout.POSE_3D_UNITS_PER_M, (2, 0, 1)
  )
  pose_2d = np.empty((2, int(keep.sum()), mmfit_layout.NUM_POSE_2D_JOINTS + 1))
  pose_2d[:, :, 0] = camera_frames[keep]
  pose_2d[:, :, 1:] = np.transpose(pixels[keep], (2, 0, 1))
  files['pose_2d'] = pose_2d
  files['pose_3d'] = pose_3d

  # Inertial signals of every device site, on a uniform grid, then at each device's times.
  sim_rate = settings.imu_sim_rate_hz
  devices = [d for d in DEVICES if d != 'sp_l' or number in SP_L_WORKOUTS]
  imu = virtual_imu.from_pose(
    pose_world, POSE_FPS, [MMFIT_DEVICE_SITES[d] for d in devices], out_rate_hz=sim_rate
  )
  grid_ms = t0_ms + np.arange(imu.shape[0]) * (1000.0 / sim_rate)
  end_ms = t0_ms + num_frames * FRAME_MS
  for column, name in enumerate(devices):
    device = DEVICES[name]
    signals = imu[:, column].astype(np.float64)
    times = _sample_times(rng, t0_ms, end_ms, device.rate_hz)
    noise_std = np.array([device.acc_noise] * 3 + [device.gyr_noise] * 3)
    bias = rng.normal(size=6) * noise_std
    values = _interp(times, grid_ms, signals) + bias + rng.normal(size=(times.size, 6)) * noise_std
    acc_rows = _sensor_rows(frames_of, times, values[:, :3])
    if device.mag_rate_hz is None:
      gyr_rows = _sensor_rows(frames_of, times, values[:, 3:])
    else:
      # Phones sample the gyroscope a little later and end up one row longer or shorter.
      gyr_times = np.round(times + rng.uniform(0.1, 0.8), 3)
      gyr_values = (
        _interp(gyr_times, grid_ms, signals[:, 3:])
        + bias[3:]
        + rng.normal(size=(times.size, 3)) * noise_std[3:]
      )
      gyr_rows = _sensor_rows(frames_of, gyr_times, gyr_values)
      gyr_rows = gyr_rows[gyr_rows[:, 1] < end_ms]
      if rng.random() < 0.5:
        acc_rows = acc_rows[1:] if rng.random() < 0.5 else acc_rows[:-1]
      else:
        gyr_rows = gyr_rows[1:] if rng.random() < 0.5 else gyr_rows[:-1]
      rotations = _orientations(signals[:, 3:], signals[:, :3], sim_rate, rng)
      field = np.einsum('tji,j->ti', rotations, EARTH_FIELD_UT)
      mag_times = _sample_times(rng, t0_ms, end_ms, device.mag_rate_hz)
      hard_iron = rng.normal(0.0, 5.0, size=3)
      mag = (
        _interp(mag_times, grid_ms, field)
        + hard_iron
        + rng.normal(0.0, 0.5, size=(mag_times.size, 3))
      )
      files[f'{name}_mag'] = _sensor_rows(frames_of, mag_times, mag)
    files[f'{name}_acc'] = acc_rows
    files[f'{name}_gyr'] = gyr_rows
    if device.heart_rate and name not in HR_MISSING.get(number, ()):
      files[f'{name}_hr'] = _heart_rate(rng, t0_ms, end_ms, sets, first_frame, frames_of)

  files['labels'] = [
    (first_frame + s, first_frame + e, reps, activity) for s, e, reps, activity in sets
  ]
  return files


def _heart_rate(
  rng: np.random.Generator,
  start_ms: float,
  end_ms: float,
  sets: list[tuple[int, int, int, str]],
  first_frame: int,
  frames_of: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
  """~1 Hz bpm that climbs during sets and recovers in between."""
  times = _sample_times(rng, start_ms, end_ms, 1.0)
  frames = frames_of(times) - first_frame
  effort = np.zeros(times.size)
  for start, end, _, _ in sets:
    effort[(frames >= start) & (frames <= end)] = 1.0
  resting = rng.uniform(60.0, 80.0)
  bpm = np.empty(times.size)
  level = 0.0
  for i, target in enumerate(effort):
    level += (target - level) / 20.0
    bpm[i] = resting + 60.0 * level
  bpm = np.round(bpm + rng.normal(0.0, 1.5, times.size))
  return np.stack([frames_of(times), times, bpm], axis=1)
