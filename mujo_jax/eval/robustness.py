"""Missing-modality robustness: one probe on the fused embedding, tested with inputs removed.

The joint space lets a probe take *whatever is available*: the fused embedding of a window is
the L2-normalised mean of the embeddings of the modalities it has (IMU embedded from the sites
it has). One probe is fitted on the fused embedding with everything present; the table then
evaluates it with subsets of modalities and of IMU sites removed, through the presence mask —
nothing is zero-filled or imputed. Conditions: every non-empty subset of the dataset's probe
modalities, and for those with IMU, every site left out in turn and every site alone. A window
that has nothing left under a condition is excluded and counted.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from mujo_jax.eval import probe


@dataclasses.dataclass(frozen=True, kw_only=True)
class Condition:
  """What is available at test time."""

  modalities: str  # e.g. 'imu+pose'.
  imu_sites: str  # 'all', 'without left_wrist', 'only head', or '-' when IMU is removed.
  terms: tuple[probe.Term, ...]  # The embeddings fused.

  @property
  def keys(self) -> tuple[str, ...]:
    return tuple(t.key for t in self.terms)


def site_variants(sites: Sequence[str]) -> list[tuple[str, tuple[str, ...] | None]]:
  """(description, sites kept or None for all): all, each site left out, each site alone."""
  variants: list[tuple[str, tuple[str, ...] | None]] = [('all', None)]
  if len(sites) > 1:
    for site in sites:
      variants.append((f'without {site}', tuple(s for s in sites if s != site)))
    for site in sites:
      variants.append((f'only {site}', (site,)))
  return variants


def conditions(modalities: Sequence[str], sites: Sequence[str]) -> list[Condition]:
  """Every non-empty subset of `modalities` (largest first) × IMU site variants."""
  out = []
  for size in range(len(modalities), 0, -1):
    for kept in itertools.combinations(modalities, size):
      variants = site_variants(sites) if 'imu' in kept else [('-', None)]
      for description, kept_sites in variants:
        terms = tuple(
          probe.Term(modality=m, sites=kept_sites if m == 'imu' else None) for m in kept
        )
        out.append(Condition(modalities='+'.join(kept), imu_sites=description, terms=terms))
  return out


def imu_variant_sites(conditions_: Sequence[Condition]) -> set[tuple[str, ...]]:
  """The IMU site subsets (other than all) that the conditions need embedded."""
  return {t.sites for c in conditions_ for t in c.terms if t.sites is not None}


def fuse(
  embeddings: Mapping[str, np.ndarray], keys: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
  """(N, D) unit-norm mean of the valid embeddings among `keys`, and (N,) 'anything valid'."""
  total = np.zeros_like(embeddings[keys[0]], dtype=np.float64)
  count = np.zeros(len(total))
  for key in keys:
    valid = embeddings.get(f'valid/{key}', np.ones(len(total), bool))
    total[valid] += embeddings[key][valid]
    count += valid
  norm = np.linalg.norm(total, axis=1, keepdims=True)
  fused = np.where(norm > 0, total / np.maximum(norm, 1e-12), 0.0).astype(np.float32)
  return fused, count > 0
