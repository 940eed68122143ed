"""Zero-shot classification: each class is the mean text embedding of a few prompts.

CLIP-style: the class prototype is the L2-normalised mean of the text-encoder embeddings of
prompt templates filled with the class name (`non_activity` gets its own prompts, as a template
like "a person doing non activity" is not language); a window is assigned the class whose
prototype has the largest cosine with the window's embedding in the joint space. No label is
used, so this measures how well a modality is aligned with language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from mujo_jax.eval import probe
from mujo_jax.facts import activities

TEMPLATES: tuple[str, ...] = (
  '{}',
  'a person doing {}',
  'someone performing {}',
  'a set of {}',
  'an athlete doing {} in a workout',
)
CLASS_PHRASES: dict[str, str] = {
  'squats': 'squats',
  'lunges': 'lunges',
  'bicep_curls': 'bicep curls',
  'situps': 'sit-ups',
  'pushups': 'push-ups',
  'tricep_extensions': 'tricep extensions',
  'dumbbell_rows': 'dumbbell rows',
  'jumping_jacks': 'jumping jacks',
  'dumbbell_shoulder_press': 'dumbbell shoulder presses',
  'lateral_shoulder_raises': 'lateral shoulder raises',
}
NON_ACTIVITY_PROMPTS: tuple[str, ...] = (
  'a person resting between exercises',
  'someone standing still, not exercising',
  'a short pause between sets',
  'a person walking around before the next set',
)


def phrase(name: str, vocabulary: Sequence[str] = ()) -> str | None:
  """How prompts name class `name`: a written phrase, or the name itself when the pretraining
  vocabulary has it (`walking_fast` -> 'walking fast'); None when the text encoder never saw it."""
  if name in CLASS_PHRASES:
    return CLASS_PHRASES[name]
  return name.replace('_', ' ') if name in vocabulary else None


def missing_prompts(class_names: Sequence[str], vocabulary: Sequence[str] = ()) -> list[str]:
  """Classes with no prompt (their windows are left out of zero-shot scoring)."""
  return [n for n in class_names if n != 'non_activity' and phrase(n, vocabulary) is None]


def prompted_classes(class_names: Sequence[str], vocabulary: Sequence[str] = ()) -> list[int]:
  """Class ids that have prompts, in class-id order: zero-shot chooses among these only."""
  missing = set(missing_prompts(class_names, vocabulary))
  return [k for k, name in enumerate(class_names) if name not in missing]


def class_prompts(
  class_names: Sequence[str] = activities.ACTIVITIES, vocabulary: Sequence[str] = ()
) -> list[list[str]]:
  """The prompts of every class, in class-id order."""
  prompts = []
  for name in class_names:
    if name == 'non_activity':
      prompts.append(list(NON_ACTIVITY_PROMPTS))
    elif phrase(name, vocabulary) is not None:
      prompts.append([t.format(phrase(name, vocabulary)) for t in TEMPLATES])
    else:
      raise ValueError(f'no zero-shot phrase for class {name!r}; known: {sorted(CLASS_PHRASES)}')
  return prompts


def class_prototypes(
  embed_text: Callable[[list[str]], np.ndarray],
  class_names: Sequence[str] = activities.ACTIVITIES,
  vocabulary: Sequence[str] = (),
) -> np.ndarray:
  """(K, D) unit-norm mean prompt embedding per class; `embed_text(list) -> (N, D)`."""
  prompts = class_prompts(class_names, vocabulary)
  flat = [p for per_class in prompts for p in per_class]
  embedded = np.asarray(embed_text(flat), np.float64)  # One call: one compile, full batches.
  prototypes = []
  start = 0
  for per_class in prompts:
    mean = embedded[start : start + len(per_class)].mean(axis=0)
    start += len(per_class)
    prototypes.append(mean / max(np.linalg.norm(mean), 1e-12))
  return np.stack(prototypes).astype(np.float32)


def classify(embeddings: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
  """(N,) class with the largest cosine (embeddings are unit norm, so a dot product)."""
  return np.argmax(embeddings @ prototypes.T, axis=1)


def evaluate(
  embeddings: Mapping[str, np.ndarray],
  labels: np.ndarray,
  prototypes: np.ndarray,
  keys: Sequence[str],
  classes: Sequence[int] | None = None,
) -> list[dict[str, float | str | int]]:
  """One row per embedding key: macro F1 and accuracy of zero-shot predictions (valid windows).

  `classes`: the class ids that `prototypes` stand for, in their order (default: all, 0..K-1).
  Windows of any other class are left out, since no prompt could name them: a dataset with a
  class outside the text encoder's vocabulary is scored on the classes it can name.
  """
  classes = np.arange(len(prototypes)) if classes is None else np.asarray(classes)
  if len(classes) != len(prototypes):
    raise ValueError(f'{len(prototypes)} prototypes for {len(classes)} classes {list(classes)}')
  named = np.isin(labels, classes)
  rows = []
  for key in keys:
    valid = embeddings.get(f'valid/{key}', np.ones(len(labels), bool)) & named
    predicted = classes[classify(embeddings[key][valid], prototypes)]
    f1, accuracy = probe.scores(labels[valid], predicted)
    rows.append(
      {'modality': key, 'num_windows': int(valid.sum()), 'macro_f1': f1, 'accuracy': accuracy}
    )
  return rows
