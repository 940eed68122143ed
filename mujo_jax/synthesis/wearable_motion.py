"""Procedural motion of the `wearables` vocabulary: locomotion, postures, gym, rehab and daily life.

Real wearable recordings are mostly walking, sitting, stairs, transitions and everyday arm work,
not only MM-Fit's ten exercises, so a pretraining corpus that teaches transferable motion needs
those families, each as a kinematic program that a sensor could have felt. The programs reuse
`motion`'s rig (local joint rotations, forward kinematics with the subject's bones, smooth joint
jitter, repetition timelines, ground contact) and add what walking needs: legs solved by
two-link inverse kinematics to foot targets, so that a stance foot stays exactly where it was
put and only the body moves over it.

Physics, by family:
- Gait (walking at three speeds, Nordic walking, jogging, running, stairs): per-foot gait phase
  with a stance fraction (duty factor: ~0.62 walking, ~0.35 running, so running has a flight
  phase), cadence in steps/s from measured ranges (1.35-2.15 walking, 2.4-3.0 jogging/running),
  step length proportional to body height; stance feet fixed on the floor (or on a stair 0.16-0.18
  m above the last), swing feet on minimum-jerk arcs (zero velocity at lift-off and strike), heel
  rise before toe-off; the pelvis travels at the gait speed with a vertical bob (walking: highest
  at mid-stance, the inverted pendulum; running: lowest at mid-stance, and during flight it falls
  with ~g), lateral sway towards the stance foot, pelvic yaw and counter-rotating arms. The
  pelvis height is the highest that every foot target can reach.
- Hops (rope jumping, jump front & back): ballistic flight (take-off speed g * t_flight / 2)
  joined C1 to a knee dip in contact.
- Seated (sitting, typing, cycling): pelvis on a seat (0.40-0.50 m seat, ~0.5 m pelvis), feet on
  the floor or on pedals turning on a 0.17 m crank circle.
- Transitions (sit-to-stand, stand-to-sit, lie-to-sit): feet (or pelvis) fixed, the trunk leans
  forward before the seat-off, the pelvis follows a minimum-jerk path.
- Repetition exercises (gym, MHEALTH, shoulder rehab, household): `motion`'s raised-cosine
  repetition profile drives joint angles; the upper arm is pointed along a body-frame direction
  so that raises, presses and circles follow their real paths.

Per subject (`habits`): cadence within each range, step length, arm swing, handedness, seat
height and fatigue; fatigue slows the tempo and shrinks the range a few per cent over a clip.
Two activities can share a clip (`generate_transition`): their states are blended in rotation
space (bone lengths stay exact), the second placed where the first is at the blend.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np

from mujo_jax.facts import activities as activities_lib
from mujo_jax.facts import skeleton
from mujo_jax.facts.units import GRAVITY
from mujo_jax.synthesis import motion as motion_lib

_J = motion_lib._J
_SIDES = motion_lib._SIDES
_DEG = motion_lib._DEG
_swing = motion_lib._swing
_lean = motion_lib._lean
_abduct = motion_lib._abduct
_axis = motion_lib._axis_rotation
_Rig = motion_lib._Rig
ANKLE = skeleton.ANKLE_HEIGHT
_DOWN = np.array([0.0, 0.0, -1.0])
_HABIT_STREAM = 52_361
_LEG_JOINTS = tuple(_J[f'{side}_{j}'] for side, _ in _SIDES for j in ('hip', 'knee', 'ankle'))
# Pelvis joint above the seat surface when sitting (soft tissue under the hip joint centre).
SEAT_TO_PELVIS_M = 0.09
STAIR_TREAD_M = 0.29
MMFIT = frozenset(activities_lib.ACTIVITIES)


@dataclasses.dataclass(frozen=True)
class Habits:
  """How one subject moves beyond `motion.Subject` (drawn from the subject, so stable).

  Attributes:
    cadence: where the subject's cadence sits in each gait's range, in [0, 1].
    step_length: step-length multiplier (after scaling by body height).
    arm_swing: arm-swing multiplier in gait.
    right_handed: the hand of one-arm activities (brushing, vacuuming, pendulum).
    seat_height_m: height of the chairs the subject sits on.
    fatigue_per_s: fraction of tempo and range lost per second of activity.
  """

  cadence: float
  step_length: float
  arm_swing: float
  right_handed: bool
  seat_height_m: float
  fatigue_per_s: float


def habits(subject: motion_lib.Subject) -> Habits:
  """The subject's habits: a pure function of the subject (no extra state in the corpus)."""
  key = int(subject.tempo * 1e9) ^ int(subject.bone_lengths[2] * 1e9)
  rng = np.random.default_rng([subject.subject_id, _HABIT_STREAM, key])
  return Habits(
    cadence=float(np.clip(0.5 + 0.4 * (subject.tempo - 1.0) / 0.3 + rng.normal(0, 0.15), 0, 1)),
    step_length=float(rng.uniform(0.93, 1.07)),
    arm_swing=float(rng.uniform(0.7, 1.3)),
    right_handed=bool(rng.random() < 0.88),
    seat_height_m=float(rng.uniform(0.40, 0.48)),
    fatigue_per_s=float(rng.uniform(0.0, 0.008)),
  )


# --- Geometry helpers -----------------------------------------------------------------------


def _smooth(x) -> np.ndarray:
  """Minimum-jerk step 0 -> 1 on [0, 1] (zero velocity and acceleration at both ends)."""
  x = np.clip(x, 0.0, 1.0)
  return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def _unit(v: np.ndarray) -> np.ndarray:
  return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """(..., 3, 3) shortest rotation taking unit vectors a to b (no twist about either)."""
  a, b = np.broadcast_arrays(_unit(np.asarray(a, float)), _unit(np.asarray(b, float)))
  axis = np.cross(a, b)
  sin = np.linalg.norm(axis, axis=-1)
  cos = np.sum(a * b, axis=-1)
  fallback = np.cross(a, np.array([1.0, 0.0, 0.0]))  # Antiparallel: any perpendicular axis.
  axis = np.where((sin < 1e-9)[..., None], fallback, axis)
  rotvec = _unit(axis) * np.arctan2(sin, cos)[..., None]
  return motion_lib._rotvec_to_matrix(rotvec)


def _matrix_to_rotvec(rotation: np.ndarray) -> np.ndarray:
  """(..., 3, 3) -> (..., 3) rotation vectors (angles below pi; blends need no more)."""
  trace = np.trace(rotation, axis1=-2, axis2=-1)
  angle = np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0))
  vee = np.stack(
    [
      rotation[..., 2, 1] - rotation[..., 1, 2],
      rotation[..., 0, 2] - rotation[..., 2, 0],
      rotation[..., 1, 0] - rotation[..., 0, 1],
    ],
    -1,
  )
  scale = np.where(angle < 1e-6, 0.5, angle / np.maximum(2.0 * np.sin(angle), 1e-12))
  return vee * scale[..., None]


def _slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
  """Per-frame geodesic blend of rotations a -> b by w (T,), broadcast over joints."""
  delta = _matrix_to_rotvec(np.swapaxes(a, -1, -2) @ b)
  w = w.reshape(w.shape + (1,) * (delta.ndim - 1 - w.ndim) + (1,))
  return a @ motion_lib._rotvec_to_matrix(delta * w)


def _direction(forward_deg, lateral_deg, side: float) -> np.ndarray:
  """(T, 3) unit body-frame direction of an arm raised forward and out to one side.

  `forward_deg` swings the arm from straight down towards the front, `lateral_deg` then tilts
  it out to the side (both may be arrays); 90/0 is horizontal forward, 0/90 horizontal sideways.
  """
  fwd, lat = np.broadcast_arrays(np.asarray(forward_deg, float), np.asarray(lateral_deg, float))
  f, s = fwd * _DEG, lat * _DEG
  return _unit(np.stack([np.sin(f) * np.cos(s), side * np.sin(s), -np.cos(f) * np.cos(s)], axis=-1))


