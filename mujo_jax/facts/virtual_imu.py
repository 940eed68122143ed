"""Virtual IMU: accelerometer and gyroscope signals synthesised from any 3D pose sequence.

Method. A site is a point on a body segment (proximal joint -> distal joint, at a fraction of its
length); its sensor frame is the frame of that segment. Trunk segments (pelvis, chest, head) get
an orthonormal frame by Gram-Schmidt from the segment axis (x) and a lateral body direction (the
hip or shoulder line, y), z = x cross y; where the lateral direction is parallel to the axis a
world axis takes its place. Limb segments cannot get their roll from joint positions (a two-joint
segment's twist is unobservable), so their frame is *carried by the parent frame without twist*:
the segment direction is expressed in the parent frame (chest for upper arms, upper arm for
forearms, pelvis for thighs, thigh for shins), an initial frame is the minimal rotation from a
rest direction that the limb cannot reach the opposite of (arms: lateral, thighs: down-forward,
forearms and shins: along the parent; a forearm that starts bent out of its flexion plane is
rolled by the humeral rotation that put it there, read from the elbow hinge, see `_limb_frame`),
and each later frame is the previous one rotated by the
minimal rotation between consecutive directions (parallel transport, a prefix product computed in
log2(T) vectorised steps). So x is always the segment axis, a hinge flexion (elbow, knee) is a
pure rotation about the hinge axis, planar swings add no roll, and no cross product ever
degenerates (consecutive directions are never opposite; if they were, that step is skipped).
Axial rotation of a limb (pronation, humeral rotation) is not observable from joints: it is
absent unless given. `forearm_twist` supplies the forearms' (the two leaf segments') twist
angle: each forearm frame is its twist-free frame rotated about its own x (elbow -> wrist) by
the angle, right-handed, so a twist rate adds exactly that rate to the x gyro of the wrist and
forearm sites and turns their y/z axes about the forearm (the gyro still comes from the SG
derivative of the frames, now twisted). Wrist sites wear a smartwatch's axes, not the bare
forearm frame: x along the forearm towards the hand, z out of the watch face on the back of the
wrist, y = z cross x (12 o'clock), the device axes of Android / Wear OS and Core Motion. The
forearm frame, carried from a lateral arm with the palm down, has its y through the wrist (back
to palm on the left, palm to back on the right), so each wrist site is that frame rolled by a
fixed +90 deg (left) / -90 deg (right) about x (`WATCH_ROLL_DEG`); with the forearm horizontal
and the thumb up a watch then reads -1 g along y, as real watches do (seglearn's recordings,
tests/test_shoulder_watch.py). Accelerometer = specific force f = a - g
(g = (0, 0, -9.81) m/s², world z up) of the site point, rotated into the sensor frame: a sensor
at rest reads +9.81 along its axis that points up. Gyroscope = body angular velocity in the
sensor frame, the vee of R^T dR/dt.

Smoothing and resampling. Estimated 30 Hz pose jitters by centimetres, and differentiating
twice amplifies that by fps². All derivatives therefore use Savitzky-Golay filters (local cubic
least-squares fits over `smoothing_window_s`, default 0.3 s, i.e. 9 frames at 30 Hz; edge
samples are taken from the fit of the first/last full window instead of padding): site
accelerations are the SG second derivative of the site trajectories, frames are built from
SG-smoothed joints, and dR/dt is the SG first derivative of the frame matrices (our
`savgol_filter` equals scipy's with `polyorder=3, mode='interp'`, with the fits cached, since
scipy refits the edges on every call, which dominated a short clip). A cubic fit is
exact for constant acceleration and nearly exact for human motion below ~3 Hz, while attenuating
the jitter band. The sensor-frame signals, computed at the pose rate, are then resampled to
`out_rate_hz` with a cubic spline in time (`resample.resample(kind='cubic')`; the signals are
smooth after SG, so interpolating them is more accurate than interpolating orientations and
re-differentiating, and a spline adds no filter transient); output sample k lies at
k / out_rate_hz seconds from the first pose frame, T_out = round(T * out_rate_hz / fps), and the
few output samples past the last pose frame hold its value. Optional noise adds, per site and
axis, a constant bias and white Gaussian noise after resampling.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from mujo_jax.facts import resample, skeleton
from mujo_jax.facts.sites import FIMAD_SITES, SITES
from mujo_jax.facts.units import GRAVITY  # m/s², along world -z.

DEFAULT_SMOOTHING_WINDOW_S = 0.3
_POLYORDER = 3
_MIN_WINDOW = 5


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImuNoise:
  """Sensor noise, per site and axis: white Gaussian noise plus a constant bias per call.

  Defaults are of the order of consumer MEMS IMUs (smartwatch, phone).

  Attributes:
    acc_std: accelerometer white-noise standard deviation per sample (m/s²).
    gyr_std: gyroscope white-noise standard deviation per sample (rad/s).
    acc_bias_std: standard deviation of the constant accelerometer bias (m/s²).
    gyr_bias_std: standard deviation of the constant gyroscope bias (rad/s).
  """

  acc_std: float = 0.05
  gyr_std: float = 0.01
  acc_bias_std: float = 0.05
  gyr_bias_std: float = 0.005

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if not (math.isfinite(value) and value >= 0):
        raise ValueError(f'ImuNoise.{field.name} must be finite and >= 0, got {value}.')


# --- Segments and sites ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Trunk:
  """A frame by Gram-Schmidt: x along proximal->distal, y along the lateral joint pair."""

  proximal: str
  distal: str
  lateral_from: str
  lateral_to: str


@dataclasses.dataclass(frozen=True)
class _Limb:
  """A frame transported without twist in `parent`'s frame; x along proximal->distal."""

  parent: str
  proximal: str
  distal: str
  rest_direction: tuple[float, float, float]  # In the parent frame; initial-frame reference.
  # A hinge (the elbow): where flexion from `rest_direction` takes the limb, in the parent frame,
  # with the parent's axial rotation at zero. None: no hinge reference (see `_limb_frame`).
  hinge_flexion: tuple[float, float, float] | None = None


