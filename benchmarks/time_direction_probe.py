"""Does the IMU embedding see which way a motion runs? shoulder_watch's two rotations.

Internal and external shoulder rotation sweep the same arc and differ in which way is pulled
fast against the band; they hold most of the shipped model's all-label shoulder_watch errors
(MODEL_CARD.md, "Time direction"). Prints, as JSON lines:
- the mean cosine between a recording's embedding and that of the same recording played
  backwards (`augment.played_backwards`: time reversed, gyro negated), over all recordings and
  over the two rotations; and between the two rotations of the same subject and arm;
- accuracy of a standardised logistic regression told only those two classes apart, subject-wise
  5-fold (scikit-learn's GroupKFold), on the embedding, on the per-channel statistics, and on
  the turn about the specific force: per sample (a · ω) / |a| in rad/s, the angular rate about
  "up" when the arm is slow, which no mounting rotation changes and which changes sign when the
  motion runs backwards or is mirrored to the other arm (so it is negated on right arms). Its
  5/25/50/75/95th percentiles are the features; their 95th and 5th per class and arm show which
  way is quick;
- with --corpus_data_dir (a `mujo_synthetic/wearables` build), the same cue on the corpus's two
  rotations at both wrists, and the accuracy on the real recordings of a probe fit on the corpus:
  above 0.5 where the corpus's direction of effort is the real one, below where it is reversed.

  python benchmarks/time_direction_probe.py                       # the shipped model
  python benchmarks/time_direction_probe.py --checkpoint=W        # a pretraining workdir
  python benchmarks/time_direction_probe.py --corpus_data_dir=D   # and the corpus's cue
"""

from __future__ import annotations

import json

import numpy as np
from absl import app, flags
from sklearn import linear_model, metrics, model_selection, pipeline, preprocessing

from mujo_jax.data import augment, shoulder_watch
from mujo_jax.eval import statistics
from mujo_jax.facts.sites import WEARABLE_IMU_SITES
from mujo_jax.inference import Embedder

_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'pretraining workdir; default: shipped')
_CORPUS_DATA_DIR = flags.DEFINE_string(
  'corpus_data_dir', None, 'tfds data_dir of a mujo_synthetic/wearables build (train split)'
)
PERCENTILES = (5, 25, 50, 75, 95)
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


def _probe():
  return pipeline.make_pipeline(
    preprocessing.StandardScaler(), linear_model.LogisticRegression(max_iter=2000)
  )


def _accuracy(features, labels, subjects) -> float:
  predicted = np.empty_like(labels)
  for fit, held in model_selection.GroupKFold(5).split(features, labels, subjects):
    probe = _probe()
    probe.fit(features[fit], labels[fit])
    predicted[held] = probe.predict(features[held])
  return metrics.accuracy_score(labels, predicted)


def _turn_percentiles(imu: np.ndarray, right_arm: bool) -> np.ndarray:
  """Percentiles of (a · ω) / |a| (rad/s) of a (T, 6) window, negated on a right arm."""
  acc, gyr = imu[:, augment.ACC_CHANNELS], imu[:, augment.GYRO_CHANNELS]
  turn = np.sum(acc * gyr, axis=1) / np.maximum(np.linalg.norm(acc, axis=1), 1e-6)
  return np.percentile(turn, PERCENTILES) * (-1.0 if right_arm else 1.0)


def _corpus_rotations(data_dir: str):
  """Turn percentiles, labels (0 internal, 1 external) and clips of the corpus's rotations at
  each present wrist of the train split."""
  import tensorflow_datasets as tfds

  from mujo_jax.facts import activities

  wanted = [activities.WEARABLE_ACTIVITIES.index(shoulder_watch.CLASS_NAMES[c]) for c in ROTATIONS]
  source = tfds.data_source('mujo_synthetic/wearables', split='train', data_dir=data_dir)
  features, labels, clips = [], [], []
  for index in range(len(source)):
    record = source[index]
    if int(record['label']) not in wanted:
      continue
    for side in shoulder_watch.SITES:
      site = WEARABLE_IMU_SITES.index(side)
      if record['imu_sites'][site]:
        features.append(_turn_percentiles(record['imu'][:, site], side == 'right_wrist'))
        labels.append(wanted.index(int(record['label'])))
        clips.append(index)
  return np.array(features), np.array(labels), np.array(clips)


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
  turns = np.stack([_turn_percentiles(x, side == 1) for x, side in zip(xs, sides, strict=True)])
  figures['internal vs external accuracy/side-signed turn about the specific force'] = _accuracy(
    turns[rotation], labels[rotation], subjects[rotation]
  )
  for c in ROTATIONS:
    for side, arm in enumerate(('left', 'right')):
      # Unsigned here: the arm's own quick direction, rad/s.
      cell = turns[(labels == c) & (sides == side)] * (-1.0 if side else 1.0)
      name = f'turn about the specific force p95, p5/{shoulder_watch.CLASS_NAMES[c]}/{arm}'
      figures[name] = (cell[:, -1].mean(), cell[:, 0].mean())
  if _CORPUS_DATA_DIR.value:
    corpus, corpus_labels, clips = _corpus_rotations(_CORPUS_DATA_DIR.value)
    figures['corpus: internal vs external accuracy/side-signed turn'] = _accuracy(
      corpus, corpus_labels, clips
    )
    probe = _probe().fit(corpus, corpus_labels)
    real_labels = (labels[rotation] == ROTATIONS[1]).astype(int)
    figures['corpus-fit probe on the real rotations/side-signed turn'] = metrics.accuracy_score(
      real_labels, probe.predict(turns[rotation])
    )
  for name, value in figures.items():
    value = (
      [round(float(v), 3) for v in value] if isinstance(value, tuple) else round(float(value), 3)
    )
    print(json.dumps({'name': f'shoulder_watch/{name}', 'value': value}))


if __name__ == '__main__':
  app.run(main)
