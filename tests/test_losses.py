"""clip_loss and siglip_loss against NumPy references written from the papers' definitions."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mujo_jax.losses import clip_loss, siglip_loss


def _normalised(rng, batch=6, dim=5):
  z = rng.normal(size=(batch, dim))
  return z / np.linalg.norm(z, axis=1, keepdims=True)


def _log_softmax(x):
  x = x - x.max()
  return x - np.log(np.exp(x).sum())


def clip_reference(z_a, z_b, logit_scale, mask=None, not_negative=None):
  """Loops over the valid examples only: masked examples are simply not in the batch, and a
  `not_negative` entry is simply not among a row's (or column's) candidates."""
  keep = np.arange(len(z_a)) if mask is None else np.flatnonzero(mask)
  if keep.size == 0:
    return 0.0
  skip = np.zeros((len(z_a),) * 2, bool) if not_negative is None else not_negative
  skip = skip[np.ix_(keep, keep)] & ~np.eye(len(keep), dtype=bool)
  z_a, z_b = z_a[keep], z_b[keep]
  logits = math.exp(min(logit_scale, math.log(100))) * z_a @ z_b.T
  a_to_b, b_to_a = [], []
  for i in range(len(keep)):
    row, column = np.flatnonzero(~skip[i]), np.flatnonzero(~skip[:, i])
    a_to_b.append(-_log_softmax(logits[i, row])[list(row).index(i)])
    b_to_a.append(-_log_softmax(logits[column, i])[list(column).index(i)])
  return 0.5 * (np.mean(a_to_b) + np.mean(b_to_a))


def siglip_reference(z_a, z_b, t, b, mask=None, not_negative=None):
  keep = np.arange(len(z_a)) if mask is None else np.flatnonzero(mask)
  if keep.size == 0:
    return 0.0
  skip = np.zeros((len(z_a),) * 2, bool) if not_negative is None else not_negative
  skip = skip[np.ix_(keep, keep)]
  z_a, z_b = z_a[keep], z_b[keep]
  total = 0.0
  for i in range(len(keep)):
    for j in range(len(keep)):
      if i != j and skip[i, j]:
        continue
      label = 1.0 if i == j else -1.0
      logit = z_a[i] @ z_b[j] * math.exp(t) + b
      total += -math.log(1.0 / (1.0 + math.exp(-label * logit)))
  return total / len(keep)


MASKS = [None, np.array([1, 0, 1, 1, 0, 1], bool), np.array([0, 0, 0, 1, 0, 0], bool)]


@pytest.mark.parametrize('mask', MASKS)
@pytest.mark.parametrize('logit_scale', [math.log(1 / 0.07), 2.0])
def test_clip_loss_matches_reference(mask, logit_scale):
  rng = np.random.default_rng(0)
  z_a, z_b = _normalised(rng), _normalised(rng)
  expected = clip_reference(z_a, z_b, logit_scale, mask)
  got = clip_loss(
    jnp.asarray(z_a, jnp.float32),
    jnp.asarray(z_b, jnp.float32),
    jnp.float32(logit_scale),
    None if mask is None else jnp.asarray(mask),
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('mask', MASKS)
def test_siglip_loss_matches_reference(mask):
  rng = np.random.default_rng(1)
  z_a, z_b = _normalised(rng), _normalised(rng)
  t, b = math.log(10.0), -3.0
  expected = siglip_reference(z_a, z_b, t, b, mask)
  got = siglip_loss(
    jnp.asarray(z_a, jnp.float32),
    jnp.asarray(z_b, jnp.float32),
    jnp.float32(t),
    jnp.float32(b),
    None if mask is None else jnp.asarray(mask),
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# Windows 0, 2, 3 share an activity, 1 and 5 another: the pairs a text loss must not push apart.
SAME_ACTIVITY = np.equal.outer(*[np.array([7, 4, 7, 7, 9, 4])] * 2)


@pytest.mark.parametrize('mask', MASKS[:2])
def test_not_negative_pairs_leave_both_softmaxes_and_the_sigmoid_sum(mask):
  rng = np.random.default_rng(4)
  z_a, z_b = _normalised(rng), _normalised(rng)
  mask_j = None if mask is None else jnp.asarray(mask)
  got = clip_loss(z_a, z_b, 2.0, mask_j, not_negative=jnp.asarray(SAME_ACTIVITY))
  np.testing.assert_allclose(
    got, clip_reference(z_a, z_b, 2.0, mask, SAME_ACTIVITY), rtol=1e-5, atol=1e-6
  )
  assert abs(float(got) - clip_reference(z_a, z_b, 2.0, mask)) > 1e-3  # It changes the loss.
  got = siglip_loss(z_a, z_b, 1.0, -2.0, mask_j, not_negative=jnp.asarray(SAME_ACTIVITY))
  np.testing.assert_allclose(
    got, siglip_reference(z_a, z_b, 1.0, -2.0, mask, SAME_ACTIVITY), rtol=1e-5, atol=1e-6
  )
  # The diagonal is a positive whatever not_negative says there.
  off_diagonal = SAME_ACTIVITY & ~np.eye(6, dtype=bool)
  np.testing.assert_allclose(
    clip_loss(z_a, z_b, 2.0, mask_j, not_negative=jnp.asarray(off_diagonal)),
    clip_loss(z_a, z_b, 2.0, mask_j, not_negative=jnp.asarray(SAME_ACTIVITY)),
    rtol=1e-6,
  )
  with pytest.raises(ValueError, match=r'not_negative shape \(6, 5\) != \(6, 6\)'):
    clip_loss(z_a, z_b, 2.0, not_negative=jnp.ones((6, 5), bool))


def test_masked_examples_are_neither_rows_nor_negatives():
  rng = np.random.default_rng(2)
  z_a, z_b = _normalised(rng), _normalised(rng)
  mask = np.array([1, 1, 0, 1, 1, 0], bool)
  base = clip_loss(z_a, z_b, 2.0, mask)
  changed_b = z_b.copy()
  changed_b[[2, 5]] = z_a[[0, 1]]  # A masked example that would be a hard negative.
  np.testing.assert_allclose(clip_loss(z_a, changed_b, 2.0, mask), base, rtol=1e-6)
  np.testing.assert_allclose(
    siglip_loss(z_a, changed_b, 2.0, -5.0, mask), siglip_loss(z_a, z_b, 2.0, -5.0, mask), rtol=1e-6
  )
  assert abs(float(clip_loss(z_a, changed_b, 2.0)) - float(clip_loss(z_a, z_b, 2.0))) > 1e-3


def test_logit_scale_clamp():
  rng = np.random.default_rng(3)
  z_a, z_b = _normalised(rng), _normalised(rng)
  at_clamp = clip_loss(z_a, z_b, math.log(100.0))
  np.testing.assert_allclose(clip_loss(z_a, z_b, 10.0), at_clamp, rtol=1e-6)
  grad = jax.grad(lambda s: clip_loss(z_a, z_b, s))(jnp.float32(10.0))
  assert grad == 0.0  # Clamped: no gradient pushes the scale further.
  assert jax.grad(lambda s: clip_loss(z_a, z_b, s))(jnp.float32(2.0)) != 0.0


@pytest.mark.parametrize('loss_name', ['clip', 'siglip'])
def test_all_masked_gives_zero_loss_and_finite_grads(loss_name):
  rng = np.random.default_rng(4)
  z_a, z_b = jnp.asarray(_normalised(rng), jnp.float32), jnp.asarray(_normalised(rng), jnp.float32)
  mask = jnp.zeros((6,), bool)
  if loss_name == 'clip':
    fn = lambda za, zb, s: clip_loss(za, zb, s, mask)
  else:
    fn = lambda za, zb, s: siglip_loss(za, zb, s, -10.0, mask)
  value, grads = jax.value_and_grad(fn, argnums=(0, 1, 2))(z_a, z_b, jnp.float32(2.0))
  assert value == 0.0
  for grad in grads:
    assert np.isfinite(np.asarray(grad)).all() and not np.asarray(grad).any()


def test_rejects_mismatched_shapes():
  with pytest.raises(ValueError, match='equal shape'):
    clip_loss(jnp.zeros((4, 3)), jnp.zeros((5, 3)), 1.0)
  with pytest.raises(ValueError, match='mask shape'):
    siglip_loss(jnp.zeros((4, 3)), jnp.zeros((4, 3)), 1.0, 0.0, jnp.ones((3,), bool))