# --- Context --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Ctx:
  subject: motion_lib.Subject
  habits: Habits
  times: np.ndarray
  fps: float
  rng: np.random.Generator
  lengths: np.ndarray
  offsets: np.ndarray
  fatigue: np.ndarray  # (T,) 1 -> slightly less: range and tempo multiplier.
  timeline: motion_lib._Timeline | None

  @property
  def num_frames(self) -> int:
    return self.times.shape[0]

  @property
  def duration(self) -> float:
    return float(self.times[-1] + 1.0 / self.fps)

  @property
  def leg(self) -> float:
    return float(self.lengths[_J['left_knee']] + self.lengths[_J['left_ankle']])

  @property
  def height(self) -> float:
    return self.subject.height_m

  @property
  def standing_pelvis_z(self) -> float:
    """Pelvis height of a relaxed stance: ankles on the floor, knees all but straight."""
    return ANKLE + 0.99 * self.leg

  @property
  def s(self) -> np.ndarray:
    return self.timeline.profile

  def amp(self, side: str | None = None) -> np.ndarray:
    """(T,) range factor: subject amplitude, asymmetry, per-repetition spread, fatigue."""
    base = self.subject.amplitude * self.fatigue
    if self.timeline is not None:
      base = base * self.timeline.amplitude
    if side is None:
      return base
    sign = 1.0 if side == 'left' else -1.0
    return base * (1.0 + sign * self.subject.asymmetry / 2)

  def cycles(self, frequency_hz: float, phase0: float | None = None) -> np.ndarray:
    """(T,) cycles completed at `frequency_hz`, slowing with fatigue (a random start phase)."""
    if phase0 is None:
      phase0 = float(self.rng.uniform(0.0, 1.0))
    rate = frequency_hz * self.fatigue
    return phase0 + np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) / self.fps)])

  def sway(self, amplitude: float, low_hz: float = 0.1, high_hz: float = 0.6) -> np.ndarray:
    """(T,) smooth random signal (two slow sinusoids), e.g. postural sway."""
    freq = self.rng.uniform(low_hz, high_hz, 2)
    phase = self.rng.uniform(0.0, 2 * np.pi, 2)
    return amplitude * np.sum(np.sin(2 * np.pi * freq[:, None] * self.times + phase[:, None]), 0)

  def dominant(self) -> str:
    return 'right' if self.habits.right_handed else 'left'


@dataclasses.dataclass(frozen=True)
class _Rooted:
  """A program that places the body itself.

  root_position: (T, 3) pelvis joint in the heading-free world (x forward, floor at z = 0).
  body_rotation: (T, 3, 3) or None (upright).
  ankles: (T, 2, 3) left/right ankle targets, solved by leg IK; None keeps the rig's legs.
  """

  root_position: np.ndarray
  body_rotation: np.ndarray | None = None
  ankles: np.ndarray | None = None


def _pelvis_world(rig: _Rig, body_rotation: np.ndarray | None) -> np.ndarray:
  if body_rotation is None:
    return rig.local[:, 0]
  return body_rotation @ rig.local[:, 0]


def _thorax_world(rig: _Rig, body_rotation: np.ndarray | None = None) -> np.ndarray:
  return _pelvis_world(rig, body_rotation) @ rig.local[:, _J['spine']] @ rig.local[:, _J['thorax']]


def _arm(rig: _Rig, side: str, direction: np.ndarray, elbow_deg, body_rotation=None) -> None:
  """Points the upper arm along a heading-free world direction (T, 3) and flexes the elbow.

  Call after the trunk is posed: the direction is converted into the thorax frame. The elbow
  flexes towards the front of the pointed arm (the shortest rotation keeps the arm's x axis
  as close to the body's front as it can).
  """
  thorax = _thorax_world(rig, body_rotation)
  local = np.einsum('tji,tj->ti', thorax, np.broadcast_to(direction, (rig.local.shape[0], 3)))
  rig.local[:, _J[f'{side}_shoulder']] = _rotation_between(_DOWN, local)
  rig.local[:, _J[f'{side}_elbow']] = _swing(np.broadcast_to(elbow_deg, rig.local.shape[:1]))


def _hip_positions(rig: _Rig, c: _Ctx, body_rotation, root_xy: np.ndarray) -> np.ndarray:
  """(T, 2, 3) hip joints for a pelvis at (x, y, 0)."""
  pelvis = _pelvis_world(rig, body_rotation)
  hips = np.stack([pelvis @ c.offsets[_J[f'{side}_hip']] for side, _ in _SIDES], 1)
  hips[..., :2] += root_xy[:, None, :]
  return hips


def _max_pelvis_z(rig, c: _Ctx, body_rotation, root_xy, ankles, extension=0.99) -> np.ndarray:
  """(T,) highest pelvis from which both ankle targets are within `extension` of leg length."""
  hips = _hip_positions(rig, c, body_rotation, root_xy)
  horizontal = np.linalg.norm(ankles[..., :2] - hips[..., :2], axis=-1)
  reach = np.sqrt(np.maximum((extension * c.leg) ** 2 - horizontal**2, 0.0))
  return np.min(ankles[..., 2] + reach - hips[..., 2], axis=1)


def _solve_legs(rig: _Rig, c: _Ctx, rooted: _Rooted) -> None:
  """Two-link IK: hip and knee rotations that put each ankle on its target, knee forward."""
  pelvis = _pelvis_world(rig, rooted.body_rotation)
  forward = pelvis[:, :, 0]
  for k, (side, _) in enumerate(_SIDES):
    hip_j, knee_j, ankle_j = (_J[f'{side}_{name}'] for name in ('hip', 'knee', 'ankle'))
    l1, l2 = c.lengths[knee_j], c.lengths[ankle_j]
    hip = rooted.root_position + pelvis @ c.offsets[hip_j]
    d = rooted.ankles[:, k] - hip
    u = _unit(d)
    r = np.clip(np.linalg.norm(d, axis=-1), abs(l1 - l2) + 1e-3, 0.9995 * (l1 + l2))
    pole = _unit(forward - np.sum(forward * u, -1, keepdims=True) * u)
    along = (l1**2 - l2**2 + r**2) / (2.0 * r)
    out = np.sqrt(np.maximum(l1**2 - along**2, 0.0))
    knee = hip + along[:, None] * u + out[:, None] * pole
    ankle = hip + r[:, None] * u
    thigh_local = np.einsum('tji,tj->ti', pelvis, _unit(knee - hip))
    rig.local[:, hip_j] = _rotation_between(_DOWN, thigh_local)
    hip_world = pelvis @ rig.local[:, hip_j]
    rig.local[:, knee_j] = _rotation_between(
      _DOWN, np.einsum('tji,tj->ti', hip_world, _unit(ankle - knee))
    )


def _stand_feet(c: _Ctx, width: float = 0.0, x=0.0) -> np.ndarray:
  """(T, 2, 3) ankle targets of a stance: feet under the hips (plus `width` each side)."""
  half = c.lengths[_J['left_hip']] * 0.8 + width
  feet = np.zeros((c.num_frames, 2, 3))
  feet[:, 0, 1], feet[:, 1, 1] = half, -half
  feet[..., 0] = np.asarray(x)[..., None] if np.ndim(x) else x
  feet[..., 2] = ANKLE
  return feet


# --- Gait -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Gait:
  cadence: tuple[float, float]  # steps/s.
  step: float  # step length / body height (stairs: one tread per step instead).
  duty: float  # stance fraction of the gait cycle per foot.
  clearance: float  # swing ankle lift (m).
  heel_rise: float  # ankle rise before toe-off (m).
  arm_deg: float  # arm swing amplitude.
  elbow_deg: float  # elbow flexion at the back of the swing.
  elbow_swing_deg: float  # elbow flexion range through the swing (flexes as the arm comes forward).
  lean_deg: float  # trunk lean.
  rise: float = 0.0  # stairs: +1 up, -1 down.
  running: bool = False


