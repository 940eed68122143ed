"""The per-channel statistics baseline: what a user writes in ten lines instead of pretraining.

Per IMU site and channel (acc xyz, gyr xyz) of a window: mean, standard deviation, the 10, 25,
50, 75 and 90th percentiles and the mean absolute first difference: 8 × 6 features a site. The
same probe (standardised logistic regression) is fitted on them as on the embeddings, so a
pretrained encoder is only worth its cost if it beats this row of the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

PERCENTILES = (10, 25, 50, 75, 90)
FEATURES_PER_CHANNEL = 3 + len(PERCENTILES)


def channel_statistics(imu: np.ndarray) -> np.ndarray:
  """(N, S, 6 * 8) statistics of `imu` (N, T, S, 6), per site."""
  imu = np.asarray(imu, np.float64)
  parts = [imu.mean(axis=1), imu.std(axis=1)]
  parts += list(np.percentile(imu, PERCENTILES, axis=1))
  parts.append(np.abs(np.diff(imu, axis=1)).mean(axis=1))
  return np.concatenate(parts, axis=-1).astype(np.float32)


def site_features(
  batches: Iterable[Mapping[str, np.ndarray]], variants: Mapping[str, tuple[bool, ...]]
) -> dict[str, np.ndarray]:
  """Statistics features per IMU variant key, shaped like `embedding.embed_windows` output.

  `variants` maps a key (`imu`, `imu:left_wrist`, ...) to the mask of the dataset's sites it
  keeps. A window's features for a key are the concatenated statistics of those sites; the
  window is valid for the key when all of them are present (absent sites are masked, never
  zero-filled into the features). When the key's sites are alternatives, one present per
  window and never two (a watch on whichever wrist exercises), the features are the
  statistics of the one present site: what a user computes on "the watch".
  """
  statistics, present, meta = [], [], {}
  for batch in batches:
    statistics.append(channel_statistics(batch['imu']))
    present.append(np.asarray(batch['imu_sites'], bool))
    for name in ('label', 'group', 'recording'):
      if name in batch:
        meta.setdefault(name, []).append(np.asarray(batch[name]))
  statistics = np.concatenate(statistics)
  present = np.concatenate(present)
  out = {name: np.concatenate(values) for name, values in meta.items()}
  for key, mask in variants.items():
    mask = np.asarray(mask, bool)
    kept = present[:, mask]
    if mask.sum() > 1 and np.all(kept.sum(axis=1) == 1):
      rows = np.arange(len(statistics))
      out[key] = statistics[:, mask][rows, kept.argmax(axis=1)]
      out[f'valid/{key}'] = np.ones(len(statistics), bool)
      continue
    out[key] = statistics[:, mask].reshape(len(statistics), -1)
    out[f'valid/{key}'] = kept.all(axis=1)
  return out
