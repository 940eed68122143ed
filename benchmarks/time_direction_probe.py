"""Does the IMU embedding see which way a motion runs? shoulder_watch's two rotations.

Internal and external shoulder rotation sweep the same arc and differ in which way is pulled
fast against the band; they hold most of the shipped model's all-label shoulder_watch errors
(MODEL_CARD.md, "Time direction"). Prints, as JSON lines:
- the mean cosine between a recording's embedding and that of the same recording played
  backwards (`augment.played_backwards`: time reversed, gyro negated), over all recordings and
  over the two rotations; and between the two rotations of the same subject and arm;
- accuracy of a standardised logistic regression told only those two classes apart, subject-wise
  5-fold (scikit-learn's GroupKFold), on the embedding and on the per-channel statistics.

  python benchmarks/time_direction_probe.py                       # the shipped model
  python benchmarks/time_direction_probe.py --checkpoint=W        # a pretraining workdir
"""

from __future__ import annotations

import json

import numpy as np
from absl import app, flags
from sklearn import linear_model, metrics, model_selection, pipeline, preprocessing

from mujo_jax.data import augment, shoulder_watch
from mujo_jax.eval import statistics
from mujo_jax.inference import Embedder

_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'pretraining workdir; default: shipped')
ROTATIONS = tuple(
  shoulder_watch.CLASS_NAMES.index(name)
  for name in ('shoulder_internal_rotation', 'shoulder_external_rotation')
)


def _unit_embeddings(embedder: Embedder, xs, sides) -> np.ndarray:
  z = np.stack(
    [
      embedder.embed_imu(x[:, None], shoulder_watch.RATE_HZ, (shoulder_watch.SITES[side],))
      for x, side in zip(xs, sides, strict=True)
    ]
  )
  return z / np.linalg.norm(z, axis=1, keepdims=True)


def _accuracy(features, labels, subjects) -> float:
  predicted = np.empty_like(labels)
  for fit, held in model_selection.GroupKFold(5).split(features, labels, subjects):
    probe = pipeline.make_pipeline(
      preprocessing.StandardScaler(), linear_model.LogisticRegression(max_iter=2000)
    )
    probe.fit(features[fit], labels[fit])
    predicted[held] = probe.predict(features[held])
  return metrics.accuracy_score(labels, predicted)


def main(argv):
  del argv
  if _CHECKPOINT.value:
    embedder = Embedder.from_checkpoint(_CHECKPOINT.value)
  else:
    embedder = Embedder.from_pretrained()
  stored, labels, subjects, sides = shoulder_watch.recordings()
  xs = [shoulder_watch.to_project_units(x) for x in stored]
  z = _unit_embeddings(embedder, xs, sides)
  backwards = [augment.played_backwards({'imu': x})['imu'] for x in xs]
  cos_backwards = np.sum(z * _unit_embeddings(embedder, backwards, sides), axis=1)
  rotation = np.isin(labels, ROTATIONS)
  internal, external = (np.flatnonzero(labels == c) for c in ROTATIONS)
  cos_pairs = [
    z[i] @ z[j]
    for i in internal
    for j in external
    if subjects[i] == subjects[j] and sides[i] == sides[j]
  ]
  stats = np.stack([statistics.channel_statistics(x[None, :, None])[0, 0] for x in xs])
  figures = {
    'cos(recording, backwards)/all': cos_backwards.mean(),
    'cos(recording, backwards)/rotations': cos_backwards[rotation].mean(),
    'cos(internal, external rotation)/same subject and arm': np.mean(cos_pairs),
    'internal vs external accuracy/embedding': _accuracy(
      z[rotation], labels[rotation], subjects[rotation]
    ),
    'internal vs external accuracy/statistics': _accuracy(
      stats[rotation], labels[rotation], subjects[rotation]
    ),
  }
  for name, value in figures.items():
    print(json.dumps({'name': f'shoulder_watch/{name}', 'value': round(float(value), 3)}))


if __name__ == '__main__':
  app.run(main)
