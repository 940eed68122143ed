"""The MM-Fit activity classes, in the id order of the reference code (github KDMStromback/mm-fit).

Every module that turns an activity name into a label id goes through this module, so the
synthetic corpus, the MM-Fit builder and the probes agree on what label 3 means.
"""

from __future__ import annotations

ACTIVITIES: tuple[str, ...] = (
  'squats',
  'lunges',
  'bicep_curls',
  'situps',
  'pushups',
  'tricep_extensions',
  'dumbbell_rows',
  'jumping_jacks',
  'dumbbell_shoulder_press',
  'lateral_shoulder_raises',
  'non_activity',
)

# Id of 'non_activity': any frame outside a labelled set in MM-Fit.
NON_ACTIVITY: int = 10

_ID_BY_NAME = {name: index for index, name in enumerate(ACTIVITIES)}
assert ACTIVITIES[NON_ACTIVITY] == 'non_activity'


def activity_id(name: str) -> int:
  """Returns the label id of an activity name (e.g. 'squats' -> 0).

  Raises:
    ValueError: if `name` is not one of `ACTIVITIES`; the message lists the valid names.
  """
  try:
    return _ID_BY_NAME[name]
  except (KeyError, TypeError):
    raise ValueError(
      f'Unknown activity {name!r}; expected one of {", ".join(ACTIVITIES)}.'
    ) from None


# The wider vocabulary of the `wearables` synthetic corpus: the classes of common HAR
# benchmarks (locomotion, postures, MHEALTH, gym, shoulder rehabilitation, daily life), so that
# pretraining sees the motion families that real wearable recordings contain. MM-Fit's 11
# classes come first under the same names and ids, so a label id means the same exercise in
# both vocabularies.
WEARABLE_ACTIVITIES: tuple[str, ...] = ACTIVITIES + (
  # Locomotion.
  'walking_slow',
  'walking',
  'walking_fast',
  'jogging',
  'running',
  'stairs_up',
  'stairs_down',
  'nordic_walking',
  'cycling',
  'rope_jumping',
  # Postures and transitions.
  'standing',
  'sitting',
  'lying',
  'sit_to_stand',
  'stand_to_sit',
  'lie_to_sit',
  # MHEALTH-style.
  'waist_bends_forward',
  'frontal_elevation_of_arms',
  'knee_bends',
  'jump_front_back',
  # Gym beyond MM-Fit.
  'arnold_press',
  'front_raises',
  'upright_rows',
  'reverse_flyes',
  'chest_flyes',
  'hammer_curls',
  'reverse_lunges',
  'side_lunges',
  'plank',
  'burpees',
  'mountain_climbers',
  'kettlebell_swings',
  # Arm and shoulder.
  'pendulum_swings',
  'shoulder_abduction',
  'shoulder_flexion',
  'shoulder_external_rotation',
  'shoulder_internal_rotation',
  'arm_circles',
  # Household and daily life.
  'vacuuming',
  'ironing',
  'brushing_teeth',
  'typing',
)

_WEARABLE_ID_BY_NAME = {name: index for index, name in enumerate(WEARABLE_ACTIVITIES)}
assert len(_WEARABLE_ID_BY_NAME) == len(WEARABLE_ACTIVITIES)
assert WEARABLE_ACTIVITIES[: len(ACTIVITIES)] == ACTIVITIES


def wearable_activity_id(name: str) -> int:
  """Returns the label id of a `WEARABLE_ACTIVITIES` name (MM-Fit's names keep their ids).

  Raises:
    ValueError: if `name` is not one of `WEARABLE_ACTIVITIES`; the message lists them.
  """
  try:
    return _WEARABLE_ID_BY_NAME[name]
  except (KeyError, TypeError):
    raise ValueError(
      f'Unknown activity {name!r}; expected one of {", ".join(WEARABLE_ACTIVITIES)}.'
    ) from None
