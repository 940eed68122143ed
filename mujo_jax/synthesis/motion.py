"""Procedural exercise motion: joint-rotation trajectories of the 11 MM-Fit classes.

The synthetic corpus needs motion that *causes* every other modality, so each class is a
kinematic program, not a label on noise: per-joint rotations driven by a repetition profile
s(t) in [0, 1] (0 = start position, 1 = deepest point; a raised cosine per repetition), put
through forward kinematics (`skeleton.forward_kinematics`) with the subject's bone lengths, then
placed in the world by a ground contact: standing exercises keep the lowest ankle at
`skeleton.ANKLE_HEIGHT` above the floor and the feet's midpoint fixed in x, y; stepping (lunges,
walking) keeps whichever foot is on the ground in place, so the body travels as a real one does
(lunges may drift a little, like walking lunges); jumping jacks add a flight phase; push-ups
pivot on the feet and solve the arms by two-link inverse kinematics so the hands stay on the
floor; sit-ups lie on the back with the feet on the floor. Body-frame conventions
are those of `skeleton` (x forward, y left, z up); the world is z up.

Variation: per subject (`Subject`) bone lengths, tempo, range of motion, left/right asymmetry,
pause between repetitions and jitter; per clip the heading, the phase at which the clip starts,
per-repetition tempo and amplitude, and a few style choices (arms during squats, one-arm or
two-arm rows, alternating curls). Joint jitter is smooth (sums of slow random sinusoids), like
real sway, not white noise.

Sagittal angles below are forward swings in degrees of a bone from straight down (thigh, shin,
arm): a bone swung by alpha points along (sin alpha, 0, -cos alpha) in the body frame, which is
the rotation `Ry(-alpha)`; a trunk lean beta (up-pointing bones forward) is `Ry(beta)`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from mujo_jax.facts import activities as activities_lib
from mujo_jax.facts import skeleton

_DEG = math.pi / 180.0
_J = {name: i for i, name in enumerate(skeleton.H36M_JOINTS)}
_SIDES = (('left', 1.0), ('right', -1.0))

# Seconds per repetition (movement only) at tempo 1, and how much of the subject's pause applies.
_REP_PERIOD_S = {
  'squats': 2.4,
  'lunges': 2.6,
  'bicep_curls': 2.2,
  'situps': 2.6,
  'pushups': 2.0,
  'tricep_extensions': 2.4,
  'dumbbell_rows': 2.2,
  'jumping_jacks': 1.1,
  'dumbbell_shoulder_press': 2.4,
  'lateral_shoulder_raises': 2.4,
}
_PAUSE_SCALE = {name: 1.0 for name in _REP_PERIOD_S} | {'jumping_jacks': 0.0}
# How strongly the subject's tempo applies (period = base / tempo**exponent): jumping jacks are
# bounded by the jump, whose cadence varies less than that of slow strength exercises.
_TEMPO_EXPONENT = {name: 1.0 for name in _REP_PERIOD_S} | {'jumping_jacks': 0.4}

LYING_PELVIS_HEIGHT = 0.10  # Pelvis joint above the floor when lying on the back (m).
_CONTACT_SOFTNESS_M = 0.01  # Height difference over which ground contact passes between feet.
TOE_ANKLE_HEIGHT = 0.10  # Ankle above the floor when standing on the toes (push-ups) (m).
WRIST_ON_FLOOR_HEIGHT = 0.04  # Wrist joint above the floor with the palm flat (m).


@dataclasses.dataclass(frozen=True, kw_only=True)
class Subject:
  """A synthetic person: body and movement habits shared by all of their clips.

  Attributes:
    subject_id: integer id; splits are disjoint in it.
    bone_lengths: (17,) metres, length of the bone ending at each joint (entry 0 unused),
      left and right equal.
    tempo: speed multiplier of a repetition (1 = nominal cadence).
    amplitude: range-of-motion multiplier (1 = full textbook range).
    asymmetry: relative left-minus-right range difference in [-0.2, 0.2].
    pause_s: mean pause between repetitions (s).
    jitter_deg: amplitude of the smooth joint jitter (degrees).
  """

  subject_id: int
  bone_lengths: tuple[float, ...]
  tempo: float
  amplitude: float
  asymmetry: float
  pause_s: float
  jitter_deg: float

  def __post_init__(self):
    if len(self.bone_lengths) != skeleton.NUM_H36M_JOINTS:
      raise ValueError(f'bone_lengths must have 17 entries, got {len(self.bone_lengths)}.')
    checks = {
      'tempo': self.tempo > 0,
      'amplitude': self.amplitude > 0,
      'asymmetry': abs(self.asymmetry) <= 0.2,
      'pause_s': self.pause_s >= 0,
      'jitter_deg': self.jitter_deg >= 0,
    }
    for name, ok in checks.items():
      value = getattr(self, name)
      if not (math.isfinite(value) and ok):
        raise ValueError(f'Subject.{name} is out of range: {value}.')
    skeleton.rest_offsets(np.asarray(self.bone_lengths))  # Validates lengths.

  @property
  def height_m(self) -> float:
    """Standing height: floor to the top of the head."""
    points = _rest_points(self)
    return float(points['head'][2] - points['ankle'][2] + skeleton.ANKLE_HEIGHT)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Motion:
  """One generated clip of motion.

  Attributes:
    activity: one of `activities.ACTIVITIES`.
    pose: (T, 17, 3) float64 H36M joints, world metres, z up, floor at z = 0.
    fps: frame rate of `pose`.
    reps: repetitions completed inside the clip (started and finished in it); 0 for
      non_activity.
    rep_frames: (reps, 2) int, [start, end) frame of each completed repetition.
    active: (T,) bool, True while a repetition is in motion (False in pauses and for
      non_activity).
    rep_period_s: mean duration of one repetition's movement (s); None for non_activity.
    heading_rad: direction the body faces, about world z (0 = +x).
    variant: style that was drawn (e.g. 'walk', 'alternating'), for descriptions.
  """

  activity: str
  pose: np.ndarray
  fps: float
  reps: int
  rep_frames: np.ndarray
  active: np.ndarray
  rep_period_s: float | None
  heading_rad: float
  variant: str


def sample_subject(rng: np.random.Generator, subject_id: int) -> Subject:
  """Draws a subject: adult proportions around 1.55-1.95 m, habits within gym-typical ranges."""
  scale = float(np.clip(rng.normal(1.0, 0.055), 0.88, 1.12))
  lengths = np.array(skeleton.DEFAULT_BONE_LENGTHS) * scale
  # Per-bone variation, mirrored so the two sides are equal.
  for left, right in (
    ('left_hip', 'right_hip'),
    ('left_knee', 'right_knee'),
    ('left_ankle', 'right_ankle'),
    ('left_shoulder', 'right_shoulder'),
    ('left_elbow', 'right_elbow'),
    ('left_wrist', 'right_wrist'),
  ):
    factor = float(np.clip(rng.normal(1.0, 0.03), 0.92, 1.08))
    lengths[_J[left]] *= factor
    lengths[_J[right]] *= factor
  for name in ('spine', 'thorax', 'neck', 'head'):
    lengths[_J[name]] *= float(np.clip(rng.normal(1.0, 0.03), 0.92, 1.08))
  lengths[0] = 0.0
  return Subject(
    subject_id=int(subject_id),
    bone_lengths=tuple(float(x) for x in lengths),
    tempo=float(rng.uniform(0.75, 1.3)),
    amplitude=float(rng.uniform(0.8, 1.05)),
    asymmetry=float(rng.uniform(-0.12, 0.12)),
    pause_s=float(rng.uniform(0.0, 0.8)),
    jitter_deg=float(rng.uniform(0.8, 2.5)),
  )


# --- Rotation helpers -----------------------------------------------------------------------


def _axis_rotation(axis: int, angle_rad: np.ndarray | float) -> np.ndarray:
  """(..., 3, 3) rotations by `angle_rad` about body axis 0 (x), 1 (y) or 2 (z)."""
  angle = np.asarray(angle_rad, dtype=np.float64)
  c, s = np.cos(angle), np.sin(angle)
  i, j = ((1, 2), (2, 0), (0, 1))[axis]
  rotation = np.zeros(angle.shape + (3, 3))
  rotation[..., axis, axis] = 1.0
  rotation[..., i, i] = c
  rotation[..., j, j] = c
  rotation[..., i, j] = -s
  rotation[..., j, i] = s
  return rotation


def _swing(alpha_deg) -> np.ndarray:
  """Forward swing of a down-pointing bone by alpha degrees (Ry(-alpha))."""
  return _axis_rotation(1, -np.asarray(alpha_deg) * _DEG)


def _lean(beta_deg) -> np.ndarray:
  """Forward lean of an up-pointing bone by beta degrees (Ry(beta))."""
  return _axis_rotation(1, np.asarray(beta_deg) * _DEG)


def _abduct(angle_deg, side: float) -> np.ndarray:
  """Sideways raise away from the body midline (Rx(+angle) on the left, Rx(-angle) right)."""
  return _axis_rotation(0, side * np.asarray(angle_deg) * _DEG)


def _rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
  """(..., 3) rotation vectors (radians) -> (..., 3, 3): R = c I + s [a]x + (1 - c) a a^T."""
  angle = np.linalg.norm(rotvec, axis=-1)
  axis = rotvec / np.maximum(angle, 1e-12)[..., None]
  c, s = np.cos(angle), np.sin(angle)
  rotation = (1.0 - c)[..., None, None] * axis[..., :, None] * axis[..., None, :]
  x, y, z = s * axis[..., 0], s * axis[..., 1], s * axis[..., 2]
  for i in range(3):
    rotation[..., i, i] += c
  rotation[..., 0, 1] -= z
  rotation[..., 1, 0] += z
  rotation[..., 0, 2] += y
  rotation[..., 2, 0] -= y
  rotation[..., 1, 2] -= x
  rotation[..., 2, 1] += x
  return rotation


class _Rig:
  """Per-frame local joint rotations under construction, (T, 17, 3, 3)."""

  def __init__(self, num_frames: int):
    self.local = np.tile(np.eye(3), (num_frames, skeleton.NUM_H36M_JOINTS, 1, 1))

  def turn(self, joint: str, rotation: np.ndarray) -> None:
    """Appends `rotation` (3, 3) or (T, 3, 3) in the joint's own frame."""
    j = _J[joint]
    self.local[:, j] = self.local[:, j] @ rotation

  def leg(self, side: str, pelvis_lean, thigh, shin, abduction=0.0) -> None:
    """Sets a leg from world-vertical swings of thigh and shin (degrees), given the lean."""
    sign = 1.0 if side == 'left' else -1.0
    self.turn(f'{side}_hip', _swing(np.asarray(thigh) + np.asarray(pelvis_lean)))
    if np.any(np.asarray(abduction) != 0):
      self.turn(f'{side}_hip', _abduct(abduction, sign))
    self.turn(f'{side}_knee', _swing(np.asarray(shin) - np.asarray(thigh)))


