"""The hand-made baseline a pretrained IMU embedding must beat on real recordings (BasicMotions).

Features per 5 s window (50 Hz, hop 2.5 s: 3 windows per 10 s recording), per channel: mean,
std, 10/25/50/75/90th percentiles and mean absolute first difference (6 channels x 8 = 48).
Classifier: standardised logistic regression. Protocol: 5-fold cross-validation grouped by
recording (no subject ids exist, so a recording's three windows never straddle train and test;
folds stratified by class), macro F1 over the test fold's windows, mean over folds. Two label
budgets: 2 labelled recordings per class drawn from the training fold (all their windows; mean
of `--draws` draws per fold), and all training recordings.

Prints one JSON line per figure: {"name": ..., "value": ..., "unit": ...}.

  PYTHONPATH=. python benchmarks/real_data_baseline.py            # ~25 s on 2 cores
  PYTHONPATH=. python benchmarks/real_data_baseline.py --per_class=1
"""

from __future__ import annotations

import json

import numpy as np
from absl import app, flags
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mujo_jax.data import basic_motions

_FOLDS = flags.DEFINE_integer('folds', 5, 'Cross-validation folds (grouped by recording).')
_DRAWS = flags.DEFINE_integer('draws', 10, 'Draws of the labelled recordings per fold.')
_PER_CLASS = flags.DEFINE_integer('per_class', 2, 'Labelled recordings per class, low budget.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the folds and the draws.')


def statistics(imu: np.ndarray) -> np.ndarray:
  """(N, T, S, 6) windows -> (N, S * 6 * 8) per-channel statistics."""
  x = imu.reshape(len(imu), imu.shape[1], -1)
  percentiles = np.percentile(x, [10, 25, 50, 75, 90], axis=1).transpose(1, 0, 2)
  mad = np.abs(np.diff(x, axis=1)).mean(1)
  parts = [x.mean(1)[:, None], x.std(1)[:, None], percentiles, mad[:, None]]
  return np.concatenate(parts, axis=1).reshape(len(imu), -1)


def _score(features, labels, train, test) -> float:
  model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
  model.fit(features[train], labels[train])
  return f1_score(labels[test], model.predict(features[test]), average='macro')


def main(argv):
  del argv
  data = basic_motions.windows(window_s=5.0, hop_s=2.5)
  features = statistics(data['imu'])
  labels, groups = data['label'], data['group']
  rng = np.random.default_rng(_SEED.value)
  folds = StratifiedGroupKFold(n_splits=_FOLDS.value, shuffle=True, random_state=_SEED.value)
  full, low = [], []
  for train, test in folds.split(features, labels, groups):
    full.append(_score(features, labels, train, test))
    train_groups = np.unique(groups[train])
    group_label = {g: labels[groups == g][0] for g in train_groups}
    for _ in range(_DRAWS.value):
      chosen = []
      for k in range(len(data['class_names'])):
        candidates = [g for g in train_groups if group_label[g] == k]
        chosen.extend(rng.choice(candidates, _PER_CLASS.value, replace=False))
      low.append(_score(features, labels, np.flatnonzero(np.isin(groups, chosen)), test))
  for name, values in ((f'{_PER_CLASS.value}_per_class', low), ('all_labels', full)):
    print(
      json.dumps(
        {
          'name': f'basic_motions/statistics_logreg/macro_f1/{name}',
          'value': round(float(np.mean(values)), 3),
          'std': round(float(np.std(values)), 3),
          'unit': 'macro F1',
          'runs': len(values),
        }
      )
    )


if __name__ == '__main__':
  app.run(main)
