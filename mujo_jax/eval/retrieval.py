"""Cross-modal retrieval: R@K of finding a window's other modality among all windows.

For a pair (query modality a, target modality b), query i ranks the targets of all N windows by
cosine; it is a hit at K if its own window's target is among the K best. Ties count against the
query (a target scored equal to the true one ranks ahead of it), so a collapsed embedding scores
chance, never a perfect recall. Both directions of every pair are reported. Scores are computed
in row blocks so that memory stays O(block × N).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10)


def true_match_ranks(queries: np.ndarray, targets: np.ndarray, block: int = 1024) -> np.ndarray:
  """(N,) 0-based rank of target i among all targets for query i (ties count against it)."""
  if queries.shape != targets.shape or queries.ndim != 2:
    raise ValueError(
      f'queries {queries.shape} and targets {targets.shape}: expected two (N, D) '
      'arrays of paired windows'
    )
  ranks = np.empty(len(queries), np.int64)
  for start in range(0, len(queries), block):
    scores = queries[start : start + block] @ targets.T
    rows = np.arange(scores.shape[0])
    true_scores = scores[rows, start + rows]
    ranks[start : start + block] = (scores >= true_scores[:, None]).sum(axis=1) - 1
  return ranks


def recall_at_k(
  queries: np.ndarray, targets: np.ndarray, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
  ranks = true_match_ranks(queries, targets)
  return {f'R@{k}': float(np.mean(ranks < k)) for k in ks}


def evaluate(
  embeddings: Mapping[str, np.ndarray], keys: Sequence[str], ks: Sequence[int] = DEFAULT_KS
) -> list[dict[str, float | str | int]]:
  """One row per ordered pair of `keys`, over the windows valid for both modalities."""
  rows = []
  for query, target in itertools.permutations(keys, 2):
    valid = np.ones(len(embeddings[query]), bool)
    for key in (query, target):
      valid &= embeddings.get(f'valid/{key}', np.ones(len(valid), bool))
    if valid.sum() < 2:
      continue
    recalls = recall_at_k(embeddings[query][valid], embeddings[target][valid], ks)
    rows.append(
      {
        'query': query,
        'target': target,
        'num_windows': int(valid.sum()),
        **recalls,
        'chance@1': 1.0 / int(valid.sum()),
      }
    )
  return rows