# --- Timeline -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Timeline:
  """Where each frame is in the repetition sequence."""

  profile: np.ndarray  # (T,) s in [0, 1]; 0 in pauses.
  phase: np.ndarray  # (T,) position within the current repetition in [0, 1); 0 in pauses.
  rep_index: np.ndarray  # (T,) index of the current/last repetition (may be < 0 before 1st).
  active: np.ndarray  # (T,) bool, inside a repetition.
  amplitude: np.ndarray  # (T,) per-repetition amplitude factor.
  rep_frames: np.ndarray  # (reps, 2) completed repetitions.
  mean_period_s: float


def _timeline(
  times: np.ndarray, period_s: float, pause_s: float, fps: float, rng: np.random.Generator
) -> _Timeline:
  duration = times[-1] + 1.0 / fps
  # Start at a random point of the first cycle, so clips do not all begin at rest.
  start = -rng.uniform(0.0, period_s + pause_s)
  starts, ends, amps = [], [], []
  t = start
  while t < duration:
    rep_period = period_s * rng.uniform(0.9, 1.1)
    starts.append(t)
    ends.append(t + rep_period)
    amps.append(rng.uniform(0.93, 1.07))
    t += rep_period + pause_s * rng.uniform(0.5, 1.5)
  starts, ends, amps = np.array(starts), np.array(ends), np.array(amps)
  rep_index = np.searchsorted(starts, times, side='right') - 1
  safe = np.maximum(rep_index, 0)
  phase_raw = (times - starts[safe]) / (ends[safe] - starts[safe])
  active = (rep_index >= 0) & (phase_raw < 1.0)
  phase = np.where(active, phase_raw, 0.0)
  profile = 0.5 * (1.0 - np.cos(2.0 * np.pi * phase))
  start_frames = np.ceil(starts * fps - 1e-9).astype(int)
  end_frames = np.ceil(ends * fps - 1e-9).astype(int)
  complete = (starts >= 0.0) & (ends <= duration)
  rep_frames = np.stack([start_frames[complete], end_frames[complete]], -1).reshape(-1, 2)
  return _Timeline(
    profile=profile,
    phase=phase,
    rep_index=rep_index,
    active=active,
    amplitude=amps[safe],
    rep_frames=rep_frames,
    mean_period_s=float(np.mean(ends - starts)),
  )


