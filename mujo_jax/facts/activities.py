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
