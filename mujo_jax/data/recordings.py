"""Evaluation windows of continuous labelled recordings (MHEALTH, PAMAP2, MotionSense, ...).

A downstream HAR dataset is a set of recordings, one per subject (and session), each a
uniformly sampled IMU stream with a label per sample and samples that may be missing (a
dropped packet, a sensor that was not worn). Every such dataset is windowed by the same rules,
so that their numbers compare:

- Windows of `window_s` every `hop_s` at the recording's own rate, then resampled to the
  model's IMU rate with `facts.resample` (the resampler every other stream goes through).
- Label: the label of the window's centre sample (the sample at `start + n // 2`). A window
  whose centre label is not a class (`label < 0`: MHEALTH's null class, PAMAP2's transient
  activity 0) is dropped and counted in `dropped_unlabelled`.
- Missing samples (`present` False, e.g. NaN in the file): a site stays present in a window when
  at most `max_missing` of its samples are missing and no gap is longer than `max_gap_s`; those
  few samples are filled by linear interpolation between their present neighbours and counted
  in `filled_samples`. Otherwise the site is absent in that window (`imu_sites` False, values
  zero, never read by the model) and counted in `absent_site_windows`. A window with no site
  left is dropped (`dropped_no_site`). Nothing missing is ever zero-filled into a present site.
- `group` is the subject: subject-wise folds keep a person's windows together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from mujo_jax.facts import resample


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recording:
  """One subject's session: `imu` (T, S, 6) acc m/s² incl. gravity + gyr rad/s at `rate_hz`."""

  imu: np.ndarray  # (T, S, 6) float; values where `present` is False are ignored.
  present: np.ndarray  # (T, S) bool: the site's sample was measured (acc and gyr both).
  labels: np.ndarray  # (T,) int: class id per sample, -1 for none.
  subject: int
  rate_hz: float

  def __post_init__(self):
    imu, present, labels = np.asarray(self.imu), np.asarray(self.present), np.asarray(self.labels)
    if imu.ndim != 3 or imu.shape[-1] != 6:
      raise ValueError(f'subject {self.subject}: imu has shape {imu.shape}, expected (T, S, 6)')
    if present.shape != imu.shape[:2] or labels.shape != imu.shape[:1]:
      raise ValueError(
        f'subject {self.subject}: present {present.shape} and labels {labels.shape} must be '
        f'{imu.shape[:2]} and {imu.shape[:1]}'
      )
    if not self.rate_hz > 0:
      raise ValueError(f'subject {self.subject}: rate_hz={self.rate_hz}, expected > 0')


@dataclasses.dataclass(frozen=True, kw_only=True)
class WindowRules:
  window_s: float = 5.0
  hop_s: float = 2.5
  imu_rate_hz: float = 50.0
  max_missing: float = 0.1  # Fraction of a site's samples that may be missing in a window.
  max_gap_s: float = 0.2  # Longest run of missing samples that may be filled.

  def __post_init__(self):
    if not (self.window_s > 0 and self.hop_s > 0 and self.imu_rate_hz > 0):
      raise ValueError(f'{self}: window_s, hop_s and imu_rate_hz must be > 0')
    if not 0 <= self.max_missing < 1 or self.max_gap_s < 0:
      raise ValueError(f'{self}: expected 0 <= max_missing < 1 and max_gap_s >= 0')


def _longest_run(missing: np.ndarray) -> int:
  if not missing.any():
    return 0
  edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
  return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


def _fill(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
  """Linear interpolation of the missing rows of `values` (n, 6) between present rows."""
  index = np.arange(len(values))
  filled = values.copy()
  for channel in range(values.shape[1]):
    filled[missing, channel] = np.interp(index[missing], index[~missing], values[~missing, channel])
  return filled


def windows(
  recordings: Sequence[Recording],
  sites: Sequence[str],
  class_names: Sequence[str],
  rules: WindowRules = WindowRules(),
) -> dict[str, object]:
  """The evaluation windows of `recordings` in the batch schema, with what was masked.

  Returns `imu` (N, T, S, 6) float32 at `rules.imu_rate_hz`, `imu_sites` (N, S) bool, `label`
  (N,) int32, `group` (N,) int32 (the subject), `recording` (N,) int32 (the index of the window's
  recording in `recordings`), `class_names`, `sites`, and `counts`: a dict of the windows
  dropped (unlabelled, no site) and of the samples filled / site-windows absent.
  """
  num_out = round(rules.window_s * rules.imu_rate_hz)
  counts = dict.fromkeys(
    ('windows', 'dropped_unlabelled', 'dropped_no_site', 'filled_samples', 'absent_site_windows'),
    0,
  )
  out: dict[str, list] = {'imu': [], 'imu_sites': [], 'label': [], 'group': [], 'recording': []}
  for index, recording in enumerate(recordings):
    if len(recording.present[0]) != len(sites):
      raise ValueError(
        f'subject {recording.subject}: {recording.imu.shape[1]} sites, expected {len(sites)}'
      )
    length = round(rules.window_s * recording.rate_hz)
    hop = max(1, round(rules.hop_s * recording.rate_hz))
    max_gap = int(rules.max_gap_s * recording.rate_hz)
    imu = np.asarray(recording.imu, np.float64)
    for start in range(0, len(imu) - length + 1, hop):
      label = int(recording.labels[start + length // 2])
      if label < 0:
        counts['dropped_unlabelled'] += 1
        continue
      window = np.zeros((num_out, len(sites), 6), np.float32)
      kept = np.zeros(len(sites), bool)
      for site in range(len(sites)):
        missing = ~recording.present[start : start + length, site]
        if missing.mean() > rules.max_missing or _longest_run(missing) > max_gap:
          counts['absent_site_windows'] += 1
          continue
        values = imu[start : start + length, site]
        if missing.any():
          values = _fill(values, missing)
          counts['filled_samples'] += int(missing.sum())
        window[:, site] = resample.resample(
          values, recording.rate_hz, rules.imu_rate_hz, num_out=num_out
        )
        kept[site] = True
      if not kept.any():
        counts['dropped_no_site'] += 1
        continue
      out['imu'].append(window)
      out['imu_sites'].append(kept)
      out['label'].append(label)
      out['group'].append(recording.subject)
      out['recording'].append(index)
      counts['windows'] += 1
  if not out['label']:
    raise ValueError(f'no labelled window in {len(recordings)} recordings ({counts})')
  return {
    'imu': np.stack(out['imu']),
    'imu_sites': np.stack(out['imu_sites']),
    'label': np.asarray(out['label'], np.int32),
    'group': np.asarray(out['group'], np.int32),
    'recording': np.asarray(out['recording'], np.int32),
    'class_names': tuple(class_names),
    'sites': tuple(sites),
    'counts': counts,
  }