@dataclasses.dataclass(frozen=True)
class _Context:
  subject: Subject
  timeline: _Timeline
  times: np.ndarray
  rng: np.random.Generator

  @property
  def num_frames(self) -> int:
    return self.times.shape[0]

  def side_amplitude(self, side: str) -> np.ndarray:
    """(T,) range factor of one side: subject amplitude, asymmetry, per-rep jitter."""
    sign = 1.0 if side == 'left' else -1.0
    return (
      self.subject.amplitude * (1.0 + sign * self.subject.asymmetry / 2) * (self.timeline.amplitude)
    )


@dataclasses.dataclass(frozen=True)
class _Placement:
  """How the posed body is put in the world.

  root_rotation: (T, 3, 3) body->world orientation before the heading (e.g. lying down).
  anchor: 'feet' (feet midpoint fixed in x, y, lowest ankle on the floor; both feet
    planted or jumping symmetrically), 'stance' (the foot on the ground stays put: the body
    moves against the contact-weighted velocity of the ankles, the weights a softmin of the
    ankle heights, so weight passes smoothly from foot to foot in stepping and walking),
    'pelvis' (fixed at LYING_PELVIS_HEIGHT) or 'toes' (ankle midpoint fixed at
    TOE_ANKLE_HEIGHT).
  """

  root_rotation: np.ndarray | None = None
  anchor: str = 'feet'
  lift: np.ndarray | float = 0.0  # (T,) extra height above the contact (jumps).


