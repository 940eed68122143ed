"""Pairwise contrastive losses over the global batch, with per-example presence masks.

Both losses are plain `jnp` over the whole `(B, D)` arrays: under `jit` with a batch sharded over
devices, XLA inserts the collectives, so every example sees every other example of the global
batch as a negative and the labels are global (no gather/offset bookkeeping to get wrong).

Masks: `mask[i]` says that example i has both modalities of the pair. A masked example counts
neither as a row (anchor) nor as a negative for anybody; the loss averages over valid rows only.
With no valid example the loss is 0 with finite (zero) gradients, so a pair missing from a whole
batch does not poison the step. `not_negative[i, j]` (i ≠ j) takes one off-diagonal entry out of
both directions' sums: a pair that is not a negative, e.g. a window and a text of the same
activity, which a batch drawn in runs of one activity is full of.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps the learned logit scale at 100.
_MASKED_LOGIT = -1e9  # Finite, so logsumexp of a fully masked row stays finite.


def _pair_mask(mask: Array | None, batch: int) -> tuple[Array, Array]:
  if mask is None:
    mask = jnp.ones((batch,), bool)
  if mask.shape != (batch,):
    raise ValueError(f'contrastive loss: mask shape {mask.shape} != ({batch},)')
  mask = mask.astype(bool)
  return mask, mask[:, None] & mask[None, :]


def _candidates(valid_pairs: Array, not_negative: Array | None) -> Array:
  """(B, B) entries that enter the sums: valid pairs, minus the off-diagonal non-negatives."""
  if not_negative is None:
    return valid_pairs
  batch = valid_pairs.shape[0]
  if not_negative.shape != (batch, batch):
    raise ValueError(
      f'contrastive loss: not_negative shape {not_negative.shape} != {(batch, batch)}'
    )
  return valid_pairs & ~(not_negative.astype(bool) & ~jnp.eye(batch, dtype=bool))


def _check_pair(z_a: Array, z_b: Array) -> None:
  if z_a.ndim != 2 or z_a.shape != z_b.shape:
    raise ValueError(
      f'contrastive loss: expected two (B, D) embeddings of equal shape, got '
      f'{z_a.shape} and {z_b.shape}'
    )


def clip_loss(
  z_a: Array,
  z_b: Array,
  logit_scale: Array,
  mask: Array | None = None,
  *,
  max_logit_scale: float = MAX_LOGIT_SCALE,
  not_negative: Array | None = None,
) -> Array:
  """Symmetric InfoNCE (CLIP): mean of the a→b and b→a softmax cross-entropies.

  Args:
    z_a, z_b: (B, D) embeddings, usually L2-normalised; row i of each is a positive pair.
    logit_scale: scalar log of the inverse temperature (learned); clamped at `max_logit_scale`
      before `exp`, so the clamp also stops its gradient, as CLIP's in-place clamp does.
    mask: optional (B,) bool, True where example i has both modalities.
    not_negative: optional (B, B) bool; True off the diagonal: that pair is left out of both
      softmaxes (neither a positive nor a negative). The diagonal is ignored.

  Returns:
    Scalar float32 loss, averaged over valid examples (0 if there are none).
  """
  _check_pair(z_a, z_b)
  valid, valid_pairs = _pair_mask(mask, z_a.shape[0])
  scale = jnp.exp(jnp.minimum(jnp.asarray(logit_scale, jnp.float32), max_logit_scale))
  logits = scale * jnp.einsum('id,jd->ij', z_a.astype(jnp.float32), z_b.astype(jnp.float32))
  logits = jnp.where(_candidates(valid_pairs, not_negative), logits, _MASKED_LOGIT)
  positives = jnp.diagonal(logits)
  loss_a_to_b = jax.nn.logsumexp(logits, axis=1) - positives
  loss_b_to_a = jax.nn.logsumexp(logits, axis=0) - positives
  per_example = 0.5 * (loss_a_to_b + loss_b_to_a)
  count = jnp.sum(valid, dtype=jnp.float32)
  return jnp.sum(jnp.where(valid, per_example, 0.0)) / jnp.maximum(count, 1.0)


def siglip_loss(
  z_a: Array,
  z_b: Array,
  t: Array,
  b: Array,
  mask: Array | None = None,
  *,
  not_negative: Array | None = None,
) -> Array:
  """Sigmoid loss of SigLIP (Zhai et al. 2023), normalised as in big_vision.

  logits = z_a z_bᵀ · exp(t) + b; labels +1 on the diagonal, −1 elsewhere;
  loss = −(1/B) Σ_i Σ_j log σ(label_ij · logit_ij), i.e. a sum over the B columns and a mean over
  the B rows (big_vision `siglip.py`). With a mask, the sums run over valid rows/columns and the
  mean divides by the number of valid rows.

  Args:
    z_a, z_b: (B, D) embeddings; row i of each is a positive pair.
    t: scalar log-temperature (init log 10); not clamped (big_vision does not).
    b: scalar bias (init −10).
    mask: optional (B,) bool, True where example i has both modalities.
    not_negative: optional (B, B) bool; True off the diagonal: that term is left out of the sum.
  """
  _check_pair(z_a, z_b)
  batch = z_a.shape[0]
  valid, valid_pairs = _pair_mask(mask, batch)
  logits = jnp.einsum('id,jd->ij', z_a.astype(jnp.float32), z_b.astype(jnp.float32))
  logits = logits * jnp.exp(jnp.asarray(t, jnp.float32)) + jnp.asarray(b, jnp.float32)
  labels = 2.0 * jnp.eye(batch, dtype=jnp.float32) - 1.0
  log_likelihood = jax.nn.log_sigmoid(labels * logits)
  per_row = -jnp.sum(jnp.where(_candidates(valid_pairs, not_negative), log_likelihood, 0.0), axis=1)
  count = jnp.sum(valid, dtype=jnp.float32)
  return jnp.sum(jnp.where(valid, per_row, 0.0)) / jnp.maximum(count, 1.0)