# Trunk frames: x up the trunk, y to the subject's left, z = x cross y (backwards when upright).
# Limb rest directions in those frames: (0, +-1, 0) = lateral; (-1, 0, -0.5) = down and forward.
_SEGMENTS: dict[str, _Trunk | _Limb] = {
  'pelvis': _Trunk('pelvis', 'spine', 'right_hip', 'left_hip'),
  'chest': _Trunk('spine', 'thorax', 'right_shoulder', 'left_shoulder'),
  'head': _Trunk('neck', 'head', 'right_shoulder', 'left_shoulder'),
  'left_upper_arm': _Limb('chest', 'left_shoulder', 'left_elbow', (0.0, 1.0, 0.0)),
  'right_upper_arm': _Limb('chest', 'right_shoulder', 'right_elbow', (0.0, -1.0, 0.0)),
  # The elbow flexes the forearm to the front of a hanging upper arm: its frame's -z.
  'left_forearm': _Limb(
    'left_upper_arm', 'left_elbow', 'left_wrist', (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)
  ),
  'right_forearm': _Limb(
    'right_upper_arm', 'right_elbow', 'right_wrist', (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)
  ),
  'left_thigh': _Limb('pelvis', 'left_hip', 'left_knee', (-1.0, 0.0, -0.5)),
  'right_thigh': _Limb('pelvis', 'right_hip', 'right_knee', (-1.0, 0.0, -0.5)),
  'left_shin': _Limb('left_thigh', 'left_knee', 'left_ankle', (1.0, 0.0, 0.0)),
  'right_shin': _Limb('right_thigh', 'right_knee', 'right_ankle', (1.0, 0.0, 0.0)),
}

# The leaf segments `forearm_twist` turns, in its column order.
FOREARMS = ('left_forearm', 'right_forearm')

# Site -> (segment whose frame it wears, fraction of the way from proximal to distal joint).
_SITE_PLACEMENT: dict[str, tuple[str, float]] = {
  'left_wrist': ('left_forearm', 0.9),
  'right_wrist': ('right_forearm', 0.9),
  'left_thigh': ('left_thigh', 0.4),
  'right_thigh': ('right_thigh', 0.4),
  'head': ('head', 0.5),
  'left_forearm': ('left_forearm', 0.5),
  'right_forearm': ('right_forearm', 0.5),
  'left_upper_arm': ('left_upper_arm', 0.5),
  'right_upper_arm': ('right_upper_arm', 0.5),
  'left_shin': ('left_shin', 0.5),
  'right_shin': ('right_shin', 0.5),
  'left_ankle': ('left_shin', 0.95),
  'right_ankle': ('right_shin', 0.95),
  'pelvis': ('pelvis', 0.0),
  'lower_back': ('pelvis', 0.5),
  'chest': ('chest', 0.7),
}
assert set(_SITE_PLACEMENT) == set(SITES) and set(FIMAD_SITES) <= set(SITES)


