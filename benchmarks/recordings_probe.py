"""A user's path on real recordings: one pooled `Embedder` vector per recording, then a probe.

The evaluation job (`configs/linear_probe.py`) scores windows; a user with the shipped model
usually embeds each whole recording (`Embedder.embed_imu`, windows mean-pooled) and fits a
classifier on those vectors. This script does exactly that on the shoulder_watch recordings
(seglearn: a smartwatch on the exercising arm, 10 subjects, 7 exercises, both arms): subject-wise
5-fold cross-validation (scikit-learn's GroupKFold), a standardised logistic regression (C = 1)
per fold, macro F1 of the pooled out-of-fold predictions, with 2 labelled recordings per class
(mean ± std over 5 draws) and with every training recording. Rows: the model, the same
architecture at its initial weights, and per-channel statistics of the whole recording.

Prints one JSON line per figure.

  python benchmarks/recordings_probe.py                                # the shipped model
  python benchmarks/recordings_probe.py --checkpoint=W                 # a pretraining workdir
  python benchmarks/recordings_probe.py --acc_sign=stored              # acc × 9.80665, unsigned
"""

from __future__ import annotations

import json

import jax
import numpy as np
from absl import app, flags
from sklearn import linear_model, metrics, model_selection, pipeline, preprocessing

from mujo_jax import checkpoint, pretrained
from mujo_jax.data import schema, shoulder_watch
from mujo_jax.eval import statistics
from mujo_jax.inference import Embedder
from mujo_jax.models import joint

_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'pretraining workdir; default: shipped')
_ACC_SIGN = flags.DEFINE_enum(
  'acc_sign',
  'specific_force',
  ['specific_force', 'stored'],
  "'specific_force': the loader's conversion (-9.80665 × stored, Core Motion's sign turned "
  "round); 'stored': 9.80665 × stored, what a user who only converts g to m/s² passes",
)
_SEEDS = flags.DEFINE_integer('seeds', 5, 'draws of the 2 labelled recordings per class')
_FOLDS = 5


def _recordings() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
  xs, labels, subjects, sides = shoulder_watch.recordings()
  converted = [shoulder_watch.to_project_units(x) for x in xs]
  if _ACC_SIGN.value == 'stored':
    for x in converted:
      x[:, :3] *= -1.0
  return converted, labels, subjects, sides


def _embed(embedder: Embedder, xs, sides) -> np.ndarray:
  return np.stack(
    [
      embedder.embed_imu(x[:, None], shoulder_watch.RATE_HZ, (shoulder_watch.SITES[side],))
      for x, side in zip(xs, sides, strict=True)
    ]
  )


def _macro_f1(features, labels, subjects, per_class: int | None, seed: int) -> float:
  rng = np.random.default_rng(seed)
  predicted = np.empty_like(labels)
  for fit, held_out in model_selection.GroupKFold(_FOLDS).split(features, labels, subjects):
    if per_class is not None:
      fit = np.concatenate(
        [rng.choice(fit[labels[fit] == c], per_class, replace=False) for c in np.unique(labels)]
      )
    probe = pipeline.make_pipeline(
      preprocessing.StandardScaler(), linear_model.LogisticRegression(C=1.0, max_iter=5000)
    )
    probe.fit(features[fit], labels[fit])
    predicted[held_out] = probe.predict(features[held_out])
  return float(metrics.f1_score(labels, predicted, average='macro'))


def main(argv):
  del argv
  if _CHECKPOINT.value:
    restored = checkpoint.load_pretrained(_CHECKPOINT.value)
  else:
    restored = checkpoint.load_exported(pretrained.path(pretrained.DEFAULT))
  xs, labels, subjects, sides = _recordings()
  model = joint.build_model(joint.JointModelSpec.from_config(restored.config))
  initial = joint.init_params(
    model, checkpoint.init_key(restored.config), schema.dummy_batch(restored.config, 2)
  )
  random_init = checkpoint.Pretrained(
    config=restored.config, params=jax.device_get(initial), step=0, workdir='random init'
  )
  features = {
    'pretrained': _embed(Embedder(restored), xs, sides),
    'random_init': _embed(Embedder(random_init), xs, sides),
    'statistics': np.stack([statistics.channel_statistics(x[None, :, None])[0, 0] for x in xs]),
  }
  for name, values in features.items():
    draws = [_macro_f1(values, labels, subjects, 2, seed) for seed in range(_SEEDS.value)]
    every = _macro_f1(values, labels, subjects, None, 0)
    for budget, value, std in (('2/class', np.mean(draws), np.std(draws)), ('all', every, 0.0)):
      print(
        json.dumps(
          {
            'name': f'shoulder_watch/{name}/{budget}',
            'value': round(float(value), 3),
            'std': round(float(std), 3),
            'unit': 'macro F1',
            'acc_sign': _ACC_SIGN.value,
          }
        )
      )


if __name__ == '__main__':
  app.run(main)