# Elbow ranges in walking follow the arm swing's: about 20 deg at a free speed, more when fast,
# less when slow (Murray et al. 1967, 'Walking patterns of normal men'); the forearm's swing about
# the elbow adds to the upper arm's, and is most of what separates walking from standing on a
# wrist gyro.
_GAITS = {
  'walking_slow': _Gait((1.35, 1.6), 0.33, 0.65, 0.06, 0.08, 10.0, 12.0, 12.0, 2.0),
  'walking': _Gait((1.65, 1.9), 0.41, 0.62, 0.07, 0.11, 17.0, 18.0, 20.0, 3.0),
  'walking_fast': _Gait((1.9, 2.15), 0.46, 0.60, 0.08, 0.12, 25.0, 35.0, 28.0, 5.0),
  'nordic_walking': _Gait((1.65, 1.85), 0.45, 0.62, 0.08, 0.12, 38.0, 12.0, 12.0, 7.0),
  'jogging': _Gait((2.4, 2.7), 0.50, 0.42, 0.15, 0.08, 28.0, 80.0, 24.0, 6.0, running=True),
  'running': _Gait((2.65, 3.0), 0.68, 0.35, 0.22, 0.10, 38.0, 90.0, 27.0, 9.0, running=True),
  'stairs_up': _Gait((1.4, 1.75), 0.0, 0.64, 0.06, 0.0, 12.0, 20.0, 10.0, 10.0, rise=1.0),
  'stairs_down': _Gait((1.5, 1.9), 0.0, 0.62, 0.05, 0.0, 12.0, 15.0, 8.0, 2.0, rise=-1.0),
}


def _gait(c: _Ctx, rig: _Rig, variant: str, spec: _Gait) -> _Rooted:
  lo, hi = spec.cadence
  cadence = (
    lo + 0.03 + (hi - lo - 0.03) * float(np.clip(c.habits.cadence + c.rng.normal(0, 0.12), 0, 1))
  )
  cyc = c.cycles(cadence / 2.0)
  rise = spec.rise * c.rng.uniform(0.16, 0.18)
  stride = 2.0 * (STAIR_TREAD_M if spec.rise else spec.step * c.height * c.habits.step_length)
  duty = spec.duty
  centre = 0.4 * duty  # The foot passes under the pelvis before mid-stance (toe-off lever).
  half_width = c.lengths[_J['left_hip']] * (0.45 if spec.running else 0.7)
  feet = np.zeros((c.num_frames, 2, 3))
  for k, (side, sign) in enumerate(_SIDES):
    shift = 0.0 if side == 'left' else 0.5
    cs = cyc + shift
    index = np.floor(cs)
    frac = cs - index
    swing = frac >= duty
    u = np.where(swing, (frac - duty) / (1.0 - duty), 0.0)
    progress = _smooth(u)
    foothold = stride * (index + centre - shift)
    feet[:, k, 0] = foothold + stride * progress
    feet[:, k, 1] = sign * half_width
    floor = rise * (foothold / (stride / 2))  # One stair per step.
    if spec.rise > 0:  # Up: the foot rises early, over the edge of the next stair.
      vertical = _smooth(u / 0.7)
    else:  # Down: it reaches forward first, then drops.
      vertical = _smooth((u - 0.3) / 0.7)
    # The heel rises in late stance and the foot leaves the floor quickly (knee flexion), so
    # that the trailing leg is never stretched beyond its length.
    heel = spec.heel_rise * np.where(
      swing, 1.0 - _smooth((u - 0.3) / 0.5), _smooth((frac - 0.6 * duty) / (0.4 * duty))
    )
    lift = spec.clearance * np.sin(np.pi * u**0.7) ** 2
    feet[:, k, 2] = ANKLE + floor + 2.0 * rise * vertical * swing + heel + lift
  # Pelvis: forward at the gait speed, bob, sway towards the stance foot, yaw with the legs.
  mid = 4.0 * np.pi * (cyc - centre)
  if spec.running:
    bob = -0.85 * GRAVITY / (2 * np.pi * cadence) ** 2 * np.cos(mid)
  else:
    bob = 0.02 * c.subject.amplitude * np.cos(mid)
  sway = (0.012 if spec.running else 0.025) * np.cos(2 * np.pi * (cyc - centre))
  yaw = -(5.0 if spec.running else 4.0) * np.cos(2 * np.pi * cyc)
  lean = spec.lean_deg + c.sway(1.0)
  rig.turn('pelvis', _axis(2, yaw * _DEG) @ _lean(0.4 * lean))
  rig.turn('spine', _axis(2, -1.6 * yaw * _DEG) @ _lean(0.6 * lean))
  root = np.stack([stride * cyc, sway, rise * 2.0 * cyc + bob], -1)
  if rise:  # The staircase stands on the floor: its lowest stair used is at z = 0.
    lowest = float(np.min(feet[..., 2])) - ANKLE
    feet[..., 2] -= lowest
    root[:, 2] -= lowest
  limit = _max_pelvis_z(rig, c, None, root[:, :2], feet)
  root[:, 2] += np.min(limit - root[:, 2]) - 0.003
  swing = c.habits.arm_swing * c.fatigue
  arm = spec.arm_deg * swing
  for side, sign in _SIDES:
    phase = np.cos(2 * np.pi * cyc) * (-1.0 if side == 'left' else 1.0)
    forward = arm * phase + 3.0
    if variant == 'poles':
      forward = arm * phase + 12.0
    elbow = spec.elbow_deg + spec.elbow_swing_deg * swing * 0.5 * (1.0 + phase)
    if variant == 'phone' and side == c.dominant():  # Looking at a phone held in front.
      forward, elbow = 25.0 + 0.0 * phase, 95.0
    _arm(rig, side, _direction(forward, 8.0, sign), elbow)
  rig.turn('neck', _lean(-0.5 * lean))
  return _Rooted(root_position=root, ankles=feet)


# --- Hops and seats -------------------------------------------------------------------------


def _hops(c: _Ctx, period_s: float, contact: float, steps: np.ndarray | None):
  """Pelvis height change (T,), feet lift (T,), horizontal travel (T,) of two-footed hops."""
  cyc = c.cycles(1.0 / period_s)
  index = np.floor(cyc)
  frac = cyc - index
  t_contact, t_flight = contact * period_s, (1.0 - contact) * period_s
  v0 = GRAVITY * t_flight / 2.0
  # The knees absorb the landing and load the take-off within at most 0.4 s; the dip joins the
  # flight C1 (its speed at the contact ends is v0), and a long contact holds the bottom.
  window = min(t_contact, 0.4)
  dip = v0 * window / np.pi
  in_contact = frac < contact
  since, until = frac * period_s, t_contact - frac * period_s
  bottom = np.minimum(np.minimum(since, until), window / 2)
  tau = (frac - contact) * period_s
  z = np.where(in_contact, -dip * np.sin(np.pi * bottom / window), v0 * tau - GRAVITY * tau**2 / 2)
  u = np.where(in_contact, 0.0, (frac - contact) / (1.0 - contact))
  feet = np.where(in_contact, 0.0, np.maximum(z, 0.0) + 0.02 * np.sin(np.pi * u) ** 2)
  travel = np.zeros_like(cyc)
  if steps is not None:
    k = index.astype(int)
    k0 = int(k.min())
    hop = steps(np.arange(k0, int(k.max()) + 2))
    positions = np.concatenate([[0.0], np.cumsum(hop)])
    travel = positions[k - k0] + hop[k - k0] * _smooth(u)
  return z, feet, travel, in_contact, dip


def _jump_program(c: _Ctx, rig: _Rig, period_s, contact, steps, arms) -> _Rooted:
  z, lift, travel, in_contact, dip = _hops(c, period_s, contact, steps)
  feet = _stand_feet(c, x=travel)
  feet[..., 2] += 0.025 + lift[:, None]  # On the balls of the feet.
  root = np.zeros((c.num_frames, 3))
  root[:, 0] = travel
  rig.turn('pelvis', _lean(4.0 + 120.0 * np.maximum(-z, 0.0)))
  base = ANKLE + 0.025 + 0.97 * c.leg
  root[:, 2] = base + z
  limit = _max_pelvis_z(rig, c, None, root[:, :2], feet)
  root[:, 2] -= max(0.0, float(np.max(root[:, 2] - limit))) + 0.002
  arms(z)
  return _Rooted(root_position=root, ankles=feet)


def _seated_root(c: _Ctx, sway=True) -> np.ndarray:
  root = np.zeros((c.num_frames, 3))
  root[:, 2] = c.habits.seat_height_m + SEAT_TO_PELVIS_M
  if sway:
    root[:, 0] = c.sway(0.004)
  return root


def _seated_feet(c: _Ctx, forward: float = 0.48) -> np.ndarray:
  return _stand_feet(c, width=0.03, x=forward * c.height / 1.75)


# --- Programs: locomotion -------------------------------------------------------------------