# Fixed roll (deg, right-handed about x) from the forearm frame to a watch's axes at the wrist
# sites (module docstring): z then points out of the back of the wrist at zero twist.
WATCH_ROLL_DEG: dict[str, float] = {'left_wrist': 90.0, 'right_wrist': -90.0}


def site_placement(site: str) -> tuple[str, str, float]:
  """Returns (proximal joint, distal joint, fraction along the segment) of a site."""
  segment, fraction = _SITE_PLACEMENT[_check_site(site)]
  spec = _SEGMENTS[segment]
  return spec.proximal, spec.distal, fraction


def _check_site(site: str) -> str:
  if site not in _SITE_PLACEMENT:
    raise ValueError(f'Unknown IMU site {site!r}; expected one of {", ".join(SITES)}.')
  return site


# --- Rotation helpers -----------------------------------------------------------------------


def _unit(vectors: np.ndarray) -> np.ndarray:
  return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _minimal_rotation(from_dirs: np.ndarray, to_dirs: np.ndarray) -> np.ndarray:
  """(..., 3, 3) rotations taking unit `from_dirs` to unit `to_dirs` about their common normal.

  Rodrigues' formula R = I + [v]x + [v]x^2 / (1 + c), v = a x b, c = a . b. It is singular only
  for opposite directions; there the identity is returned (callers avoid that case).
  """
  v = np.cross(from_dirs, to_dirs)
  c = np.sum(from_dirs * to_dirs, axis=-1)
  zero = np.zeros_like(c)
  skew = np.stack(
    [
      np.stack([zero, -v[..., 2], v[..., 1]], -1),
      np.stack([v[..., 2], zero, -v[..., 0]], -1),
      np.stack([-v[..., 1], v[..., 0], zero], -1),
    ],
    -2,
  )
  opposite = (1.0 + c) < 1e-9
  scale = np.where(opposite, 0.0, 1.0 / np.maximum(1.0 + c, 1e-9))
  rotation = np.eye(3) + skew + (skew @ skew) * scale[..., None, None]
  return np.where(opposite[..., None, None], np.eye(3), rotation)


def _prefix_products(steps: np.ndarray) -> np.ndarray:
  """Returns P with P[0] = I and P[t] = steps[t-1] @ ... @ steps[0] (along axis 0).

  Hillis-Steele scan: log2(T) batched matmuls instead of a Python loop over time.
  """
  products = np.concatenate([np.broadcast_to(np.eye(3), (1,) + steps.shape[1:]), steps], 0)
  span = 1
  while span < products.shape[0]:
    products = np.concatenate([products[:span], products[span:] @ products[:-span]], 0)
    span *= 2
  return products


def _trunk_frame(axis: np.ndarray, lateral: np.ndarray) -> np.ndarray:
  """(..., 3, 3) frames with columns x = axis, y = lateral orthogonalised, z = x cross y."""
  x = _unit(axis)
  y_raw = lateral - np.sum(lateral * x, -1, keepdims=True) * x
  y_norm = np.linalg.norm(y_raw, axis=-1, keepdims=True)
  # Where the lateral direction is (nearly) parallel to the axis, use the world axis least
  # aligned with the segment instead: a frame that exists, rather than NaN.
  world = np.eye(3)[np.argmin(np.abs(x), axis=-1)]
  y_fallback = world - np.sum(world * x, -1, keepdims=True) * x
  y = _unit(np.where(y_norm > 1e-6, y_raw, y_fallback))
  return np.stack([x, y, np.cross(x, y)], axis=-1)


