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

from mujo_jax.data import activities as activities_lib

TEMPO_LABELS = ('slow', 'moderate', 'fast')

# Core phrases per class. `{n}` marks where a repetition count may go ("12 squats"); phrases
# without it are used when the count is not mentioned.
_CORE_PHRASES: dict[str, tuple[str, ...]] = {
    'squats': (
        'a person doing bodyweight squats',
        'someone squatting down and standing back up',
        'squats, bending the knees and hips until the thighs are near parallel',
        'an athlete performing air squats with feet shoulder-width apart',
        'a squat exercise: lowering the hips and driving back up',
    ),
    'lunges': (
        'a person doing lunges',
        'alternating forward lunges, one leg stepping ahead and the back knee dropping',
        'someone stepping forward into a lunge and pushing back to standing',
        'walking-in-place lunges, switching the front leg each time',
        'a lunge exercise working the front thigh and glutes',
    ),
    'bicep_curls': (
        'a person doing bicep curls',
        'someone curling dumbbells up towards the shoulders',
        'standing biceps curls, elbows fixed at the sides while the forearms swing up',
        'arm curls: bending the elbows to lift the weights and lowering them slowly',
        'a curl exercise for the upper arms',
    ),
    'situps': (
        'a person doing sit-ups',
        'someone lying on their back and curling the torso up to sitting',
        'sit-ups on the floor, knees bent, rolling the upper body up and down',
        'an abdominal exercise: sitting up from lying flat',
        'core training with sit-ups',
    ),
    'pushups': (
        'a person doing push-ups',
        'someone in a plank position lowering the chest to the floor and pushing back up',
        'push-ups with a straight body, bending and extending the arms',
        'press-ups on the floor',
        'an upper-body exercise where the body is lowered and raised with the arms',
    ),
    'tricep_extensions': (
        'a person doing overhead tricep extensions',
        'someone holding a dumbbell behind the head and straightening the arms overhead',
        'triceps extensions: the upper arms stay up while the forearms bend down and extend',
        'overhead arm extensions with a weight',
        'an exercise for the back of the upper arms, extending the elbows overhead',
    ),
    'dumbbell_rows': (
        'a person doing dumbbell rows',
        'someone bent over at the hips pulling dumbbells up to the ribs',
        'bent-over rows, the torso leaning forward while the elbows pull back',
        'rowing a weight up towards the hip from a hinged position',
        'a back exercise: bent-over dumbbell rows',
    ),
    'jumping_jacks': (
        'a person doing jumping jacks',
        'someone jumping while spreading the legs and swinging the arms overhead',
        'star jumps: arms and legs open and close with every hop',
        'jumping jacks, a full-body cardio move',
        'a person hopping with arms clapping overhead and feet apart, then back together',
    ),
    'dumbbell_shoulder_press': (
        'a person doing a dumbbell shoulder press',
        'someone pressing dumbbells from the shoulders straight up overhead',
        'overhead presses: the arms push the weights up until straight and lower them back',
        'a standing shoulder press with weights',
        'a military press, driving the hands above the head',
    ),
    'lateral_shoulder_raises': (
        'a person doing lateral shoulder raises',
        'someone lifting dumbbells out to the sides up to shoulder height',
        'side raises: straight arms rise sideways and lower again',
        'lateral raises for the shoulders, arms lifting like wings',
        'a deltoid exercise raising the arms out to the side',
    ),
}

_NON_ACTIVITY_PHRASES = (
    'a person standing still between sets',
    'someone resting with their hands at their sides',
    'a person shifting their weight from one foot to the other',
    'someone walking a few steps and turning around',
    'a short break: the person stands and catches their breath',
    'a person pausing between exercises',
    'someone standing relaxed, not exercising',
    'the person walks around briefly before the next set',
)

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
    'counting {n} repetitions',
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
    mention_probability: float = 0.5,
) -> str:
    """A one-sentence description of a clip of `activity`.

    Args:
      activity: one of `activities.ACTIVITIES`.
      rng: the random generator; the same state gives the same sentence.
      reps: repetitions the clip really contains; mentioned (sometimes) when positive.
      tempo: one of `TEMPO_LABELS` (see `tempo_label`); mentioned (sometimes) when given.
      mention_probability: chance of adding each optional clause (body part, equipment, tempo,
        reps), so that descriptions vary in length and detail.

    Returns:
      A sentence starting with a capital letter and ending with a full stop.
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
        sentence = _choose(rng, _NON_ACTIVITY_PHRASES)
        return sentence[0].upper() + sentence[1:] + '.'

    parts = [_choose(rng, _CORE_PHRASES[activity])]
    # Draw every optional decision, used or not, so the stream of random numbers (and thus the
    # text of later clips) does not depend on which clauses were taken.
    use_equipment, use_part, use_tempo, use_reps = rng.random(4) < mention_probability
    equipment = _choose(rng, _EQUIPMENT[activity])
    part_clause = _choose(rng, _BODY_PART_CLAUSES).format(part=_choose(rng, _BODY_PARTS[activity]))
    tempo_clause = _choose(rng, _TEMPO_CLAUSES[tempo]) if tempo is not None else ''
    reps_clause = (
        _choose(rng, _REPS_CLAUSES).format(n=reps)
        if reps and reps > 1
        else _choose(rng, _SINGLE_REP)
        if reps == 1
        else ''
    )
    if use_equipment and equipment:
        parts.append(equipment)
    if use_tempo and tempo_clause:
        parts.append(tempo_clause)
    if use_reps and reps_clause:
        parts.append(reps_clause)
    sentence = ' '.join(parts)
    if use_part:
        sentence += ', ' + part_clause
    return sentence[0].upper() + sentence[1:] + '.'