def _rope_jumping(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  period = c.rng.uniform(0.38, 0.5) / c.subject.tempo**0.3
  turns = c.cycles(1.0 / period)

  def arms(z):
    for side, sign in _SIDES:
      turn = 2 * np.pi * turns + (0.0 if side == 'left' else 0.0)
      _arm(rig, side, _direction(15.0 + 8.0 * np.cos(turn), 25.0 + 8.0 * np.sin(turn), sign), 75.0)

  return _jump_program(c, rig, period, c.rng.uniform(0.42, 0.52), None, arms)


def _jump_front_back(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  period = c.rng.uniform(0.9, 1.2) / c.subject.tempo**0.5
  distance = c.rng.uniform(0.2, 0.35) * c.subject.amplitude
  steps = lambda k: np.where(k % 2 == 0, distance, -distance)  # noqa: E731

  def arms(z):
    swing = 50.0 * np.clip(z / 0.1, -1, 1)
    for side, sign in _SIDES:
      _arm(rig, side, _direction(20.0 + swing, 10.0, sign), 20.0)

  return _jump_program(c, rig, period, 1.0 - c.rng.uniform(0.25, 0.32) / period, steps, arms)


def _cycling(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  rpm = c.rng.uniform(55.0, 95.0) * c.subject.tempo**0.3
  crank = 2 * np.pi * c.cycles(rpm / 60.0)
  radius = 0.17
  lean = c.rng.uniform(25.0, 45.0)
  # Bottom bracket 0.28 m up, 0.22 m ahead of the hip; saddle set so the leg is 95 % extended
  # at the farthest pedal position.
  setback, bracket_z, ankle_above_pedal = 0.22, 0.28, 0.07
  reach = 0.95 * c.leg - radius
  hip_z = bracket_z + ankle_above_pedal + math.sqrt(reach**2 - setback**2)
  root = np.zeros((c.num_frames, 3))
  root[:, 2] = hip_z + 0.004 * np.cos(2 * crank)
  feet = np.zeros((c.num_frames, 2, 3))
  for k, (_, sign) in enumerate(_SIDES):
    angle = crank + (0.0 if sign > 0 else np.pi)
    feet[:, k, 0] = setback + radius * np.cos(angle)
    feet[:, k, 1] = sign * 0.1
    feet[:, k, 2] = bracket_z + ankle_above_pedal + radius * np.sin(angle)
  rig.turn('pelvis', _lean(lean * 0.6 + 0.5 * np.sin(2 * crank)))
  rig.turn('spine', _lean(lean * 0.4))
  rig.turn('neck', _lean(-0.5 * lean))
  for side, sign in _SIDES:
    _arm(rig, side, _direction(70.0 + 0.0 * crank, 12.0, sign), 25.0)
  return _Rooted(root_position=root, ankles=feet)


# --- Programs: postures and transitions -----------------------------------------------------


def _standing(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  sway = c.sway(1.2)
  for side, sign in _SIDES:
    rig.leg(side, 0.0, 2.0 + 0.5 * sway, -2.0)
    if variant == 'phone' and side == c.dominant():
      _arm(rig, side, _direction(30.0 + c.sway(3.0), 10.0, sign), 100.0 + c.sway(4.0))
    elif variant == 'arms_crossed':
      _arm(rig, side, _direction(25.0, -12.0, sign), 120.0)
    else:
      _arm(rig, side, _direction(3.0 + 0.3 * sway, 7.0, sign), 12.0)
  rig.turn('spine', _axis(0, 0.5 * sway * _DEG))
  return motion_lib._Placement()


def _sitting_upper(c: _Ctx, rig: _Rig, variant: str, lean: np.ndarray) -> None:
  rig.turn('pelvis', _lean(-8.0 + 0.0 * lean))
  rig.turn('spine', _lean(8.0 + lean))
  for side, sign in _SIDES:
    if variant == 'typing':
      tap = c.sway(1.5, 2.0, 6.0)
      _arm(rig, side, _direction(22.0 + 0.5 * tap, 10.0, sign), 75.0 + tap)
    elif variant == 'phone' and side == c.dominant():
      _arm(rig, side, _direction(20.0 + c.sway(2.0), 8.0, sign), 110.0 + c.sway(3.0))
    else:  # Hands resting on the thighs.
      _arm(rig, side, _direction(25.0, 6.0, sign), 50.0 + c.sway(2.0))


def _sitting(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  _sitting_upper(c, rig, variant, c.sway(1.5) + (8.0 if variant == 'typing' else 0.0))
  return _Rooted(root_position=_seated_root(c), ankles=_seated_feet(c))


def _typing(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  return _sitting(c, rig, 'typing')


def _lying(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  breath = np.sin(2 * np.pi * c.times / c.rng.uniform(3.0, 5.0) + c.rng.uniform(0, 6.3))
  rig.turn('spine', _lean(1.5 * breath))
  knee = 0.0 if variant != 'knees_up' else 40.0
  for side, sign in _SIDES:
    rig.leg(side, 0.0, knee + 2.0, -2.0 - 0.8 * knee, abduction=4.0)
    _arm(rig, side, _direction(5.0, 12.0, sign), 15.0)
  if variant == 'side':  # On the right side.
    body = _axis(0, np.pi / 2) @ _axis(1, -np.pi / 2)
  elif variant == 'prone':
    body = _axis(1, np.pi / 2)
  else:
    body = _axis(1, -np.pi / 2)
  return motion_lib._Placement(
    root_rotation=np.broadcast_to(body, (c.num_frames, 3, 3)), anchor='lowest'
  )


def _event(c: _Ctx, duration_range=(1.5, 2.6)) -> np.ndarray:
  """(T,) 0 -> 1 progress of one transition, centred in the middle half of the clip."""
  length = c.rng.uniform(*duration_range) / c.subject.tempo**0.4
  centre = c.rng.uniform(0.35, 0.65) * c.duration
  return np.clip((c.times - centre) / length + 0.5, 0.0, 1.0)


def _sit_stand(c: _Ctx, rig: _Rig, u: np.ndarray) -> _Rooted:
  """u = 0 seated, 1 standing; the trunk leans forward until the seat-off, then rises."""
  seat = _seated_root(c, sway=False)
  stand_z = c.standing_pelvis_z
  feet = _seated_feet(c, forward=0.36)
  rise = _smooth((u - 0.3) / 0.7)
  root = np.zeros((c.num_frames, 3))
  root[:, 0] = feet[0, 0, 0] * _smooth(u / 0.85) - 0.02
  root[:, 2] = seat[:, 2] + (stand_z - seat[:, 2]) * rise
  lean = 42.0 * np.sin(np.pi * np.clip(u / 0.8, 0, 1)) ** 1.5
  rig.turn('pelvis', _lean(lean * 0.6 - 8.0 * (1 - rise)))
  rig.turn('spine', _lean(lean * 0.4 + 8.0 * (1 - rise)))
  for side, sign in _SIDES:
    _arm(
      rig,
      side,
      _direction(25.0 * (1 - rise) + 15.0 * np.sin(np.pi * u), 8.0, sign),
      50.0 * (1 - rise) + 12.0,
    )
  limit = _max_pelvis_z(rig, c, None, root[:, :2], feet, extension=0.995)
  root[:, 2] = np.minimum(root[:, 2], limit)
  return _Rooted(root_position=root, ankles=feet)


def _sit_to_stand(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  return _sit_stand(c, rig, _event(c))


def _stand_to_sit(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  return _sit_stand(c, rig, 1.0 - _event(c))


def _lie_to_sit(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  u = _smooth(_event(c, (1.8, 3.0)))
  sit = 88.0 * u
  rig.turn('pelvis', _lean(0.45 * sit))
  rig.turn('spine', _lean(0.35 * sit))
  rig.turn('thorax', _lean(0.2 * sit))
  for side, sign in _SIDES:
    rig.leg(side, 0.45 * sit, 4.0, -4.0, abduction=4.0)
    push = np.sin(np.pi * u)  # Elbows and hands push on the floor halfway.
    rig.turn(f'{side}_shoulder', _swing(-20.0 * push + 0.8 * sit * (1 - push)) @ _abduct(15, sign))
    rig.turn(f'{side}_elbow', _swing(15.0 + 60.0 * push))
  supine = np.broadcast_to(_axis(1, -np.pi / 2), (c.num_frames, 3, 3))
  return motion_lib._Placement(root_rotation=supine, anchor='lowest')


# --- Programs: repetition exercises ---------------------------------------------------------


def _upright(rig: _Rig, knee: float = 3.0) -> None:
  for side, _ in _SIDES:
    rig.leg(side, 0.0, knee, -knee)


def _waist_bends(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  bend = 80.0 * c.s * c.amp()
  rig.turn('pelvis', _lean(0.6 * bend))
  rig.turn('spine', _lean(0.4 * bend))
  for side, sign in _SIDES:
    rig.leg(side, 0.6 * bend, -0.1 * bend, -0.1 * bend)
    arm = (
      _direction(0.1 * bend, 5.0, sign) if variant == 'hang' else _direction(0.5 * bend, 5.0, sign)
    )
    _arm(rig, side, arm, 10.0)
  return motion_lib._Placement()


def _arm_raise(forward_max: float, elbow: float = 8.0):
  """Straight-arm raises to the front by `forward_max` degrees (variants: which arms)."""

  def program(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
    _upright(rig)
    odd = c.timeline.rep_index % 2 == 1
    for side, sign in _SIDES:
      s = c.s
      if variant == 'one_arm':
        s = s * (side == c.dominant())
      elif variant == 'alternating':
        s = np.where(odd == (side == 'right'), s, 0.0)
      _arm(rig, side, _direction(4.0 + forward_max * s * c.amp(side), 6.0, sign), elbow)
    return motion_lib._Placement()

  return program


def _shoulder_abduction(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  for side, sign in _SIDES:
    s = c.s if variant == 'both' or side == c.dominant() else 0.0 * c.s
    # Sideways in the frontal plane, slightly forward (scapular plane) from the side.
    _arm(rig, side, _direction(10.0 - 25.0 * s, 6.0 + 130.0 * s * c.amp(side), sign), 10.0)
  return motion_lib._Placement()


def _arnold_press(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  s = c.s
  for side, sign in _SIDES:
    a = c.amp(side)
    # From elbows in front at chin height (palms in) round to the sides and up overhead.
    forward = 70.0 * (1 - s) - 10.0 * s
    lateral = 5.0 * (1 - s) + 160.0 * s * a
    _arm(rig, side, _direction(forward, lateral, sign), 130.0 * (1 - s) + 15.0)
  return motion_lib._Placement()


def _upright_rows(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  for side, sign in _SIDES:
    s = c.s * c.amp(side)
    _arm(rig, side, _direction(10.0 + 15.0 * s, 8.0 + 85.0 * s, sign), 10.0 + 125.0 * s)
  return motion_lib._Placement()


def _bent_over(rig: _Rig, lean: float) -> None:
  rig.turn('pelvis', _lean(lean))
  for side, _ in _SIDES:
    rig.leg(side, lean, 15.0, -10.0)


def _reverse_flyes(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  lean = c.rng.uniform(45.0, 65.0)
  _bent_over(rig, lean)
  for side, sign in _SIDES:
    s = c.s * c.amp(side)
    _arm(rig, side, _direction(10.0 * (1 - s), 5.0 + 80.0 * s, sign), 20.0)
  return motion_lib._Placement()


def _pendulum_swings(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  lean = c.rng.uniform(60.0, 80.0)
  _bent_over(rig, lean)
  phase = 2 * np.pi * c.cycles(c.rng.uniform(0.6, 0.9) * c.subject.tempo**0.3)
  amp = c.rng.uniform(10.0, 20.0) * c.amp()
  for side, sign in _SIDES:
    if side == c.dominant():
      if variant == 'circles':
        f, lat = amp * np.cos(phase), 5.0 + amp * np.sin(phase)
      elif variant == 'side_to_side':
        f, lat = 0.0 * phase, 5.0 + amp * np.sin(phase)
      else:
        f, lat = amp * np.sin(phase), 5.0 + 0.0 * phase
      _arm(rig, side, _direction(f, lat, sign), 8.0)
    else:  # The other hand leans on a table in front.
      _arm(rig, side, _direction(lean + 15.0, 10.0, sign), 15.0)
  return motion_lib._Placement()


def _rotation(external: bool):
  """Rotator-cuff work, elbow at 90 degrees: the forearm turns about the upper arm's axis."""

  def program(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
    _upright(rig)
    for side, sign in _SIDES:
      working = variant == 'both' or side == c.dominant()
      s = c.s * c.amp(side) * working
      if external:  # At the side, forearm from pointing forward to pointing out.
        upper, turn = _direction(6.0, 3.0, sign), 75.0 * s
      elif variant == '90_90':  # Arm out to the side, forearm from pointing up to forward.
        upper, turn = _direction(5.0, 85.0, sign), 90.0 - 95.0 * s
      else:  # At the side, forearm from slightly out to across the belly.
        upper, turn = _direction(6.0, 3.0, sign), 20.0 - 85.0 * s
      _arm(rig, side, upper, 90.0)
      shoulder = _J[f'{side}_shoulder']
      rig.local[:, shoulder] = rig.local[:, shoulder] @ _axis(2, sign * turn * _DEG)
    return motion_lib._Placement()

  return program


def _arm_circles(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  direction = -1.0 if variant == 'backward' else 1.0
  phase = 2 * np.pi * c.cycles(c.rng.uniform(0.8, 1.4) * c.subject.tempo**0.5) * direction
  cone = (c.rng.uniform(12.0, 25.0) if variant != 'large' else 55.0) * c.amp()
  for side, sign in _SIDES:
    _arm(rig, side, _direction(cone * np.sin(phase), 85.0 + cone * np.cos(phase), sign), 5.0)
  return motion_lib._Placement()


def _hammer_curls(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  odd = c.timeline.rep_index % 2 == 1
  for side, sign in _SIDES:
    s = c.s if variant == 'both' else np.where(odd == (side == 'right'), c.s, 0.0)
    # Cross-body: the forearm comes up towards the opposite shoulder.
    _arm(rig, side, _direction(6.0 + 10.0 * s, 4.0, sign), 12.0 + 125.0 * s * c.amp(side))
    rig.local[:, _J[f'{side}_shoulder']] = rig.local[:, _J[f'{side}_shoulder']] @ _axis(
      2, -sign * 30.0 * s * _DEG
    )
  return motion_lib._Placement()


def _knee_bends(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  amp = c.amp()
  s = c.s
  lean = 25.0 * s * amp
  rig.turn('pelvis', _lean(lean))
  for side, _ in _SIDES:
    rig.leg(side, lean, 110.0 * s * amp, -40.0 * s * amp)
  rig.turn('spine', _lean(-5.0 * s))
  for side, sign in _SIDES:
    _arm(rig, side, _direction(8.0 + 75.0 * s, 8.0, sign), 10.0)
  return motion_lib._Placement()


def _kettlebell_swings(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  s = c.s * c.amp()
  hinge = 65.0 * s
  rig.turn('pelvis', _lean(hinge))
  for side, _ in _SIDES:
    rig.leg(side, hinge, 18.0 * s + 3.0, -3.0 - 4.0 * s)
  for side, sign in _SIDES:
    # Arms horizontal at the top, back between the legs at the bottom of the hinge.
    _arm(rig, side, _direction(90.0 - 125.0 * s, -8.0, sign), 5.0)
  return motion_lib._Placement()


def _vacuuming(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  s = c.s * c.amp()
  rig.turn('pelvis', _lean(10.0 + 12.0 * s))
  for side, _ in _SIDES:
    front = side == c.dominant()
    rig.leg(side, 10.0 + 12.0 * s, (25.0 if front else -8.0) * (0.4 + 0.6 * s), -5.0)
  for side, sign in _SIDES:
    if side == c.dominant():  # Push the nozzle forward, pull it back.
      _arm(rig, side, _direction(25.0 + 40.0 * s, 10.0, sign), 60.0 - 45.0 * s)
    else:
      _arm(rig, side, _direction(8.0, 8.0, sign), 20.0)
  return motion_lib._Placement(anchor='stance')


def _ironing(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  s = c.s * c.amp()
  rig.turn('pelvis', _lean(8.0))
  side_sweep = c.sway(6.0, 0.1, 0.3)
  for side, sign in _SIDES:
    if side == c.dominant():  # The iron slides forward and back at waist height.
      _arm(rig, side, _direction(25.0 + 30.0 * s, 10.0 + side_sweep, sign), 90.0 - 45.0 * s)
    else:  # The other hand holds the garment.
      _arm(rig, side, _direction(30.0, 5.0, sign), 80.0)
  return motion_lib._Placement()


def _brushing_teeth(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  _upright(rig)
  rig.turn('pelvis', _lean(5.0))
  rig.turn('neck', _lean(8.0))
  brush = np.sin(2 * np.pi * c.cycles(c.rng.uniform(3.0, 4.5)))
  region = c.sway(5.0, 0.1, 0.3)  # Moving round the mouth.
  for side, sign in _SIDES:
    if side == c.dominant():
      _arm(rig, side, _direction(35.0 + region, 25.0 + 6.0 * brush, sign), 140.0 + 4.0 * brush)
    else:
      _arm(rig, side, _direction(10.0, 8.0, sign), 20.0 + c.sway(5.0))
  return motion_lib._Placement()


def _plank(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  return _pushup_family(c, rig, 0.03 * (1 + np.sin(2 * np.pi * c.times / 4.0)), None)


def _pushup_family(c: _Ctx, rig: _Rig, profile: np.ndarray, legs) -> motion_lib._Placement:
  """MM-Fit's push-up geometry (hands fixed on the floor by IK) at a given depth profile."""
  timeline = dataclasses.replace(
    c.timeline or motion_lib._timeline(c.times, 2.0, 0.0, c.fps, c.rng), profile=profile
  )
  context = motion_lib._Context(subject=c.subject, timeline=timeline, times=c.times, rng=c.rng)
  placement = motion_lib._pushups(context, rig, 'standard')
  if legs is not None:
    legs(rig)
  return placement


def _mountain_climbers(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  phase = 2 * np.pi * c.cycles(c.rng.uniform(0.9, 1.4) * c.subject.tempo**0.4)

  def legs(rig: _Rig) -> None:
    for side, _ in _SIDES:
      drive = np.maximum(np.sin(phase + (0.0 if side == 'left' else np.pi)), 0.0) ** 1.5
      drive = drive * c.amp()
      # The plank's hips are low: a deeper hip drive would put the knee through the floor.
      rig.turn(f'{side}_hip', _swing(28.0 * drive))
      rig.turn(f'{side}_knee', _swing(-115.0 * drive))

  # Placed as the straight-legged plank is (the toes anchor would sink the planted foot).
  placement = _pushup_family(c, rig, np.zeros(c.num_frames), None)
  body = placement.root_rotation
  reference = skeleton.forward_kinematics(rig.local, c.offsets, np.zeros((c.num_frames, 3)), body)
  root = _place(reference, placement)[:, 0, :]
  legs(rig)
  return _Rooted(root_position=root, body_rotation=body)


def _chest_flyes(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
  """Lying on a bench, feet on the floor, straight-ish arms opening out to the sides."""
  bench = c.rng.uniform(0.42, 0.48)
  body = np.broadcast_to(_axis(1, -np.pi / 2), (c.num_frames, 3, 3))
  root = np.zeros((c.num_frames, 3))
  root[:, 2] = bench + 0.10
  feet = _stand_feet(c, width=0.1, x=0.55 * c.height / 1.75)
  s = c.s
  for side, sign in _SIDES:
    # Supine, the ceiling is +z: arms from pointing up to out to the sides, elbows soft.
    angle = 85.0 * s * c.amp(side) * _DEG
    world = np.stack([np.zeros_like(angle), sign * np.sin(angle), np.cos(angle)], -1)
    _arm(rig, side, world, 20.0, body)
  return _Rooted(root_position=root, body_rotation=body, ankles=feet)


def _lunge_program(lateral: bool):
  """Reverse or side lunges: one foot steps out and back, the pelvis sinks between the feet."""

  def program(c: _Ctx, rig: _Rig, variant: str) -> _Rooted:
    s = c.s
    amp = c.amp()
    moving_left = c.timeline.rep_index % 2 == (0 if variant == 'left_first' else 1)
    out = _smooth(s / 0.55)
    distance = (0.45 if lateral else 0.5) * c.leg * 1.5 * np.minimum(amp, 1.0)
    feet = _stand_feet(c)
    for k, (side, sign) in enumerate(_SIDES):
      moving = moving_left if side == 'left' else ~moving_left
      step = distance * out * moving
      lift = 0.05 * np.sin(np.pi * np.clip(s / 0.55, 0, 1)) ** 2 * moving
      if lateral:
        feet[:, k, 1] += sign * step
      else:
        feet[:, k, 0] -= step
        lift = lift + 0.05 * out * moving  # The back foot on its toes.
      feet[:, k, 2] += lift
    root = np.zeros((c.num_frames, 3))
    shift = 0.45 * distance * _smooth(s / 0.8)
    direction = np.where(moving_left, 1.0, -1.0)
    if lateral:
      root[:, 1] = direction * shift
    else:
      root[:, 0] = -shift
    depth = 0.32 * amp * _smooth((s - 0.25) / 0.75)
    root[:, 2] = c.standing_pelvis_z - depth
    lean = (8.0 if not lateral else 25.0) * s
    rig.turn('pelvis', _lean(lean))
    for side, sign in _SIDES:
      _arm(rig, side, _direction(lean * 0.8 + (40.0 * s if lateral else 0.0), 10.0, sign), 15.0)
    limit = _max_pelvis_z(rig, c, None, root[:, :2], feet)
    root[:, 2] = np.minimum(root[:, 2], limit - 0.002)
    return _Rooted(root_position=root, ankles=feet)

  return program


def _burpees(c: _Ctx, rig: _Rig, variant: str) -> motion_lib._Placement:
  """Squat, hands down, feet back to a plank, back in, jump: keyframes blended in rotations."""
  u = c.timeline.phase
  n = c.num_frames
  keys = {}
  for name in ('stand', 'squat', 'plank'):
    key_rig = _Rig(n)
    if name == 'stand':
      _upright(key_rig)
      rotation = np.broadcast_to(np.eye(3), (n, 3, 3))
    elif name == 'squat':
      key_rig.turn('pelvis', _lean(50.0))
      for side, _ in _SIDES:
        key_rig.leg(side, 50.0, 100.0, -30.0)
        key_rig.turn(f'{side}_shoulder', _swing(130.0))
      rotation = np.broadcast_to(np.eye(3), (n, 3, 3))
    else:
      key_timeline = motion_lib._Timeline(
        profile=np.zeros(n),
        phase=np.zeros(n),
        rep_index=np.zeros(n, int),
        active=np.zeros(n, bool),
        amplitude=np.ones(n),
        rep_frames=np.zeros((0, 2), int),
        mean_period_s=1.0,
      )
      context = motion_lib._Context(
        subject=c.subject, timeline=key_timeline, times=c.times, rng=c.rng
      )
      rotation = motion_lib._pushups(context, key_rig, 'standard').root_rotation
    keys[name] = (key_rig.local, rotation)
  # Phase: 0-.2 stand->squat, .2-.35 squat->plank, .35-.5 hold, .5-.65 plank->squat,
  # .65-.8 squat->stand, .8-1 stand (the jump).
  w1 = _smooth(u / 0.2)
  w2 = _smooth((u - 0.2) / 0.15) - _smooth((u - 0.5) / 0.15)
  w3 = _smooth((u - 0.65) / 0.15)
  local = _slerp(keys['stand'][0], keys['squat'][0], w1 - w3 * (u > 0.6))
  rotation = np.broadcast_to(np.eye(3), (n, 3, 3))
  local = _slerp(local, keys['plank'][0], w2)
  rotation = _slerp(rotation, keys['plank'][1], w2)
  rig.local[:] = local
  jump = np.where(u > 0.8, np.sin(np.pi * np.clip((u - 0.8) / 0.2, 0, 1)), 0.0)
  for side, sign in _SIDES:
    rig.turn(f'{side}_shoulder', _abduct(60.0 * jump, sign) @ _swing(100.0 * jump))
  lift = 0.12 * c.amp() * jump**2
  return motion_lib._Placement(root_rotation=rotation, anchor='lowest', lift=lift)


def _gait_program(c: _Ctx, rig: _Rig, variant: str, *, spec: _Gait) -> _Rooted:
  return _gait(c, rig, variant, spec)


# --- Registry -------------------------------------------------------------------------------

_Program = Callable[[_Ctx, _Rig, str], 'motion_lib._Placement | _Rooted']

# Repetition exercises: seconds per repetition at tempo 1, and how much of the pause applies.
_REP_PERIOD_S = {
  'waist_bends_forward': 3.0,
  'frontal_elevation_of_arms': 2.4,
  'knee_bends': 2.6,
  'arnold_press': 3.0,
  'front_raises': 2.4,
  'upright_rows': 2.4,
  'reverse_flyes': 2.4,
  'chest_flyes': 2.8,
  'hammer_curls': 2.2,
  'reverse_lunges': 2.8,
  'side_lunges': 2.8,
  'burpees': 3.4,
  'kettlebell_swings': 1.5,
  'shoulder_abduction': 3.0,
  'shoulder_flexion': 3.0,
  'shoulder_external_rotation': 2.4,
  'shoulder_internal_rotation': 2.4,
  'vacuuming': 1.8,
  'ironing': 1.5,
}
_NO_PAUSE = frozenset({'kettlebell_swings', 'vacuuming', 'ironing', 'burpees'})

_PROGRAMS: dict[str, _Program] = {
  **{name: functools.partial(_gait_program, spec=spec) for name, spec in _GAITS.items()},
  'cycling': _cycling,
  'rope_jumping': _rope_jumping,
  'standing': _standing,
  'sitting': _sitting,
  'lying': _lying,
  'sit_to_stand': _sit_to_stand,
  'stand_to_sit': _stand_to_sit,
  'lie_to_sit': _lie_to_sit,
  'waist_bends_forward': _waist_bends,
  'frontal_elevation_of_arms': _arm_raise(168.0),
  'knee_bends': _knee_bends,
  'jump_front_back': _jump_front_back,
  'arnold_press': _arnold_press,
  'front_raises': _arm_raise(88.0),
  'upright_rows': _upright_rows,
  'reverse_flyes': _reverse_flyes,
  'chest_flyes': _chest_flyes,
  'hammer_curls': _hammer_curls,
  'reverse_lunges': _lunge_program(lateral=False),
  'side_lunges': _lunge_program(lateral=True),
  'plank': _plank,
  'burpees': _burpees,
  'mountain_climbers': _mountain_climbers,
  'kettlebell_swings': _kettlebell_swings,
  'pendulum_swings': _pendulum_swings,
  'shoulder_abduction': _shoulder_abduction,
  'shoulder_flexion': _arm_raise(150.0, elbow=5.0),
  'shoulder_external_rotation': _rotation(external=True),
  'shoulder_internal_rotation': _rotation(external=False),
  'arm_circles': _arm_circles,
  'vacuuming': _vacuuming,
  'ironing': _ironing,
  'brushing_teeth': _brushing_teeth,
  'typing': _typing,
}

_VARIANTS: dict[str, tuple[str, ...]] = {
  'walking': ('swing', 'swing', 'phone'),
  'walking_slow': ('swing', 'phone'),
  'nordic_walking': ('poles',),
  'standing': ('still', 'phone', 'arms_crossed'),
  'sitting': ('hands_on_thighs', 'phone', 'hands_on_thighs'),
  'lying': ('supine', 'knees_up', 'side', 'prone'),
  'frontal_elevation_of_arms': ('both',),
  'front_raises': ('both', 'alternating'),
  'shoulder_flexion': ('one_arm', 'both'),
  'shoulder_abduction': ('one_arm', 'both'),
  'shoulder_external_rotation': ('one_arm', 'both'),
  'shoulder_internal_rotation': ('one_arm', 'both', '90_90'),
  'hammer_curls': ('both', 'alternating'),
  'reverse_lunges': ('left_first', 'right_first'),
  'side_lunges': ('left_first', 'right_first'),
  'pendulum_swings': ('forward_back', 'side_to_side', 'circles'),
  'arm_circles': ('forward', 'backward', 'large'),
  'waist_bends_forward': ('hang', 'reach'),
}

WEARABLE_ONLY = activities_lib.WEARABLE_ACTIVITIES[len(activities_lib.ACTIVITIES) :]
assert set(_PROGRAMS) == set(WEARABLE_ONLY), set(WEARABLE_ONLY) ^ set(_PROGRAMS)
# Legs solved by IK to exact foot targets: no joint jitter on the pelvis and legs.
GAITS = tuple(_GAITS)
# Activities whose feet may all leave the floor (flight phases).
AIRBORNE = frozenset(
  {'jogging', 'running', 'rope_jumping', 'jump_front_back', 'jumping_jacks', 'burpees'}
)
# Body posture groups: transitions blend activities of one group (or standing <-> seated).
POSTURE_GROUP: dict[str, str] = {
  **{name: 'upright' for name in activities_lib.WEARABLE_ACTIVITIES},
  **{name: 'seated' for name in ('sitting', 'typing', 'cycling')},
  **{name: 'floor' for name in ('lying', 'situps', 'lie_to_sit', 'chest_flyes')},
  **{name: 'prone' for name in ('pushups', 'plank', 'mountain_climbers', 'burpees')},
}
# Activities that are themselves a transition (never blended with another).
TRANSITIONS = frozenset({'sit_to_stand', 'stand_to_sit', 'lie_to_sit', 'cycling', 'burpees'})


def transition_partners(activity: str) -> tuple[str, ...]:
  """Activities that can come before or after `activity` in one clip (maybe none)."""
  if activity in TRANSITIONS:
    return ()
  group = POSTURE_GROUP[activity]
  partners = [
    other
    for other in activities_lib.WEARABLE_ACTIVITIES
    if other != activity and other not in TRANSITIONS and POSTURE_GROUP[other] == group
  ]
  calm = ('standing', 'walking_slow', 'walking', 'non_activity')
  if activity in calm:
    partners += ['sitting', 'typing']
  elif activity in ('sitting', 'typing'):
    partners += list(calm)
  return tuple(partners)


# --- Assembly -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _State:
  local: np.ndarray  # (T, 17, 3, 3)
  body_rotation: np.ndarray  # (T, 3, 3)
  root: np.ndarray  # (T, 3) heading-free
  rep_frames: np.ndarray
  active: np.ndarray
  period_s: float | None
  variant: str


def _fatigue(c_subject: motion_lib.Subject, hab: Habits, times, rng) -> np.ndarray:
  rate = hab.fatigue_per_s * rng.uniform(0.5, 1.5)
  return 1.0 - rate * times


def _rep_bookkeeping(timeline: motion_lib._Timeline) -> np.ndarray:
  """(reps, 2) [start, end) frames of repetitions that start and end inside the clip."""
  frames = []
  last = timeline.active.shape[0]
  for k in np.unique(timeline.rep_index[timeline.active]):
    idx = np.flatnonzero(timeline.active & (timeline.rep_index == k))
    if idx[0] > 0 and idx[-1] < last - 1:
      frames.append((int(idx[0]), int(idx[-1]) + 1))
  return np.asarray(frames, int).reshape(-1, 2)


def _place(pose: np.ndarray, placement: motion_lib._Placement) -> np.ndarray:
  """(T, 1, 3) translation for `motion` placements, plus 'lowest' (any joint on the floor)."""
  if placement.anchor != 'lowest':
    return motion_lib._ground_offset(pose, placement)
  contact = np.full(pose.shape[1], 0.05)
  for side, _ in _SIDES:
    contact[_J[f'{side}_ankle']] = ANKLE
    contact[_J[f'{side}_wrist']] = motion_lib.WRIST_ON_FLOOR_HEIGHT
  heights = pose[..., 2] - contact
  z = heights.min(axis=1) - placement.lift
  weights = np.exp(-(heights - heights.min(axis=1, keepdims=True)) / 0.01)
  weights /= weights.sum(axis=1, keepdims=True)
  velocity = np.diff(pose[..., :2], axis=0)
  travel = np.cumsum(np.sum(0.5 * (weights[1:] + weights[:-1])[..., None] * velocity, 1), 0)
  xy = pose[0, :, :2].mean(0) + np.concatenate([np.zeros((1, 2)), travel], 0)
  return -np.concatenate([xy, z[:, None]], -1)[:, None, :]


def _state(activity: str, subject, times, fps, rng) -> _State:
  offsets = skeleton.rest_offsets(np.asarray(subject.bone_lengths))
  num = times.shape[0]
  if activity in MMFIT:
    ps = motion_lib.program_state(activity, subject, times, fps, rng)
    pose = skeleton.forward_kinematics(ps.rig.local, offsets, np.zeros((num, 3)), ps.body_rotation)
    root = _place(pose, ps.placement)[:, 0, :]
    return _State(
      local=ps.rig.local,
      body_rotation=np.asarray(ps.body_rotation),
      root=root,
      rep_frames=ps.timeline.rep_frames,
      active=ps.timeline.active.copy(),
      period_s=ps.timeline.mean_period_s if ps.is_exercise else None,
      variant=ps.variant,
    )
  hab = habits(subject)
  fatigue = _fatigue(subject, hab, times, rng)
  timeline = None
  if activity in _REP_PERIOD_S:
    period = _REP_PERIOD_S[activity] / subject.tempo
    pause = 0.0 if activity in _NO_PAUSE else subject.pause_s
    # Fatigue slows the repetitions: the timeline runs on a slowing clock.
    clock = np.concatenate([[0.0], np.cumsum(0.5 * (fatigue[1:] + fatigue[:-1]) / fps)])
    timeline = motion_lib._timeline(clock, period, pause, fps, rng)
  c = _Ctx(
    subject=subject,
    habits=hab,
    times=times,
    fps=fps,
    rng=rng,
    lengths=np.asarray(subject.bone_lengths),
    offsets=offsets,
    fatigue=fatigue,
    timeline=timeline,
  )
  variants = _VARIANTS.get(activity, ('standard',))
  variant = variants[int(rng.integers(len(variants)))]
  rig = _Rig(num)
  result = _PROGRAMS[activity](c, rig, variant)
  jitter = motion_lib._jitter(subject, times, rng)
  if isinstance(result, _Rooted):
    jitter[:, (0,) + _LEG_JOINTS] = np.eye(3)
  rig.local = rig.local @ jitter
  if isinstance(result, _Rooted):
    if result.ankles is not None:
      _solve_legs(rig, c, result)
    body = result.body_rotation
    root = result.root_position
  else:
    body = result.root_rotation
    if body is None:
      body = np.broadcast_to(np.eye(3), (num, 3, 3))
    pose = skeleton.forward_kinematics(rig.local, offsets, np.zeros((num, 3)), body)
    root = _place(pose, result)[:, 0, :]
  if body is None:
    body = np.broadcast_to(np.eye(3), (num, 3, 3))
  if timeline is not None:
    rep_frames, active = _rep_bookkeeping(timeline), timeline.active.copy()
    period = timeline.mean_period_s
  else:
    rep_frames, active, period = np.zeros((0, 2), int), np.zeros(num, bool), None
  return _State(
    local=rig.local,
    body_rotation=np.asarray(body),
    root=root,
    rep_frames=rep_frames,
    active=active,
    period_s=period,
    variant=variant,
  )


def _check(activity, subject, duration_s, fps, rng) -> np.ndarray:
  activities_lib.wearable_activity_id(activity)
  if not isinstance(subject, motion_lib.Subject):
    raise ValueError(f'subject must be a Subject (see motion.sample_subject), got {type(subject)}.')
  if not (math.isfinite(fps) and fps > 0):
    raise ValueError(f'fps must be finite and > 0, got {fps}.')
  if not (math.isfinite(duration_s) and duration_s > 0):
    raise ValueError(f'duration_s must be finite and > 0, got {duration_s}.')
  num = int(round(duration_s * fps))
  if num < 2:
    raise ValueError(f'duration_s={duration_s} at {fps} fps gives {num} frames; need 2.')
  if not isinstance(rng, np.random.Generator):
    raise ValueError(f'rng must be a np.random.Generator, got {type(rng)}.')
  return np.arange(num) / fps


def _pose(state_local, body, root, subject, heading) -> np.ndarray:
  offsets = skeleton.rest_offsets(np.asarray(subject.bone_lengths))
  pose = skeleton.forward_kinematics(state_local, offsets, root, body)
  return pose @ _axis(2, heading).T


def generate(
  activity: str,
  subject: motion_lib.Subject,
  duration_s: float,
  fps: float = 30.0,
  *,
  rng: np.random.Generator,
) -> motion_lib.Motion:
  """`duration_s` of one `WEARABLE_ACTIVITIES` class (MM-Fit's go to `motion.generate_motion`).

  Returns a `motion.Motion` (floor at z = 0); `rep_period_s` is the repetition period of
  repetition exercises and None for gait, postures and transitions.
  """
  times = _check(activity, subject, duration_s, fps, rng)
  if activity in MMFIT:
    return motion_lib.generate_motion(activity, subject, duration_s, fps, rng=rng)
  state = _state(activity, subject, times, fps, rng)
  heading = float(rng.uniform(-np.pi, np.pi))
  return motion_lib.Motion(
    activity=activity,
    pose=_pose(state.local, state.body_rotation, state.root, subject, heading),
    fps=float(fps),
    reps=int(state.rep_frames.shape[0]),
    rep_frames=state.rep_frames,
    active=state.active,
    rep_period_s=state.period_s,
    heading_rad=heading,
    variant=state.variant,
  )


@dataclasses.dataclass(frozen=True)
class Transition:
  """Two activities in one clip: `first` until `switch_s` (blend centre), then `second`."""

  first: str
  second: str
  switch_s: float
  blend_s: float

  def label_activity(self, duration_s: float) -> str:
    """The clip's label: the activity under way at the clip centre."""
    return self.first if self.switch_s > duration_s / 2 else self.second

  def weight(self, times: np.ndarray) -> np.ndarray:
    """Share of `second` at `times` (s): 0 before the blend, 1 after, minimum-jerk between."""
    return _smooth((np.asarray(times) - self.switch_s) / self.blend_s + 0.5)


def generate_transition(
  first: str,
  second: str,
  subject: motion_lib.Subject,
  duration_s: float,
  fps: float = 30.0,
  *,
  rng: np.random.Generator,
  switch_s: float | None = None,
) -> tuple[motion_lib.Motion, Transition]:
  """One clip that starts as `first` and blends smoothly into `second`.

  The two programs run on the same subject and clock; their local joint rotations and body
  rotations are blended geodesically over `blend_s` (1-2 s) around `switch_s`, the root
  positions linearly, with `second`'s path moved to start where `first` is at the switch. The
  body is then lifted wherever an ankle would be below the floor. Repetition bookkeeping is
  that of the labelled activity (the one at the clip centre), restricted to its part.
  """
  times = _check(first, subject, duration_s, fps, rng)
  activities_lib.wearable_activity_id(second)
  duration = float(times[-1] + 1.0 / fps)
  if switch_s is None:
    offset = rng.uniform(0.5, 0.3 * duration) * (1.0 if rng.random() < 0.5 else -1.0)
    switch_s = duration / 2 + offset
  blend = float(rng.uniform(1.0, 2.0))
  info = Transition(first=first, second=second, switch_s=float(switch_s), blend_s=blend)
  a = _state(first, subject, times, fps, rng)
  b = _state(second, subject, times, fps, rng)
  w = info.weight(times)
  at = int(np.clip(round(switch_s * fps), 0, times.shape[0] - 1))
  b_root = b.root.copy()
  b_root[:, :2] += a.root[at, :2] - b.root[at, :2]
  local = _slerp(a.local, b.local, w)
  body = _slerp(a.body_rotation, b.body_rotation, w)
  root = (1.0 - w)[:, None] * a.root + w[:, None] * b_root
  heading = float(rng.uniform(-np.pi, np.pi))
  pose = _pose(local, body, root, subject, heading)
  ankles = pose[:, [_J['left_ankle'], _J['right_ankle']], 2].min(axis=1)
  pose[..., 2] += np.maximum(ANKLE - ankles, 0.0)[:, None]
  labelled = a if info.label_activity(duration) == first else b
  keep = times < switch_s - blend / 2 if labelled is a else times > switch_s + blend / 2
  rep_frames = (
    labelled.rep_frames[
      keep[labelled.rep_frames[:, 0]] & keep[np.maximum(labelled.rep_frames[:, 1] - 1, 0)]
    ]
    if labelled.rep_frames.size
    else labelled.rep_frames
  )
  motion = motion_lib.Motion(
    activity=info.label_activity(duration),
    pose=pose,
    fps=float(fps),
    reps=int(rep_frames.shape[0]),
    rep_frames=rep_frames,
    active=labelled.active & keep,
    rep_period_s=labelled.period_s,
    heading_rad=heading,
    variant=labelled.variant,
  )
  return motion, info