def _limb_frame(
  parent_frames: np.ndarray,
  direction_world: np.ndarray,
  rest: np.ndarray,
  hinge: np.ndarray,
) -> np.ndarray:
  """(T, N, 3, 3) frames whose x is `direction_world` (T, N, 3), transported without twist.

  `parent_frames` (T, N, 3, 3) are the parents' frames, `rest` (N, 3) the rest directions,
  `hinge` (N, 3) each limb's `hinge_flexion` (zeros: no hinge, so an azimuth of 0 and no roll).

  A hinged limb (the forearm) that starts bent away from its flexion plane got there by the
  parent's axial rotation (humeral rotation), which the parent's twist-free frame does not
  carry; the minimal rotation rest -> d(0) alone would then start it rolled by that angle (a
  forearm turned out in external rotation would start palm down instead of thumb up). Its
  initial frame is therefore rolled about d(0) by the azimuth of d(0) about `rest` measured
  from `hinge`, in full once the joint is bent by 45 deg and fading out below 15 deg, where
  the azimuth is ill-defined. Later frames follow by transport, which turns a bent forearm
  about the upper arm exactly as humeral rotation does.
  """
  local = _unit(np.einsum('tnji,tnj->tni', parent_frames, direction_world))
  rest = _unit(rest)
  # Initial frame: the fixed frame taking x to `rest`, then the minimal rotation rest -> d(0).
  rest_frame = _minimal_rotation(np.broadcast_to([1.0, 0.0, 0.0], rest.shape), rest)
  initial = _minimal_rotation(rest, local[0]) @ rest_frame
  start = local[0]
  bent = start - np.sum(start * rest, -1, keepdims=True) * rest
  sin_flexion = np.linalg.norm(bent, axis=-1)
  azimuth = np.arctan2(np.sum(np.cross(hinge, bent) * rest, -1), np.sum(hinge * bent, -1))
  low, high = np.sin(np.deg2rad(15.0)), np.sin(np.deg2rad(45.0))
  weight = np.clip((sin_flexion - low) / (high - low), 0.0, 1.0)
  roll = Rotation.from_rotvec(start * (weight * azimuth)[:, None]).as_matrix()
  initial = roll @ initial
  steps = _minimal_rotation(local[:-1], local[1:])
  local_frames = _prefix_products(steps) @ initial
  return parent_frames @ local_frames


# --- Public entry point ---------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _savgol_matrix(window: int, deriv: int) -> np.ndarray:
  """(window, window): row r estimates the deriv-th derivative at sample r of the window.

  Least-squares fit of a cubic to the window's samples, then its derivative evaluated at
  each sample position (in units of samples).
  """
  half = window // 2
  positions = np.arange(window, dtype=np.float64) - half
  powers = np.arange(_POLYORDER + 1)
  fit = np.linalg.pinv(positions[:, None] ** powers)  # Samples -> polynomial coefficients.
  factor = np.array(
    [math.factorial(p) / math.factorial(p - deriv) if p >= deriv else 0.0 for p in powers]
  )
  evaluate = factor * positions[:, None] ** np.maximum(powers - deriv, 0)
  matrix = evaluate @ fit
  matrix.setflags(write=False)
  return matrix


def savgol_filter(values: np.ndarray, window: int, deriv: int, dt: float) -> np.ndarray:
  """Cubic Savitzky-Golay smoothing/derivative along axis 0, edges by fitting (mode 'interp').

  Same result as `scipy.signal.savgol_filter(values, window, 3, deriv, delta=dt, axis=0,
  mode='interp')`, with the filter and edge fits cached (scipy refits the edges on every call,
  which dominated the cost of a short clip).
  """
  if window % 2 != 1 or window < _MIN_WINDOW or values.shape[0] < window:
    raise ValueError(
      f'window must be odd, >= {_MIN_WINDOW} and <= the length {values.shape[0]}, got {window}.'
    )
  matrix = _savgol_matrix(window, deriv) / dt**deriv
  half = window // 2
  filtered = ndimage.correlate1d(values, matrix[half], axis=0, mode='constant')
  filtered[:half] = np.tensordot(matrix[:half], values[:window], axes=(1, 0))
  filtered[-half:] = np.tensordot(matrix[half + 1 :], values[-window:], axes=(1, 0))
  return filtered


def smoothing_window_frames(fps: float, smoothing_window_s: float) -> int:
  """Odd Savitzky-Golay window length (frames) closest to `smoothing_window_s`, at least 5."""
  frames = 2 * int(round(smoothing_window_s * fps / 2.0)) + 1
  return max(_MIN_WINDOW, frames)


