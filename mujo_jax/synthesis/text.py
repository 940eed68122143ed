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


# --- The wearables vocabulary ---------------------------------------------------------------

# Per new activity: core phrases, body parts, how it looks, and the verb phrase that joins two
# activities in a transition clip ('walks, then sits down'). Each phrase is true of the motion
# program that `wearable_motion` runs for the class.
_WEARABLE_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
  'walking_slow': (
    (
      'a person walking slowly',
      'someone strolling at a leisurely pace',
      'a slow walk',
      'an unhurried walk',
    ),
    ('legs', 'feet'),
    ('Short steps, one foot always on the ground.',),
    'strolls slowly',
  ),
  'walking': (
    ('a person walking', 'someone walking at a normal pace', 'a walk', 'a person walking along'),
    ('legs', 'hips and legs'),
    ('The arms swing opposite to the legs with each step.',),
    'walks',
  ),
  'walking_fast': (
    ('a person walking briskly', 'someone walking fast', 'a brisk walk', 'a power walk'),
    ('legs', 'calves'),
    ('Long quick strides with a strong arm swing.',),
    'walks briskly',
  ),
  'jogging': (
    ('a person jogging', 'someone jogging at an easy pace', 'a light jog', 'a slow run'),
    ('legs', 'calves and thighs'),
    ('Both feet leave the ground briefly between steps; elbows are bent.',),
    'jogs',
  ),
  'running': (
    ('a person running', 'someone running fast', 'a run', 'a runner at speed'),
    ('legs', 'whole body'),
    ('A flight phase in every stride, the bent arms pumping.',),
    'runs',
  ),
  'stairs_up': (
    (
      'a person walking up the stairs',
      'someone climbing stairs',
      'going upstairs',
      'a stair climb',
    ),
    ('thighs', 'legs and glutes'),
    ('Each step lifts the body onto the next stair.',),
    'climbs the stairs',
  ),
  'stairs_down': (
    (
      'a person walking down the stairs',
      'someone descending stairs',
      'going downstairs',
      'a walk down a staircase',
    ),
    ('knees', 'legs'),
    ('Each step lowers the body onto the stair below.',),
    'walks downstairs',
  ),
  'nordic_walking': (
    ('a person Nordic walking', 'someone walking with poles', 'Nordic walking', 'a pole walk'),
    ('arms and legs', 'shoulders'),
    ('Straight arms swing far forward and back, planting the poles.',),
    'walks with poles',
  ),
  'cycling': (
    (
      'a person cycling',
      'someone riding a bike',
      'cycling on a bicycle',
      'pedalling a stationary bike',
    ),
    ('legs', 'thighs'),
    ('Seated, the feet turn the pedals in circles.',),
    'cycles',
  ),
  'rope_jumping': (
    ('a person skipping rope', 'someone jumping rope', 'rope jumping', 'skipping with a rope'),
    ('calves', 'whole body'),
    ('Small quick hops on both feet while the wrists turn the rope.',),
    'skips rope',
  ),
  'standing': (
    (
      'a person standing',
      'someone standing still',
      'a person standing upright',
      'standing in place',
    ),
    ('body',),
    ('Hardly any movement.',),
    'stands',
  ),
  'sitting': (
    (
      'a person sitting',
      'someone seated on a chair',
      'a person sitting still',
      'sitting down at rest',
    ),
    ('body',),
    ('The hips rest on the seat.',),
    'sits',
  ),
  'lying': (
    (
      'a person lying down',
      'someone lying on the floor',
      'a person resting lying down',
      'lying still',
    ),
    ('body',),
    ('The whole body is horizontal.',),
    'lies down',
  ),
  'sit_to_stand': (
    (
      'a person standing up from a chair',
      'someone getting up from sitting',
      'a sit-to-stand',
      'rising from a seat',
    ),
    ('thighs', 'legs'),
    ('The trunk leans forward, then the legs push the body up.',),
    'stands up',
  ),
  'stand_to_sit': (
    (
      'a person sitting down on a chair',
      'someone sitting down',
      'a stand-to-sit',
      'lowering onto a seat',
    ),
    ('thighs', 'legs'),
    ('The hips go back and down onto the seat.',),
    'sits down',
  ),
  'lie_to_sit': (
    (
      'a person sitting up from lying',
      'someone getting up from lying down',
      'a lie-to-sit',
      'rising from the floor to sitting',
    ),
    ('core', 'abdominals'),
    ('The trunk comes up from the floor to upright.',),
    'sits up',
  ),
  'waist_bends_forward': (
    (
      'a person bending forward at the waist',
      'forward waist bends',
      'someone bending over and straightening up',
      'trunk flexions',
    ),
    ('lower back', 'hamstrings'),
    ('The straight-legged body folds forward and comes back up.',),
    'bends forward',
  ),
  'frontal_elevation_of_arms': (
    (
      'a person raising the arms to the front',
      'frontal elevation of the arms',
      'someone lifting both arms forward and overhead',
      'forward arm raises overhead',
    ),
    ('shoulders', 'arms'),
    ('Straight arms swing up in front to overhead and down.',),
    'raises the arms',
  ),
  'knee_bends': (
    (
      'a person doing knee bends',
      'someone crouching',
      'deep knee bends',
      'crouching down and standing up',
    ),
    ('knees', 'thighs'),
    ('The knees bend deeply, the body lowers and rises.',),
    'crouches',
  ),
  'jump_front_back': (
    (
      'a person jumping forward and back',
      'front and back jumps',
      'someone hopping forward and backward',
      'two-footed jumps front and back',
    ),
    ('legs', 'calves'),
    ('Both feet jump together, alternately forward and backward.',),
    'jumps front and back',
  ),
  'arnold_press': (
    (
      'a person doing Arnold presses',
      'Arnold shoulder presses',
      'someone rotating the dumbbells up overhead',
      'an Arnold press',
    ),
    ('shoulders', 'deltoids'),
    ('The hands start in front of the chin and turn out on the way up.',),
    'does Arnold presses',
  ),
  'front_raises': (
    (
      'a person doing front raises',
      'dumbbell front raises',
      'someone lifting the weights in front to shoulder height',
      'front shoulder raises',
    ),
    ('front deltoids', 'shoulders'),
    ('Straight arms lift forward to shoulder height.',),
    'does front raises',
  ),
  'upright_rows': (
    (
      'a person doing upright rows',
      'upright rows',
      'someone pulling the weights up to the chin',
      'an upright row',
    ),
    ('shoulders', 'trapezius'),
    ('The elbows lead up and out as the hands rise along the body.',),
    'does upright rows',
  ),
  'reverse_flyes': (
    (
      'a person doing reverse flyes',
      'bent-over reverse flyes',
      'someone opening the arms out while bent over',
      'rear delt flyes',
    ),
    ('upper back', 'rear deltoids'),
    ('Bent forward, the arms open out to the sides.',),
    'does reverse flyes',
  ),
  'chest_flyes': (
    (
      'a person doing chest flyes on a bench',
      'dumbbell flyes',
      'someone lying on a bench opening the arms',
      'bench flyes',
    ),
    ('chest', 'pectorals'),
    ('Lying on the back, the arms lower out to the sides and come together.',),
    'does chest flyes',
  ),
  'hammer_curls': (
    (
      'a person doing hammer curls',
      'cross-body hammer curls',
      'someone curling the dumbbells with a neutral grip',
      'hammer curls',
    ),
    ('biceps', 'forearms'),
    ('The forearm comes up across the body towards the shoulder.',),
    'does hammer curls',
  ),
  'reverse_lunges': (
    (
      'a person doing reverse lunges',
      'backward lunges',
      'someone stepping back into a lunge',
      'reverse lunges',
    ),
    ('legs', 'glutes'),
    ('One foot steps back and the body sinks between the feet.',),
    'does reverse lunges',
  ),
  'side_lunges': (
    (
      'a person doing side lunges',
      'lateral lunges',
      'someone stepping out to the side into a lunge',
      'side lunges',
    ),
    ('inner thighs', 'legs'),
    ('One foot steps out sideways and that knee bends.',),
    'does side lunges',
  ),
  'plank': (
    (
      'a person holding a plank',
      'a plank hold',
      'someone in a plank position',
      'a straight-arm plank',
    ),
    ('core', 'abdominals'),
    ('The body stays straight and still, on hands and toes.',),
    'holds a plank',
  ),
  'burpees': (
    (
      'a person doing burpees',
      'burpees',
      'someone dropping to a plank and jumping up',
      'a set of burpees',
    ),
    ('whole body', 'legs and chest'),
    ('Squat, hands down, feet back, feet in, and a jump.',),
    'does burpees',
  ),
  'mountain_climbers': (
    (
      'a person doing mountain climbers',
      'mountain climbers',
      'someone driving the knees in from a plank',
      'running in plank',
    ),
    ('core', 'hip flexors'),
    ('From a plank, the knees drive in towards the chest in turn.',),
    'does mountain climbers',
  ),
  'kettlebell_swings': (
    (
      'a person doing kettlebell swings',
      'kettlebell swings',
      'someone swinging a kettlebell to chest height',
      'a kettlebell swing',
    ),
    ('hips', 'glutes and back'),
    ('The hips hinge and snap forward, swinging the straight arms up.',),
    'swings a kettlebell',
  ),
  'pendulum_swings': (
    (
      'a person doing pendulum swings',
      'Codman pendulum exercises',
      'someone letting one arm swing while bent forward',
      'arm pendulums',
    ),
    ('shoulder', 'shoulder joint'),
    ('Bent forward, one arm hangs and swings gently.',),
    'does pendulum swings',
  ),
  'shoulder_abduction': (
    (
      'a person doing shoulder abduction',
      'arm raises to the side',
      'someone lifting the arm out sideways and overhead',
      'shoulder abductions',
    ),
    ('shoulder', 'deltoid'),
    ('The straight arm rises out to the side and above shoulder height.',),
    'raises an arm sideways',
  ),
  'shoulder_flexion': (
    (
      'a person doing shoulder flexion',
      'forward arm elevation',
      'someone raising the arm forward and up',
      'shoulder flexions',
    ),
    ('shoulder', 'front deltoid'),
    ('The straight arm rises forward towards overhead.',),
    'raises an arm forward',
  ),
  'shoulder_external_rotation': (
    (
      'a person doing shoulder external rotations',
      'external rotations with the elbow at the side',
      'someone turning the forearm outwards',
      'rotator cuff external rotation',
    ),
    ('rotator cuff', 'shoulder'),
    ('The elbow stays bent at the side as the hand swings out.',),
    'rotates the shoulder outwards',
  ),
  'shoulder_internal_rotation': (
    (
      'a person doing shoulder internal rotations',
      'internal rotations of the shoulder',
      'someone turning the forearm inwards',
      'rotator cuff internal rotation',
    ),
    ('rotator cuff', 'shoulder'),
    ('With the elbow bent, the forearm turns in towards the body.',),
    'rotates the shoulder inwards',
  ),
  'arm_circles': (
    (
      'a person doing arm circles',
      'arm circles',
      'someone circling the outstretched arms',
      'shoulder circles with straight arms',
    ),
    ('shoulders', 'arms'),
    ('Arms held out to the sides trace circles.',),
    'circles the arms',
  ),
  'vacuuming': (
    (
      'a person vacuuming',
      'someone vacuuming the floor',
      'hoovering',
      'cleaning the floor with a vacuum cleaner',
    ),
    ('arm', 'shoulder'),
    ('One arm pushes the nozzle forward and pulls it back.',),
    'vacuums',
  ),
  'ironing': (
    (
      'a person ironing',
      'someone ironing clothes',
      'ironing a shirt',
      'pressing clothes with an iron',
    ),
    ('arm', 'forearm'),
    ('One hand slides the iron back and forth at waist height.',),
    'irons',
  ),
  'brushing_teeth': (
    (
      'a person brushing their teeth',
      'someone brushing teeth',
      'tooth brushing',
      'brushing the teeth',
    ),
    ('hand', 'wrist'),
    ('The hand at the mouth makes fast small strokes.',),
    'brushes teeth',
  ),
  'typing': (
    (
      'a person typing at a desk',
      'someone typing on a keyboard',
      'typing',
      'working at a computer',
    ),
    ('hands', 'fingers'),
    ('Seated, the hands rest on the keyboard with small movements.',),
    'types',
  ),
}

