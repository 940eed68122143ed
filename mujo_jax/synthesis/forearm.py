"""Forearm pronation/supination for synthesised motion: the twist a watch feels and joints hide.

A pose gives no forearm roll (a two-joint segment's twist is unobservable), yet a wrist-worn
IMU feels it: turning the palm is a rotation about the forearm's own axis, read on the
watch's x gyro, and it turns gravity between the watch's y and z axes. Real wrist data is full
of it (Arnold presses, curls that supinate on the way up, the slow roll of an arm swinging
while walking, fidgeting at rest), and a corpus without it has a wrist x gyro that only the
upper arm's motion can drive. This module draws a plausible pronation angle for each forearm
from the activity and the pose, for `virtual_imu.from_pose(forearm_twist=...)`.

Model, in degrees of pronation (0 = neutral, thumb forward with the arm hanging, palm facing
the body; + pronation = palm turning backward/down; - = supination), per side:

  pronation(t) = base + gain * (flexion(t) - median flexion) + wobble(t), soft-limited to
  +-95 deg by 95 * tanh(. / 95),

where flexion is the elbow angle from the pose (0 = straight arm), so the repetition-locked
part of an exercise (an Arnold press pronating as the arms extend, a curl supinating as it
lifts) follows the repetitions the pose already has; base is the activity's grip (palms down
on handlebars or a keyboard, palms up in chest flyes), drawn per clip; wobble is a band-limited
random roll (three sinusoids up to `wobble_hz`). Gain and wobble are scaled per clip and side by
U(0.7, 1.3), the sides' bases differ by N(0, 5 deg), and in one-handed tasks (brushing teeth,
ironing, vacuuming) the non-dominant forearm keeps 30 % of the wobble, below 1 Hz, and no
flexion coupling. The ranges are anatomical (active pronation/supination is about 80-90 deg
each way) and the programs' grips are those of the exercises' usual descriptions; they are
plausible, not measured.

Sign: the virtual IMU turns each forearm frame right-handedly about its elbow -> wrist axis.
With the arm hanging (axis pointing down) and the body facing +x, the left palm faces -y;
a right-handed turn about the down axis (clockwise seen from above) takes -y to -x, i.e.
backward: left pronation is a positive twist. The right arm is the mirror image, so its
pronation is a negative twist.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mujo_jax.facts import activities as activities_lib
from mujo_jax.facts import skeleton
from mujo_jax.facts.virtual_imu import FOREARMS

# Soft limit of pronation either way (degrees): active forearm rotation is ~80-90 deg.
LIMIT_DEG = 95.0
# Per-clip, per-side scale of gain and wobble.
_SCALE_RANGE = (0.7, 1.3)
# Spread of the two sides' grip angles about the drawn base (degrees).
_SIDE_SPREAD_DEG = 5.0
# Share of the wobble the idle hand keeps in a one-handed task.
_IDLE_HAND_WOBBLE = 0.3
# ... and moves slowly.
_IDLE_HAND_HZ = 1.0
_WOBBLE_LOW_HZ = 0.1
_WOBBLE_COMPONENTS = 3
# Twist sign of pronation per forearm, in `virtual_imu.FOREARMS` order (see module docstring).
_TWIST_SIGN = {'left_forearm': 1.0, 'right_forearm': -1.0}


@dataclasses.dataclass(frozen=True)
class Program:
  """How one activity turns the forearms.

  Attributes:
    base_deg: (low, high) range of the grip's pronation, drawn uniformly per clip.
    gain: degrees of pronation per degree of elbow flexion about the clip's median flexion.
    wobble_deg: rms of the band-limited random roll.
    wobble_hz: highest frequency of the random roll.
    one_handed: the task is done with the dominant hand; the other one is nearly still.
  """

  base_deg: tuple[float, float]
  gain: float = 0.0
  wobble_deg: float = 6.0
  wobble_hz: float = 1.0
  one_handed: bool = False


_GAIT = Program((10.0, 40.0), gain=0.15, wobble_deg=7.0, wobble_hz=1.5)
_RUN = Program((10.0, 50.0), gain=0.3, wobble_deg=10.0, wobble_hz=2.5)
_LEGS = Program((0.0, 40.0), wobble_deg=6.0)
_PALMS_DOWN_STILL = Program((75.0, 90.0), wobble_deg=2.0)

PROGRAMS: dict[str, Program] = {
  'squats': Program((0.0, 60.0)),
  'lunges': _LEGS,
  # Curls supinate as they lift (flexion up -> pronation down).
  'bicep_curls': Program((-70.0, -40.0), gain=-0.3, wobble_deg=5.0),
  'situps': Program((0.0, 60.0), wobble_deg=8.0),
  'pushups': _PALMS_DOWN_STILL,
  'tricep_extensions': Program((-10.0, 30.0), wobble_deg=4.0),
  'dumbbell_rows': Program((-10.0, 20.0), gain=0.1, wobble_deg=4.0),
  'jumping_jacks': Program((0.0, 50.0), wobble_deg=15.0, wobble_hz=2.0),
  'dumbbell_shoulder_press': Program((60.0, 90.0), gain=0.2, wobble_deg=4.0),
  'lateral_shoulder_raises': Program((40.0, 80.0)),
  'non_activity': Program((-20.0, 70.0), wobble_deg=15.0),
  'walking_slow': dataclasses.replace(_GAIT, wobble_deg=6.0),
  'walking': _GAIT,
  'walking_fast': dataclasses.replace(_GAIT, wobble_deg=8.0),
  'jogging': _RUN,
  'running': _RUN,
  'stairs_up': _GAIT,
  'stairs_down': _GAIT,
  # Hands on the pole grips.
  'nordic_walking': Program((-10.0, 20.0), gain=0.2, wobble_deg=8.0, wobble_hz=1.5),
  # Hands on the handlebars.
  'cycling': Program((70.0, 90.0), wobble_deg=4.0),
  # The wrists turn the rope handles at the jump rate.
  'rope_jumping': Program((-30.0, 10.0), wobble_deg=15.0, wobble_hz=2.5),
  'standing': Program((0.0, 50.0), wobble_deg=5.0, wobble_hz=0.5),
  'sitting': Program((20.0, 80.0), wobble_deg=6.0, wobble_hz=0.7),
  'lying': Program((-30.0, 80.0), wobble_deg=4.0, wobble_hz=0.5),
  'sit_to_stand': Program((10.0, 70.0), wobble_deg=10.0),
  'stand_to_sit': Program((10.0, 70.0), wobble_deg=10.0),
  'lie_to_sit': Program((0.0, 80.0), wobble_deg=12.0),
  'waist_bends_forward': Program((0.0, 50.0), wobble_deg=8.0),
  'frontal_elevation_of_arms': Program((50.0, 85.0), wobble_deg=5.0),
  'knee_bends': Program((0.0, 50.0)),
  'jump_front_back': Program((0.0, 50.0), wobble_deg=12.0, wobble_hz=2.0),
  # Palms facing the body at the bottom, turned forward at the top: pronation grows as the
  # elbows extend (~160 deg over ~130 deg of elbow travel).
  'arnold_press': Program((-10.0, 10.0), gain=-1.2, wobble_deg=5.0),
  'front_raises': Program((60.0, 90.0), wobble_deg=5.0),
  'upright_rows': Program((70.0, 90.0), gain=0.1, wobble_deg=4.0),
  'reverse_flyes': Program((0.0, 40.0), wobble_deg=5.0),
  # Lying, palms facing each other or up.
  'chest_flyes': Program((-80.0, -50.0), wobble_deg=5.0),
  'hammer_curls': Program((-10.0, 10.0), wobble_deg=3.0),
  'reverse_lunges': _LEGS,
  'side_lunges': _LEGS,
  'plank': Program((50.0, 90.0), wobble_deg=2.0),
  'burpees': Program((50.0, 90.0), wobble_deg=12.0, wobble_hz=1.5),
  'mountain_climbers': Program((75.0, 90.0), wobble_deg=3.0),
  # Overhand grip on the bell.
  'kettlebell_swings': Program((60.0, 90.0), wobble_deg=5.0),
  'pendulum_swings': Program((0.0, 40.0), wobble_deg=10.0),
  'shoulder_abduction': Program((0.0, 60.0)),
  'shoulder_flexion': _LEGS,
  'shoulder_external_rotation': Program((-10.0, 20.0), wobble_deg=5.0),
  'shoulder_internal_rotation': Program((-10.0, 20.0), wobble_deg=5.0),
  'arm_circles': Program((40.0, 90.0), wobble_deg=10.0, wobble_hz=1.5),
  'vacuuming': Program((50.0, 80.0), gain=0.2, wobble_deg=12.0, wobble_hz=1.5, one_handed=True),
  'ironing': Program((60.0, 85.0), gain=0.2, wobble_deg=12.0, wobble_hz=1.5, one_handed=True),
  # The brush is scrubbed with quick turns of the wrist.
  'brushing_teeth': Program((0.0, 60.0), wobble_deg=20.0, wobble_hz=3.0, one_handed=True),
  'typing': Program((80.0, 90.0), wobble_deg=3.0, wobble_hz=1.5),
}
_UNMATCHED = set(activities_lib.WEARABLE_ACTIVITIES) ^ set(PROGRAMS)
if _UNMATCHED:
  raise AssertionError(f'forearm.PROGRAMS and WEARABLE_ACTIVITIES differ on {sorted(_UNMATCHED)}')

_ARM_JOINTS = {
  side: tuple(skeleton.joint_index(f'{side}_{joint}') for joint in ('shoulder', 'elbow', 'wrist'))
  for side in ('left', 'right')
}


def elbow_flexion_deg(pose: np.ndarray) -> np.ndarray:
  """(T, 2) elbow flexion (degrees, 0 = straight arm), (left, right), of (T, 17, 3) H36M joints."""
  flexion = []
  for side in ('left', 'right'):
    shoulder, elbow, wrist = (pose[:, j] for j in _ARM_JOINTS[side])
    upper, fore = elbow - shoulder, wrist - elbow
    cos = np.sum(upper * fore, -1) / (
      np.linalg.norm(upper, axis=-1) * np.linalg.norm(fore, axis=-1)
    )
    flexion.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
  return np.stack(flexion, -1)


def pronation_deg(
  activity: str,
  pose: np.ndarray,
  fps: float,
  rng: np.random.Generator,
  *,
  right_handed: bool,
) -> np.ndarray:
  """(T, 2) pronation (degrees, see the module docstring) of the (left, right) forearm."""
  if activity not in PROGRAMS:
    raise ValueError(f'no forearm program for activity {activity!r}; known: {sorted(PROGRAMS)}')
  program = PROGRAMS[activity]
  flexion = elbow_flexion_deg(pose)
  times = np.arange(pose.shape[0]) / fps
  base = rng.uniform(*program.base_deg)
  sides = []
  for column, side in enumerate(('left', 'right')):
    idle = program.one_handed and (side == 'right') != right_handed
    gain = 0.0 if idle else program.gain * rng.uniform(*_SCALE_RANGE)
    wobble_deg = program.wobble_deg * rng.uniform(*_SCALE_RANGE)
    wobble_hz = program.wobble_hz
    if idle:
      wobble_deg, wobble_hz = wobble_deg * _IDLE_HAND_WOBBLE, min(wobble_hz, _IDLE_HAND_HZ)
    flex = flexion[:, column]
    angle = (
      base
      + rng.normal(0.0, _SIDE_SPREAD_DEG)
      + gain * (flex - np.median(flex))
      + _wobble(times, wobble_deg, wobble_hz, rng)
    )
    sides.append(LIMIT_DEG * np.tanh(angle / LIMIT_DEG))
  return np.stack(sides, -1)


def _wobble(times: np.ndarray, rms_deg: float, high_hz: float, rng) -> np.ndarray:
  """Sum of a few sinusoids at random frequencies in [0.1, high_hz] Hz, of rms `rms_deg`."""
  freq = rng.uniform(_WOBBLE_LOW_HZ, high_hz, _WOBBLE_COMPONENTS)
  phase = rng.uniform(0.0, 2 * np.pi, _WOBBLE_COMPONENTS)
  # Each unit sinusoid has rms 1/sqrt(2); independent ones add in power.
  amplitude = rms_deg * np.sqrt(2.0 / _WOBBLE_COMPONENTS)
  return amplitude * np.sum(np.sin(2 * np.pi * freq[:, None] * times + phase[:, None]), 0)


def to_twist(pronation: np.ndarray) -> np.ndarray:
  """(T, 2) degrees of pronation -> (T, 2) radians of `virtual_imu` forearm twist."""
  return np.radians(pronation) * _twist_signs()


def pronation_rad(twist: np.ndarray) -> np.ndarray:
  """(T, 2) radians of `virtual_imu` forearm twist -> (T, 2) radians of pronation (+ = palm
  turning down/back on either side): the anatomical angle the corpus stores beside the pose."""
  return np.asarray(twist) * _twist_signs()


def _twist_signs() -> np.ndarray:
  return np.array([_TWIST_SIGN[name] for name in FOREARMS])


def forearm_twist(
  activities: tuple[str, ...],
  pose: np.ndarray,
  fps: float,
  rng: np.random.Generator,
  *,
  right_handed: bool,
  second_weight: np.ndarray | None = None,
) -> np.ndarray:
  """(T, 2) radians for `virtual_imu.from_pose(forearm_twist=...)` of a clip of `pose`.

  Args:
    activities: the clip's activity, or (first, second) of a transition.
    pose: (T, 17, 3) H36M joints (metres) at `fps`.
    fps: pose frame rate.
    rng: random generator.
    right_handed: which hand does one-handed tasks.
    second_weight: with two activities, (T,) share of the second one's program at each frame
      (the transition's blend weight, `wearable_motion.Transition.weight`).
  """
  if len(activities) not in (1, 2) or (len(activities) == 2) != (second_weight is not None):
    raise ValueError(
      f'forearm_twist takes one activity, or two with second_weight; got {activities} and '
      f'second_weight {"given" if second_weight is not None else "None"}.'
    )
  programs = [pronation_deg(a, pose, fps, rng, right_handed=right_handed) for a in activities]
  pronation = programs[0]
  if second_weight is not None:
    w = np.asarray(second_weight, dtype=np.float64)[:, None]
    pronation = (1.0 - w) * programs[0] + w * programs[1]
  return to_twist(pronation)