def from_pose(
  pose: np.ndarray,
  fps: float,
  sites: Sequence[str],
  out_rate_hz: float | None = None,
  noise: ImuNoise | None = None,
  rng: np.random.Generator | None = None,
  *,
  smoothing_window_s: float = DEFAULT_SMOOTHING_WINDOW_S,
  forearm_twist: np.ndarray | None = None,
) -> np.ndarray:
  """Synthesises accelerometer + gyroscope signals at body sites from a 3D pose sequence.

  Args:
    pose: (T, 17, 3) H36M joints in metres, world frame, z up (gravity along -z), at `fps`.
    fps: pose frame rate (Hz), > 0.
    sites: names from `sites.SITES`, in the order of the output's site axis.
    out_rate_hz: output sample rate; None keeps the pose rate (T_out = T).
    noise: optional sensor noise; needs `rng`.
    rng: random generator for the noise.
    smoothing_window_s: Savitzky-Golay window (seconds) for all derivatives.
    forearm_twist: optional (T, 2) radians, the (left, right) forearm's right-handed rotation
      about its elbow -> wrist axis relative to the twist-free frame, at the pose rate (None:
      no twist). Anatomy (which sign is pronation on which side) is the caller's.

  Returns:
    (T_out, len(sites), 6) float32: acc xyz (m/s², specific force incl. gravity) then gyr xyz
    (rad/s), in each site's sensor frame (see the module docstring).

  Raises:
    ValueError: on a wrong shape, non-finite values, non-positive rates, unknown sites, a pose
      shorter than the smoothing window, a zero-length segment, or noise without rng.
  """
  pose = np.asarray(pose, dtype=np.float64)
  if pose.ndim != 3 or pose.shape[1:] != (skeleton.NUM_H36M_JOINTS, 3):
    raise ValueError(f'pose must have shape (T, 17, 3) (H36M joints, metres), got {pose.shape}.')
  if not np.all(np.isfinite(pose)):
    bad = np.unique(np.nonzero(~np.isfinite(pose))[0])
    raise ValueError(f'pose has non-finite values at frames {bad[:10].tolist()}.')
  if not (math.isfinite(fps) and fps > 0):
    raise ValueError(f'fps must be finite and > 0, got {fps}.')
  if out_rate_hz is not None and not (math.isfinite(out_rate_hz) and out_rate_hz > 0):
    raise ValueError(f'out_rate_hz must be None or finite and > 0, got {out_rate_hz}.')
  if not (math.isfinite(smoothing_window_s) and smoothing_window_s > 0):
    raise ValueError(f'smoothing_window_s must be finite and > 0, got {smoothing_window_s}.')
  if isinstance(sites, str) or len(sites) == 0:
    raise ValueError(f'sites must be a non-empty sequence of site names, got {sites!r}.')
  for site in sites:
    _check_site(site)
  if noise is not None and rng is None:
    raise ValueError('noise was given without rng; pass a np.random.Generator.')
  num_frames = pose.shape[0]
  twist = _check_forearm_twist(forearm_twist, num_frames)
  window = smoothing_window_frames(fps, smoothing_window_s)
  if num_frames < window:
    raise ValueError(
      f'pose has {num_frames} frames; the {smoothing_window_s} s smoothing window needs at '
      f'least {window} frames at {fps} fps.'
    )

  segments = sorted({_SITE_PLACEMENT[site][0] for site in sites})
  _check_segment_lengths(pose, segments)
  dt = 1.0 / fps

  def savgol(values: np.ndarray, deriv: int) -> np.ndarray:
    return savgol_filter(values, window, deriv, dt)

  # Accelerometer: SG second derivative of each site's trajectory, minus gravity.
  placements = [site_placement(site) for site in sites]
  proximal = pose[:, [skeleton.joint_index(p) for p, _, _ in placements]]
  distal = pose[:, [skeleton.joint_index(d) for _, d, _ in placements]]
  fraction = np.array([f for _, _, f in placements])[None, :, None]
  site_positions = proximal + fraction * (distal - proximal)
  specific_force = savgol(site_positions, 2) + np.array([0.0, 0.0, GRAVITY])

  # Orientation: frames from SG-smoothed joints; gyro from R^T dR/dt.
  frames_by_segment = _segment_frames(savgol(pose, 0), segments)
  if twist is not None:
    for column, name in enumerate(FOREARMS):
      if name in frames_by_segment:
        roll = Rotation.from_euler('x', twist[:, column, None]).as_matrix()  # Right-handed about x.
        frames_by_segment[name] = frames_by_segment[name] @ roll
  frames = np.stack(
    [
      frames_by_segment[_SITE_PLACEMENT[s][0]]
      @ Rotation.from_euler('x', WATCH_ROLL_DEG.get(s, 0.0), degrees=True).as_matrix()
      for s in sites
    ],
    axis=1,
  )
  frame_rates = savgol(frames, 1)
  omega_skew = np.swapaxes(frames, -1, -2) @ frame_rates
  gyr = 0.5 * np.stack(
    [
      omega_skew[..., 2, 1] - omega_skew[..., 1, 2],
      omega_skew[..., 0, 2] - omega_skew[..., 2, 0],
      omega_skew[..., 1, 0] - omega_skew[..., 0, 1],
    ],
    axis=-1,
  )
  acc = np.einsum('tsji,tsj->tsi', frames, specific_force)
  imu = np.concatenate([acc, gyr], axis=-1)

  if out_rate_hz is not None:
    num_out = max(1, int(round(num_frames * out_rate_hz / fps)))
    imu = resample.resample(imu, fps, out_rate_hz, num_out=num_out, kind='cubic')
  if noise is not None:
    imu = _add_noise(imu, noise, rng)
  return imu.astype(np.float32)