# Verb phrases of MM-Fit's classes, for transition clips.
_MMFIT_VERBS = {
  'squats': 'does squats',
  'lunges': 'does lunges',
  'bicep_curls': 'does bicep curls',
  'situps': 'does sit-ups',
  'pushups': 'does push-ups',
  'tricep_extensions': 'does tricep extensions',
  'dumbbell_rows': 'does dumbbell rows',
  'jumping_jacks': 'does jumping jacks',
  'dumbbell_shoulder_press': 'presses dumbbells overhead',
  'lateral_shoulder_raises': 'does lateral raises',
  'non_activity': 'stands around',
}
_PACE = {
  'walking_slow': 'slow',
  'walking': 'moderate',
  'walking_fast': 'fast',
  'jogging': 'moderate',
  'running': 'fast',
}
assert set(_WEARABLE_FAMILIES) | set(_MMFIT_VERBS) == set(activities_lib.WEARABLE_ACTIVITIES)


def describe_wearable(
  activity: str,
  rng: np.random.Generator,
  reps: int | None = None,
  tempo: str | None = None,
  *,
  variant: str | None = None,
  mention_probability: float = 0.5,
) -> str:
  """A description of a clip of one `WEARABLE_ACTIVITIES` class (MM-Fit's via `describe`).

  The same parts as `describe`: a core phrase, then optional body part, pace (the gait's own
  speed class for locomotion, else the measured repetition tempo), repetition count and a
  sentence on how the movement looks.
  """
  if activity in activities_lib.ACTIVITIES:
    return describe(
      activity, rng, reps, tempo, variant=variant, mention_probability=mention_probability
    )
  if activity not in _WEARABLE_FAMILIES:
    raise ValueError(
      f'unknown activity {activity!r}; expected one of {list(activities_lib.WEARABLE_ACTIVITIES)}'
    )
  phrases, parts_, forms, _ = _WEARABLE_FAMILIES[activity]
  core = _choose(rng, phrases)
  use_tempo, use_reps, use_part, use_form = rng.random(4) < mention_probability
  tempo = _PACE.get(activity, tempo)
  tempo_clause = _choose(rng, _TEMPO_CLAUSES[tempo]) if tempo in _TEMPO_CLAUSES else ''
  reps_clause = _choose(rng, _REPS_CLAUSES).format(n=reps) if reps and reps > 1 else ''
  part_clause = _choose(rng, _BODY_PART_CLAUSES).format(part=_choose(rng, parts_))
  form = _choose(rng, forms)
  sentence = core
  if use_tempo and tempo_clause:
    sentence += ' ' + tempo_clause
  if use_reps and reps_clause:
    sentence += ' ' + reps_clause
  if use_part and parts_ != ('body',):
    sentence += ', ' + part_clause
  sentence = sentence[0].upper() + sentence[1:] + '.'
  if use_form:
    sentence += ' ' + form
  return sentence


def _verb(activity: str) -> str:
  if activity in _MMFIT_VERBS:
    return _MMFIT_VERBS[activity]
  return _WEARABLE_FAMILIES[activity][3]


def describe_transition(first: str, second: str, rng: np.random.Generator) -> str:
  """A clip that changes activity: 'A person walks, then sits down.' and paraphrases."""
  for name in (first, second):
    if name not in activities_lib.WEARABLE_ACTIVITIES:
      raise ValueError(f'unknown activity {name!r}')
  subject = _choose(rng, ('A person', 'Someone', 'The person', 'A subject'))
  joint = _choose(rng, (', then ', ' and then ', ', and afterwards ', ' first, then '))
  return f'{subject} {_verb(first)}{joint}{_verb(second)}.'