# --- Exercises ------------------------------------------------------------------------------


def _standing_arms_relaxed(rig: _Rig, trunk_lean) -> None:
  """Arms hanging loosely, mostly towards the floor whatever the trunk lean."""
  for side, sign in _SIDES:
    rig.turn(f'{side}_shoulder', _swing(np.asarray(trunk_lean) * 0.7) @ _abduct(6.0, sign))
    rig.turn(f'{side}_elbow', _swing(10.0))


def _squats(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  # Both legs share one range so that the planted feet do not slide (a leg chain that
  # flexes out of the sagittal plane, or unequally, would move its ankle).
  amp = c.subject.amplitude * c.timeline.amplitude
  lean = 40.0 * s * amp
  rig.turn('pelvis', _lean(lean))
  for side, _ in _SIDES:
    rig.leg(side, lean, 85.0 * s * amp, -25.0 * s * amp)
  rig.turn('spine', _lean(-12.0 * s))
  trunk = lean - 12.0 * s
  if variant == 'arms_forward':
    for side, _ in _SIDES:
      rig.turn(f'{side}_shoulder', _swing(85.0 * s * c.side_amplitude(side) + trunk))
      rig.turn(f'{side}_elbow', _swing(8.0))
  else:  # Hands clasped in front of the chest.
    for side, sign in _SIDES:
      rig.turn(f'{side}_shoulder', _swing(25.0 + 0.5 * trunk) @ _abduct(-10.0, sign))
      rig.turn(f'{side}_elbow', _axis_rotation(2, -sign * 30 * _DEG) @ _swing(120.0))
  return _Placement()


def _lunges(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  first = 0 if variant.startswith('left_first') else 1
  front_is_left = (c.timeline.rep_index + first) % 2 == 0
  s_front, s_back = s**0.6, s**1.5  # The front foot steps out early, the back knee sinks late.
  for side, _ in _SIDES:
    amp = c.side_amplitude(side)
    is_front = front_is_left if side == 'left' else ~front_is_left
    thigh = np.where(is_front, 85.0 * s_front, -15.0 * s_back) * amp
    shin = np.where(is_front, -8.0 * s_front, -100.0 * s_back) * amp
    rig.leg(side, 5.0 * s, thigh, shin)
  rig.turn('pelvis', _lean(5.0 * s))
  rig.turn('spine', _lean(-3.0 * s))
  if variant.endswith('hips'):
    for side, sign in _SIDES:
      rig.turn(f'{side}_shoulder', _abduct(35.0, sign) @ _swing(-15.0))
      rig.turn(f'{side}_elbow', _axis_rotation(2, sign * 40 * _DEG) @ _swing(100.0))
  else:
    _standing_arms_relaxed(rig, 5.0 * s)
  return _Placement(anchor='stance')


def _bicep_curls(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  odd = c.timeline.rep_index % 2 == 1
  for side, sign in _SIDES:
    s_side = s
    if variant == 'alternating':
      s_side = np.where(odd == (side == 'right'), s, 0.0)
    rig.turn(f'{side}_shoulder', _swing(8.0 + 10.0 * s_side) @ _abduct(8.0, sign))
    rig.turn(f'{side}_elbow', _swing(10.0 + 130.0 * s_side * c.side_amplitude(side)))
    rig.leg(side, 0.0, 3.0, -3.0)
  return _Placement()


def _tricep_extensions(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  for side, sign in _SIDES:
    rig.turn(f'{side}_shoulder', _swing(160.0) @ _abduct(12.0, sign))
    # Flexing in the raised arm's frame brings the forearm down behind the head.
    rig.turn(f'{side}_elbow', _swing(15.0 + 125.0 * s * c.side_amplitude(side)))
    rig.leg(side, 0.0, 3.0, -3.0)
  rig.turn('spine', _lean(-4.0 * s))
  return _Placement()


def _dumbbell_rows(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  lean = 60.0
  rig.turn('pelvis', _lean(lean))
  for side, _ in _SIDES:
    rig.leg(side, lean, 18.0, -8.0)
  for side, sign in _SIDES:
    working = variant == 'both' or variant == f'{side}_arm'
    if working:
      amp = c.side_amplitude(side)
      upper = -55.0 * s * amp  # World swing: the elbow travels back and up.
      fore = 10.0 * s
      rig.turn(f'{side}_shoulder', _swing(upper + lean) @ _abduct(8.0, sign))
      rig.turn(f'{side}_elbow', _swing(fore - upper))
    else:  # The free hand rests on the knee.
      rig.turn(f'{side}_shoulder', _swing(25.0 + lean) @ _abduct(10.0, sign))
      rig.turn(f'{side}_elbow', _swing(25.0))
  return _Placement()


def _jumping_jacks(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s, phase = c.timeline.profile, c.timeline.phase
  landing = np.cos(2.0 * np.pi * phase) ** 2 * c.timeline.active  # Knees give at landings.
  for side, sign in _SIDES:
    amp = c.side_amplitude(side)
    rig.turn(f'{side}_shoulder', _abduct(8.0 + 160.0 * s * amp, sign))
    rig.turn(f'{side}_elbow', _swing(10.0))
    rig.leg(side, 0.0, 8.0 * landing, -8.0 * landing, abduction=2.0 + 14.0 * s * amp)
  lift = 0.06 * c.subject.amplitude * np.sin(2.0 * np.pi * phase) ** 2
  return _Placement(lift=lift)


def _shoulder_press(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  for side, sign in _SIDES:
    raise_deg = 80.0 + 85.0 * s * c.side_amplitude(side)
    rig.turn(f'{side}_shoulder', _swing(12.0) @ _abduct(raise_deg, sign))
    # Elbow bends in the raised arm's plane so the forearm stays about vertical.
    rig.turn(f'{side}_elbow', _abduct(175.0 - raise_deg, sign))
    rig.leg(side, 0.0, 3.0, -3.0)
  return _Placement()


def _lateral_raises(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  for side, sign in _SIDES:
    rig.turn(f'{side}_shoulder', _abduct(10.0 + 78.0 * s * c.side_amplitude(side), sign))
    rig.turn(f'{side}_elbow', _swing(15.0))
    rig.leg(side, 0.0, 3.0, -3.0)
  rig.turn('pelvis', _lean(5.0))
  return _Placement()


def _situps(c: _Context, rig: _Rig, variant: str) -> _Placement:
  s = c.timeline.profile
  lengths = np.asarray(c.subject.bone_lengths)
  raise_deg = 72.0 * s * c.subject.amplitude * c.timeline.amplitude
  # Curl the trunk from the pelvis up through the spine.
  rig.turn('pelvis', _lean(0.4 * raise_deg))
  rig.turn('spine', _lean(0.35 * raise_deg))
  rig.turn('thorax', _lean(0.25 * raise_deg))
  thigh = 45.0
  thigh_len, shin_len = lengths[_J['left_knee']], lengths[_J['left_ankle']]
  # Shin angle that puts the ankle at foot height on the floor.
  drop = LYING_PELVIS_HEIGHT + thigh_len * math.sin(thigh * _DEG) - skeleton.ANKLE_HEIGHT
  shin = -math.degrees(math.asin(min(drop / shin_len, 0.99)))
  for side, sign in _SIDES:
    rig.leg(side, 0.4 * raise_deg, thigh, shin, abduction=6.0)
    if variant == 'reach':
      rig.turn(f'{side}_shoulder', _swing(35.0 + 45.0 * s) @ _abduct(8.0, sign))
      rig.turn(f'{side}_elbow', _swing(10.0))
    else:  # Hands crossed on the chest.
      rig.turn(f'{side}_shoulder', _swing(30.0) @ _abduct(-5.0, sign))
      rig.turn(f'{side}_elbow', _axis_rotation(2, -sign * 50 * _DEG) @ _swing(125.0))
  supine = np.broadcast_to(_axis_rotation(1, -math.pi / 2), (c.num_frames, 3, 3))
  return _Placement(root_rotation=supine, anchor='pelvis')


def _pushups(c: _Context, rig: _Rig, variant: str) -> _Placement:
  """A plank pivoting on the toes; the arms by planar two-link IK to hands fixed on the floor."""
  s = c.timeline.profile
  lengths = np.asarray(c.subject.bone_lengths)
  upper, fore = lengths[_J['left_elbow']], lengths[_J['left_wrist']]
  points = _rest_points(c.subject)
  body_length = points['shoulder'][2] - points['ankle'][2]  # Ankles to shoulders, rest pose.
  top = WRIST_ON_FLOOR_HEIGHT + 0.99 * (upper + fore)
  depth = min(0.95, 0.8 * c.subject.amplitude) * (top - 0.12)
  shoulder_height = top - depth * s * c.timeline.amplitude
  plank = np.arcsin((shoulder_height - TOE_ANKLE_HEIGHT) / body_length)  # Body to floor.
  rotation = _axis_rotation(1, np.pi / 2 - plank)  # (T, 3, 3): prone, head towards +x.
  ankle_mid = np.array([0.0, 0.0, points['ankle'][2]])
  shoulder_mid = np.array([0.0, 0.0, points['shoulder'][2]])
  translation = np.array([0.0, 0.0, TOE_ANKLE_HEIGHT]) - rotation @ ankle_mid
  shoulders_world = translation + rotation @ shoulder_mid
  top_rotation = _axis_rotation(1, np.pi / 2 - np.arcsin((top - TOE_ANKLE_HEIGHT) / body_length))
  top_shoulder = np.array([0, 0, TOE_ANKLE_HEIGHT]) + top_rotation @ (shoulder_mid - ankle_mid)
  hand = np.array([top_shoulder[0], 0.0, WRIST_ON_FLOOR_HEIGHT])
  # Hand relative to the shoulder in the body frame (a vector in the body's x-z plane).
  to_hand = np.einsum('tji,tj->ti', rotation, hand - shoulders_world)
  reach = np.minimum(np.linalg.norm(to_hand, axis=-1), 0.999 * (upper + fore))
  hand_angle = np.arctan2(to_hand[:, 0], -to_hand[:, 2])
  shoulder_inner = np.arccos(
    np.clip((upper**2 + reach**2 - fore**2) / (2 * upper * reach), -1.0, 1.0)
  )
  upper_angle = hand_angle - shoulder_inner  # Elbows point back towards the feet.
  elbow = upper * np.stack([np.sin(upper_angle), -np.cos(upper_angle)], -1)
  hand_xz = reach[:, None] * np.stack([np.sin(hand_angle), -np.cos(hand_angle)], -1)
  forearm = hand_xz - elbow
  fore_angle = np.arctan2(forearm[:, 0], -forearm[:, 1])
  for side, _ in _SIDES:
    rig.turn(f'{side}_shoulder', _swing(np.degrees(upper_angle)))
    rig.turn(f'{side}_elbow', _swing(np.degrees(fore_angle - upper_angle)))
  rig.turn('neck', _lean(-15.0))
  return _Placement(root_rotation=rotation, anchor='toes')


def _non_activity(c: _Context, rig: _Rig, variant: str) -> _Placement:
  t = c.times
  rng = c.rng
  if variant == 'walk':
    period = rng.uniform(0.95, 1.2) / c.subject.tempo**0.3  # Gait cycle (two steps).
    walk_start = rng.uniform(0.0, max(0.1, t[-1] - 2.5))
    walk_end = walk_start + rng.uniform(2.0, 4.0)
    # Smooth on/off ramps of the gait amplitude over 0.6 s.
    ramp = np.clip(np.minimum(t - walk_start, walk_end - t) / 0.6, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    gait = 2.0 * np.pi * t / period
    hip_amp = 22.0 * c.subject.amplitude
    for side, sign in _SIDES:
      phase = gait + (0.0 if side == 'left' else np.pi)
      thigh = ramp * hip_amp * np.sin(phase)
      knee = ramp * 45.0 * np.clip(np.sin(phase + 0.9), 0.0, None) ** 2
      rig.leg(side, 0.0, thigh, thigh - knee - 3.0)
      rig.turn(f'{side}_shoulder', _swing(-0.8 * thigh) @ _abduct(6.0, sign))
      rig.turn(f'{side}_elbow', _swing(15.0 + 10.0 * ramp))
    # The stance foot stays on the floor, so the body travels forward step by step.
    return _Placement(anchor='stance')
  if variant == 'shift':
    period = rng.uniform(2.5, 5.0)
    sway = 6.0 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    for side, _ in _SIDES:
      rig.turn(f'{side}_hip', _axis_rotation(0, sway * _DEG))
      rig.leg(side, 0.0, 2.0, -2.0)
    rig.turn('spine', _axis_rotation(0, -0.6 * sway * _DEG))
    _standing_arms_relaxed(rig, 0.0)
    return _Placement()
  # 'stand': standing still, now and then touching the face or adjusting clothes.
  for side, sign in _SIDES:
    rig.leg(side, 0.0, 2.0, -2.0)
    gesture = np.zeros_like(t)
    if rng.random() < 0.5:
      centre, width = rng.uniform(t[0], t[-1] + 1e-9), rng.uniform(0.8, 1.6)
      gesture = np.exp(-0.5 * ((t - centre) / (width / 2.5)) ** 2)
    rig.turn(f'{side}_shoulder', _swing(35.0 * gesture) @ _abduct(6.0 + 10 * gesture, sign))
    rig.turn(f'{side}_elbow', _swing(10.0 + 110.0 * gesture))
  return _Placement()


_VARIANTS: dict[str, tuple[str, ...]] = {
  'squats': ('arms_forward', 'hands_chest'),
  'lunges': ('left_first', 'right_first', 'left_first_hips', 'right_first_hips'),
  'bicep_curls': ('both', 'alternating'),
  'situps': ('reach', 'crossed'),
  'pushups': ('standard',),
  'tricep_extensions': ('two_hands',),
  'dumbbell_rows': ('both', 'left_arm', 'right_arm'),
  'jumping_jacks': ('standard',),
  'dumbbell_shoulder_press': ('standing',),
  'lateral_shoulder_raises': ('standing',),
  'non_activity': ('stand', 'shift', 'walk'),
}

_PROGRAMS: dict[str, Callable[[_Context, _Rig, str], _Placement]] = {
  'squats': _squats,
  'lunges': _lunges,
  'bicep_curls': _bicep_curls,
  'situps': _situps,
  'pushups': _pushups,
  'tricep_extensions': _tricep_extensions,
  'dumbbell_rows': _dumbbell_rows,
  'jumping_jacks': _jumping_jacks,
  'dumbbell_shoulder_press': _shoulder_press,
  'lateral_shoulder_raises': _lateral_raises,
  'non_activity': _non_activity,
}
assert tuple(_PROGRAMS) == activities_lib.ACTIVITIES


# --- Assembly -------------------------------------------------------------------------------


def _rest_points(subject: Subject) -> dict[str, np.ndarray]:
  """Rest-pose body-frame positions (pelvis at 0): shoulder and ankle midpoints, head top."""
  offsets = skeleton.rest_offsets(np.asarray(subject.bone_lengths))
  pose = skeleton.forward_kinematics(np.tile(np.eye(3), (17, 1, 1)), offsets, np.zeros(3))
  return {
    'shoulder': 0.5 * (pose[_J['left_shoulder']] + pose[_J['right_shoulder']]),
    'ankle': 0.5 * (pose[_J['left_ankle']] + pose[_J['right_ankle']]),
    'head': pose[_J['head']],
  }


def _jitter(subject: Subject, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """(T, 17, 3, 3) smooth small joint rotations: two random slow sinusoids per axis."""
  shape = (2, 1, skeleton.NUM_H36M_JOINTS, 3)
  freq = rng.uniform(0.15, 1.5, size=shape)
  phase = rng.uniform(0.0, 2 * np.pi, size=shape)
  amp = rng.uniform(0.3, 1.0, size=shape) * subject.jitter_deg * _DEG / math.sqrt(2)
  amp[:, :, 0] *= 0.5  # The whole body sways less than single joints.
  rotvec = np.sum(amp * np.sin(2 * np.pi * freq * times[None, :, None, None] + phase), axis=0)
  return _rotvec_to_matrix(rotvec)


def generate_motion(
  activity: str,
  subject: Subject,
  duration_s: float,
  fps: float = 30.0,
  *,
  rng: np.random.Generator,
) -> Motion:
  """Generates `duration_s` of one activity performed by `subject`.

  Args:
    activity: one of `activities.ACTIVITIES`.
    subject: from `sample_subject`.
    duration_s: clip length in seconds; T = round(duration_s * fps) frames (at least 2).
    fps: pose frame rate.
    rng: draws everything that varies per clip (heading, start phase, style, jitter).

  Returns:
    A `Motion` with the world pose (floor at z = 0) and repetition bookkeeping.
  """
  activities_lib.activity_id(activity)
  if not isinstance(subject, Subject):
    raise ValueError(f'subject must be a Subject (see sample_subject), got {type(subject)}.')
  if not (math.isfinite(fps) and fps > 0):
    raise ValueError(f'fps must be finite and > 0, got {fps}.')
  if not (math.isfinite(duration_s) and duration_s > 0):
    raise ValueError(f'duration_s must be finite and > 0, got {duration_s}.')
  num_frames = int(round(duration_s * fps))
  if num_frames < 2:
    raise ValueError(f'duration_s={duration_s} at {fps} fps gives {num_frames} frames; need 2.')
  if not isinstance(rng, np.random.Generator):
    raise ValueError(f'rng must be a np.random.Generator, got {type(rng)}.')

  state = program_state(activity, subject, np.arange(num_frames) / fps, fps, rng)
  heading = float(rng.uniform(-np.pi, np.pi))
  heading_rotation = _axis_rotation(2, heading)
  root_rotation = heading_rotation @ state.body_rotation
  offsets = skeleton.rest_offsets(np.asarray(subject.bone_lengths))
  timeline, variant, placement, is_exercise = (
    state.timeline,
    state.variant,
    state.placement,
    state.is_exercise,
  )
  rig = state.rig
  pose = skeleton.forward_kinematics(rig.local, offsets, np.zeros((num_frames, 3)), root_rotation)
  pose = pose + _ground_offset(pose, placement)
  return Motion(
    activity=activity,
    pose=pose,
    fps=float(fps),
    reps=int(timeline.rep_frames.shape[0]),
    rep_frames=timeline.rep_frames,
    active=timeline.active.copy(),
    rep_period_s=timeline.mean_period_s if is_exercise else None,
    heading_rad=heading,
    variant=variant,
  )


@dataclasses.dataclass(frozen=True)
class ProgramState:
  """An activity's program run on a subject, before heading and world placement.

  Shared with `wearable_motion`, which blends two such states for transitions and places
  them in the world itself.

  Attributes:
    rig: local joint rotations, jitter included.
    placement: how the program wants the body put on the floor.
    body_rotation: (T, 3, 3) body->world rotation before the heading.
    timeline: repetition timeline (all zeros for non_activity).
    variant: the style drawn.
    is_exercise: False for non_activity.
  """

  rig: _Rig
  placement: _Placement
  body_rotation: np.ndarray
  timeline: _Timeline
  variant: str
  is_exercise: bool


def program_state(
  activity: str, subject: Subject, times: np.ndarray, fps: float, rng: np.random.Generator
) -> ProgramState:
  """Runs the program of one of `activities.ACTIVITIES` (draws: timeline, variant, jitter)."""
  num_frames = times.shape[0]
  is_exercise = activity != 'non_activity'
  if is_exercise:
    period = _REP_PERIOD_S[activity] / subject.tempo ** _TEMPO_EXPONENT[activity]
    pause = subject.pause_s * _PAUSE_SCALE[activity]
    timeline = _timeline(times, period, pause, fps, rng)
  else:
    zeros = np.zeros(num_frames)
    timeline = _Timeline(
      profile=zeros,
      phase=zeros,
      rep_index=np.zeros(num_frames, int),
      active=np.zeros(num_frames, bool),
      amplitude=np.ones(num_frames),
      rep_frames=np.zeros((0, 2), int),
      mean_period_s=float('nan'),
    )
  context = _Context(subject=subject, timeline=timeline, times=times, rng=rng)
  variants = _VARIANTS[activity]
  variant = variants[int(rng.integers(len(variants)))]
  rig = _Rig(num_frames)
  placement = _PROGRAMS[activity](context, rig, variant)
  rig.local = rig.local @ _jitter(subject, times, rng)
  body_rotation = placement.root_rotation
  if body_rotation is None:
    body_rotation = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
  return ProgramState(
    rig=rig,
    placement=placement,
    body_rotation=body_rotation,
    timeline=timeline,
    variant=variant,
    is_exercise=is_exercise,
  )


def _ground_offset(pose: np.ndarray, placement: _Placement) -> np.ndarray:
  """(T, 1, 3) translation that realises the placement's ground contact."""
  ankles = pose[:, [_J['left_ankle'], _J['right_ankle']]]
  if placement.anchor == 'feet':
    xy = ankles[:, :, :2].mean(axis=1)
    z = ankles[:, :, 2].min(axis=1) - skeleton.ANKLE_HEIGHT - placement.lift
  elif placement.anchor == 'stance':
    heights = ankles[:, :, 2]
    weights = np.exp(-(heights - heights.min(axis=1, keepdims=True)) / _CONTACT_SOFTNESS_M)
    weights /= weights.sum(axis=1, keepdims=True)
    velocity = np.diff(ankles[:, :, :2], axis=0)  # (T-1, 2, 2) per-frame displacement.
    contact = 0.5 * (weights[1:] + weights[:-1])[..., None]
    travel = np.cumsum(np.sum(contact * velocity, axis=1), axis=0)
    xy = ankles[0, :, :2].mean(axis=0) + np.concatenate([np.zeros((1, 2)), travel], axis=0)
    z = np.sum(weights * heights, axis=1) - skeleton.ANKLE_HEIGHT - placement.lift
  elif placement.anchor == 'pelvis':
    xy = pose[:, _J['pelvis'], :2]
    z = pose[:, _J['pelvis'], 2] - LYING_PELVIS_HEIGHT
  elif placement.anchor == 'toes':
    xy = ankles[:, :, :2].mean(axis=1)
    z = ankles[:, :, 2].mean(axis=1) - TOE_ANKLE_HEIGHT
  else:
    raise ValueError(f'unknown anchor {placement.anchor!r}')
  return -np.concatenate([xy, z[:, None]], axis=-1)[:, None, :]