def _check_forearm_twist(twist: np.ndarray | None, num_frames: int) -> np.ndarray | None:
  if twist is None:
    return None
  twist = np.asarray(twist, dtype=np.float64)
  if twist.shape != (num_frames, len(FOREARMS)):
    raise ValueError(
      f'forearm_twist must have shape ({num_frames}, 2) (radians, columns {FOREARMS}, one '
      f'row per pose frame), got {twist.shape}.'
    )
  if not np.all(np.isfinite(twist)):
    bad = np.unique(np.nonzero(~np.isfinite(twist))[0])
    raise ValueError(f'forearm_twist has non-finite values at frames {bad[:10].tolist()}.')
  return twist


def _check_segment_lengths(pose: np.ndarray, segments: Sequence[str]) -> None:
  for name in segments:
    spec = _SEGMENTS[name]
    pairs = [(spec.proximal, spec.distal)]
    if isinstance(spec, _Trunk):
      pairs.append((spec.lateral_from, spec.lateral_to))
    for a, b in pairs:
      length = np.linalg.norm(
        pose[:, skeleton.joint_index(b)] - pose[:, skeleton.joint_index(a)], axis=-1
      )
      if np.any(length < 1e-6):
        frame = int(np.argmax(length < 1e-6))
        raise ValueError(
          f'pose has {a} and {b} at the same place (frame {frame}); segment {name} '
          'needs distinct joints to define a sensor frame.'
        )


def _segment_depth(name: str) -> int:
  spec = _SEGMENTS[name]
  return 0 if isinstance(spec, _Trunk) else 1 + _segment_depth(spec.parent)


def _segment_frames(pose: np.ndarray, segments: Sequence[str]) -> dict[str, np.ndarray]:
  """(T, 3, 3) sensor->world rotations of the named segments and of their ancestors.

  Segments of equal depth in the tree are computed together, in one vectorised call.
  """
  needed = set()
  for name in segments:
    while name not in needed:
      needed.add(name)
      spec = _SEGMENTS[name]
      if isinstance(spec, _Trunk):
        break
      name = spec.parent
  by_depth: dict[int, list[str]] = {}
  for name in sorted(needed):
    by_depth.setdefault(_segment_depth(name), []).append(name)

  def joints(names: Sequence[str]) -> np.ndarray:
    return pose[:, [skeleton.joint_index(n) for n in names]]

  frames: dict[str, np.ndarray] = {}
  for depth in sorted(by_depth):
    names = by_depth[depth]
    specs = [_SEGMENTS[n] for n in names]
    axes = joints([s.distal for s in specs]) - joints([s.proximal for s in specs])
    if depth == 0:
      lateral = joints([s.lateral_to for s in specs])
      lateral = lateral - joints([s.lateral_from for s in specs])
      stacked = _trunk_frame(axes, lateral)
    else:
      parents = np.stack([frames[s.parent] for s in specs], axis=1)
      rest = np.array([s.rest_direction for s in specs])
      hinge = np.array([s.hinge_flexion or (0.0, 0.0, 0.0) for s in specs])
      stacked = _limb_frame(parents, axes, rest, hinge)
    for i, name in enumerate(names):
      frames[name] = stacked[:, i]
  return frames


def _add_noise(imu: np.ndarray, noise: ImuNoise, rng: np.random.Generator) -> np.ndarray:
  num_sites = imu.shape[1]
  std = np.array([noise.acc_std] * 3 + [noise.gyr_std] * 3)
  bias_std = np.array([noise.acc_bias_std] * 3 + [noise.gyr_bias_std] * 3)
  bias = rng.normal(size=(num_sites, 6)) * bias_std
  return imu + bias + rng.normal(size=imu.shape) * std
