"""Text descriptions of synthetic clips, drawn from varied templates.

The text tower must learn to map *language about an exercise* to the same place as the motion,
not to memorise one caption per class. So every class has several phrasings, and a description
is assembled from independent parts (a core phrase, an optional body-part clause, equipment, tempo
and a repetition count), each chosen by the caller's random generator. The facts that the clip
really has (repetitions counted from the motion, the tempo the motion was generated with) are
passed in, so the text never contradicts the signals. Given the same generator state the output
is identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mujo_jax.facts import activities as activities_lib

TEMPO_LABELS = ('slow', 'moderate', 'fast')

# Core phrases per class: short, so that equipment, tempo and repetition clauses can follow.
_CORE_PHRASES: dict[str, tuple[str, ...]] = {
  'squats': (
    'a person doing bodyweight squats',
    'someone squatting down and standing back up',
    'an athlete performing air squats',
    'squats',
    'a set of squats',
  ),
  'lunges': (
    'a person doing lunges',
    'someone doing alternating forward lunges',
    'lunges, switching the front leg',
    'an athlete stepping into lunges',
    'a set of lunges',
  ),
  'bicep_curls': (
    'a person doing bicep curls',
    'someone curling the weights up to the shoulders',
    'standing biceps curls',
    'arm curls',
    'a set of bicep curls',
  ),
  'situps': (
    'a person doing sit-ups',
    'someone lying on their back and sitting up',
    'sit-ups with bent knees',
    'an athlete doing sit-ups',
    'a set of situps',
  ),
  'pushups': (
    'a person doing push-ups',
    'someone doing pushups from a plank position',
    'push-ups with a straight body',
    'an athlete doing press-ups',
    'a set of push-ups',
  ),
  'tricep_extensions': (
    'a person doing overhead tricep extensions',
    'someone doing triceps extensions',
    'overhead triceps extensions',
    'an athlete extending the elbows overhead in tricep extensions',
    'a set of tricep extensions',
  ),
  'dumbbell_rows': (
    'a person doing dumbbell rows',
    'someone doing bent-over rows',
    'bent-over dumbbell rows',
    'an athlete rowing the weights up to the ribs',
    'a set of dumbbell rows',
  ),
  'jumping_jacks': (
    'a person doing jumping jacks',
    'someone doing star jumps',
    'jumping jacks',
    'an athlete hopping through jumping jacks',
    'a set of jumping jacks',
  ),
  'dumbbell_shoulder_press': (
    'a person doing a dumbbell shoulder press',
    'someone pressing dumbbells overhead',
    'a standing shoulder press',
    'an athlete doing overhead presses',
    'a set of dumbbell shoulder presses',
  ),
  'lateral_shoulder_raises': (
    'a person doing lateral shoulder raises',
    'someone doing side raises',
    'lateral raises',
    'an athlete raising the arms out to the sides in lateral raises',
    'a set of lateral shoulder raises',
  ),
}

# How the movement looks: an optional second sentence.
_FORM_SENTENCES: dict[str, tuple[str, ...]] = {
  'squats': (
    'The knees and hips bend until the thighs are near parallel, then the body rises.',
    'The hips sink back and down and drive up again.',
  ),
  'lunges': (
    'One leg steps ahead and the back knee drops towards the floor.',
    'Each step forward ends with both knees bent, then the body pushes back to standing.',
  ),
  'bicep_curls': (
    'The elbows stay at the sides while the forearms swing up and down.',
    'The hands lift to the shoulders and lower again.',
  ),
  'situps': (
    'The torso curls up from lying flat and rolls back down.',
    'The upper body rises towards the knees and returns to the floor.',
  ),
  'pushups': (
    'The chest lowers towards the floor and the arms push it back up.',
    'The body stays straight as the elbows bend and extend.',
  ),
  'tricep_extensions': (
    'The upper arms point up while the forearms bend down behind the head and extend.',
    'The weight is lowered behind the head and pressed back up.',
  ),
  'dumbbell_rows': (
    'The torso leans forward and the elbows pull back past the ribs.',
    'Bent at the hips, the arms pull the weights up and lower them.',
  ),
  'jumping_jacks': (
    'Arms swing overhead as the feet jump apart, then both come back together.',
    'Each hop opens and closes the arms and legs.',
  ),
  'dumbbell_shoulder_press': (
    'The hands push up from the shoulders until the arms are straight overhead.',
    'The weights go up above the head and come back down to the shoulders.',
  ),
  'lateral_shoulder_raises': (
    'Straight arms rise sideways to shoulder height and lower again.',
    'The arms lift out to the sides like wings.',
  ),
}

# Non-activity phrases by what the person does (the motion generator's variants).
_NON_ACTIVITY_PHRASES: dict[str, tuple[str, ...]] = {
  'stand': (
    'a person standing still between sets',
    'someone resting with their hands at their sides',
    'a short break: the person stands and catches their breath',
    'a person pausing between exercises',
    'someone standing relaxed, not exercising',
  ),
  'shift': (
    'a person shifting their weight from one foot to the other',
    'someone standing and swaying slightly while resting',
    'a person resting between sets, shifting from foot to foot',
  ),
  'walk': (
    'someone walking a few steps between sets',
    'the person walks around briefly before the next set',
    'a person taking a few steps during a break',
  ),
}

# Style of the repetition (the motion generator's variants), an optional clause.
_VARIANT_CLAUSES: dict[tuple[str, str], tuple[str, ...]] = {
  ('squats', 'arms_forward'): ('with the arms held out in front',),
  ('squats', 'hands_chest'): ('with the hands at the chest',),
  ('lunges', 'left_first_hips'): ('hands on the hips',),
  ('lunges', 'right_first_hips'): ('hands on the hips',),
  ('bicep_curls', 'both'): ('curling both arms together',),
  ('bicep_curls', 'alternating'): ('alternating arms', 'one arm at a time'),
  ('situps', 'reach'): ('reaching the arms forward',),
  ('situps', 'crossed'): ('with the arms crossed over the chest',),
  ('dumbbell_rows', 'both'): ('pulling with both arms',),
  ('dumbbell_rows', 'left_arm'): ('with the left arm', 'one-armed, left side'),
  ('dumbbell_rows', 'right_arm'): ('with the right arm', 'one-armed, right side'),
}

_BODY_PARTS: dict[str, tuple[str, ...]] = {
  'squats': ('legs', 'thighs', 'glutes', 'knees and hips'),
  'lunges': ('legs', 'thighs', 'glutes', 'front knee'),
  'bicep_curls': ('biceps', 'forearms', 'elbows', 'upper arms'),
  'situps': ('abdominals', 'core', 'stomach muscles', 'torso'),
  'pushups': ('chest', 'triceps', 'shoulders', 'arms and core'),
  'tricep_extensions': ('triceps', 'elbows', 'back of the arms', 'upper arms'),
  'dumbbell_rows': ('back', 'lats', 'upper back', 'biceps and back'),
  'jumping_jacks': ('whole body', 'legs and arms', 'calves', 'shoulders and legs'),
  'dumbbell_shoulder_press': ('shoulders', 'deltoids', 'triceps', 'arms and shoulders'),
  'lateral_shoulder_raises': ('shoulders', 'side deltoids', 'deltoids', 'upper arms'),
}

_EQUIPMENT: dict[str, tuple[str, ...]] = {
  'squats': ('without equipment', 'in the living room', ''),
  'lunges': ('without equipment', 'on a gym floor', ''),
  'bicep_curls': ('with a pair of dumbbells', 'using light dumbbells', 'with dumbbells'),
  'situps': ('on a yoga mat', 'on an exercise mat', 'on the floor'),
  'pushups': ('on a mat', 'on the floor', 'on an exercise mat'),
  'tricep_extensions': (
    'with one dumbbell held in both hands',
    'using a dumbbell',
    'with a weight',
  ),
  'dumbbell_rows': ('with dumbbells', 'holding a pair of dumbbells', 'using weights'),
  'jumping_jacks': ('without equipment', 'in a cardio session', ''),
  'dumbbell_shoulder_press': ('with dumbbells', 'holding two dumbbells', 'using weights'),
  'lateral_shoulder_raises': ('with light dumbbells', 'holding dumbbells', 'with small weights'),
}

_BODY_PART_CLAUSES = (
  'working the {part}',
  'to train the {part}',
  'targeting the {part}',
  'focusing on the {part}',
)

_TEMPO_CLAUSES: dict[str, tuple[str, ...]] = {
  'slow': ('at a slow, controlled pace', 'slowly', 'with a slow tempo'),
  'moderate': ('at a steady pace', 'at a moderate tempo', 'at an even rhythm'),
  'fast': ('quickly', 'at a fast pace', 'with a high tempo'),
}

_REPS_CLAUSES = (
  'for {n} repetitions',
  'for {n} reps',
  'with {n} repetitions',
  '({n} reps)',
)

_SINGLE_REP = ('for one repetition', 'for a single rep')


def tempo_label(rep_period_s: float) -> str:
  """Names the tempo of one repetition lasting `rep_period_s` seconds.

  The thresholds follow typical gym cadences: under ~1.6 s a repetition reads as fast, over
  ~3 s as slow.
  """
  if not np.isfinite(rep_period_s) or rep_period_s <= 0:
    raise ValueError(f'rep_period_s must be a positive finite number, got {rep_period_s}')
  if rep_period_s < 1.6:
    return 'fast'
  if rep_period_s > 3.0:
    return 'slow'
  return 'moderate'


def _choose(rng: np.random.Generator, options: Sequence[str]) -> str:
  return options[int(rng.integers(len(options)))]


def describe(
  activity: str,
  rng: np.random.Generator,
  reps: int | None = None,
  tempo: str | None = None,
  *,
  variant: str | None = None,
  mention_probability: float = 0.5,
) -> str:
  """A one-sentence description of a clip of `activity`.

  Args:
    activity: one of `activities.ACTIVITIES`.
    rng: the random generator; the same state gives the same sentence.
    reps: repetitions the clip really contains; mentioned (sometimes) when positive.
    tempo: one of `TEMPO_LABELS` (see `tempo_label`); mentioned (sometimes) when given.
    variant: the style the motion was generated in (`motion.Motion.variant`, e.g. 'walk',
      'alternating'); picks the non-activity phrase and (sometimes) a style clause.
    mention_probability: chance of adding each optional clause (body part, equipment, tempo,
      reps), so that descriptions vary in length and detail.

  Returns:
    One or two sentences, each starting with a capital letter and ending with a full stop.
  """
  if activity not in activities_lib.ACTIVITIES:
    raise ValueError(
      f'unknown activity {activity!r}; expected one of {list(activities_lib.ACTIVITIES)}'
    )
  if tempo is not None and tempo not in TEMPO_LABELS:
    raise ValueError(f'unknown tempo {tempo!r}; expected one of {TEMPO_LABELS} or None')
  if reps is not None and reps < 0:
    raise ValueError(f'reps must be >= 0 or None, got {reps}')
  if not 0.0 <= mention_probability <= 1.0:
    raise ValueError(f'mention_probability must be in [0, 1], got {mention_probability}')

  if activity == activities_lib.ACTIVITIES[activities_lib.NON_ACTIVITY]:
    if variant is None:
      phrases = tuple(p for group in _NON_ACTIVITY_PHRASES.values() for p in group)
    elif variant in _NON_ACTIVITY_PHRASES:
      phrases = _NON_ACTIVITY_PHRASES[variant]
    else:
      raise ValueError(
        f'unknown non_activity variant {variant!r}; expected one of '
        f'{sorted(_NON_ACTIVITY_PHRASES)} or None'
      )
    sentence = _choose(rng, phrases)
    return sentence[0].upper() + sentence[1:] + '.'

  parts = [_choose(rng, _CORE_PHRASES[activity])]
  # Draw every optional decision, used or not, so the stream of random numbers does not
  # depend on which clauses were taken.
  use_equipment, use_tempo, use_reps, use_part, use_form, use_variant = (
    rng.random(6) < mention_probability
  )
  variant_options = _VARIANT_CLAUSES.get((activity, variant), ())
  variant_clause = _choose(rng, variant_options) if variant_options else ''
  equipment = _choose(rng, _EQUIPMENT[activity])
  tempo_clause = _choose(rng, _TEMPO_CLAUSES[tempo]) if tempo is not None else ''
  if reps is not None and reps > 1:
    reps_clause = _choose(rng, _REPS_CLAUSES).format(n=reps)
  elif reps == 1:
    reps_clause = _choose(rng, _SINGLE_REP)
  else:
    reps_clause = ''
  part_clause = _choose(rng, _BODY_PART_CLAUSES).format(part=_choose(rng, _BODY_PARTS[activity]))
  form_sentence = _choose(rng, _FORM_SENTENCES[activity])
  if use_variant and variant_clause:
    parts.append(variant_clause)
  if use_equipment and equipment:
    parts.append(equipment)
  if use_tempo and tempo_clause:
    parts.append(tempo_clause)
  if use_reps and reps_clause:
    parts.append(reps_clause)
  sentence = ' '.join(parts)
  if use_part:
    sentence += ', ' + part_clause
  sentence = sentence[0].upper() + sentence[1:] + '.'
  if use_form:
    sentence += ' ' + form_sentence
  return sentence
