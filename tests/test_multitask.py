"""Multitask strategies select the pairs they promise, step after step, under jit."""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from mujo_jax import losses, multitask
from mujo_jax.models import joint

MODALITIES = ('imu', 'pose', 'text', 'video')
ALL_PAIRS = ('imu-pose', 'imu-text', 'imu-video', 'pose-text', 'pose-video', 'text-video')


def _build(modalities, **settings):
  return multitask.build_multitask(modalities, multitask.MultitaskConfig(**settings))


def _weights_over_steps(mt, steps, rng=None):
  """(steps, P) weights from a jitted function of a traced step."""
  fn = jax.jit(lambda step, key: multitask.step_weights(mt, step, key))
  keys = jax.random.split(jax.random.key(0) if rng is None else rng, steps)
  return np.stack([np.asarray(fn(jnp.int32(step), keys[step])) for step in range(steps)])


def test_pairs_parse_and_validate():
  assert _build(MODALITIES).pair_names == ALL_PAIRS
  mt = _build(MODALITIES, pairs=('text-imu', 'pose-imu'))
  assert mt.pairs == (('imu', 'pose'), ('imu', 'text'))
  assert mt.pair_indices == ((0, 1), (0, 2))
  assert _build('imu+text', pairs='imu-text').pairs == (('imu', 'text'),)
  for bad, message in [
    ('imu-audio', 'not one of modalities'),
    ('imu-imu', 'two different'),
    ('imu_text', 'expected "<modality>-<modality>"'),
    (('imu-text', 'text-imu'), 'listed twice'),
  ]:
    with pytest.raises(ValueError, match=message):
      _build(MODALITIES, pairs=bad)


@pytest.mark.parametrize(
  'kwargs,message',
  [
    (dict(strategy='ensemble'), 'multitask.strategy'),
    (dict(strategy='anchored'), 'multitask.anchor=None'),
    (dict(strategy='anchored', anchor='audio'), 'anchor'),
    (dict(strategy='anchored', anchor='video', pairs='imu-text'), 'no selected pair'),
    (dict(strategy='joint', anchor='text'), 'only used by strategy "anchored"'),
    (dict(pair_weights={'imu-audio': 1.0}), 'not one of modalities'),
    (dict(pairs='imu-text', pair_weights={'imu-pose': 1.0}), 'not one of the selected pairs'),
    (dict(pair_weights={'imu-text': -1.0}), 'expected a weight >= 0'),
    (dict(pairs='imu-text', pair_weights={'text-imu': 0.0}), 'weight 0'),
  ],
)
def test_bad_settings_raise_at_build_time(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _build(MODALITIES, **kwargs)


def test_joint_uses_every_pair_with_its_weight_every_step():
  mt = _build(MODALITIES, pair_weights={'text-imu': 2.0})
  weights = _weights_over_steps(mt, 5)
  expected = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0])
  np.testing.assert_array_equal(weights, np.tile(expected, (5, 1)))


def test_round_robin_cycles_through_the_active_pairs():
  mt = _build(MODALITIES, strategy='round_robin', pair_weights={'pose-video': 0.0})
  weights = _weights_over_steps(mt, 15)
  chosen = weights.argmax(axis=1)
  assert ((weights > 0).sum(axis=1) == 1).all()
  np.testing.assert_array_equal(chosen, [0, 1, 2, 3, 5] * 3)


def test_random_pair_draws_one_pair_per_step_from_the_rng():
  mt = _build(MODALITIES, strategy='random_pair')
  weights = _weights_over_steps(mt, 300, jax.random.key(7))
  assert ((weights > 0).sum(axis=1) == 1).all()
  counts = collections.Counter(weights.argmax(axis=1).tolist())
  assert set(counts) == set(range(6)) and min(counts.values()) > 25  # ~50 each.
  np.testing.assert_array_equal(weights, _weights_over_steps(mt, 300, jax.random.key(7)))
  assert not np.array_equal(weights, _weights_over_steps(mt, 300, jax.random.key(8)))
  with pytest.raises(ValueError, match='needs an rng'):
    multitask.step_weights(mt, 0, None)


@pytest.mark.parametrize('anchor', ['text', 'imu'])
def test_anchored_trains_only_pairs_with_the_anchor(anchor):
  mt = _build(MODALITIES, strategy='anchored', anchor=anchor)
  weights = _weights_over_steps(mt, 4)
  expected = np.array([1.0 if anchor in name.split('-') else 0.0 for name in ALL_PAIRS])
  np.testing.assert_array_equal(weights, np.tile(expected, (4, 1)))
  assert expected.sum() == 3


def test_uncertainty_weighting_and_invalid_pairs():
  mt = _build(MODALITIES, pairs='imu-text,imu-pose,pose-text', strategy='uncertainty')
  losses = jnp.array([2.0, 3.0, 5.0])
  log_vars = jnp.array([0.5, -0.2, 1.0])
  valid = jnp.array([True, True, False])
  total, weights = multitask.combine(mt, losses, valid, 3, None, log_vars)
  expected = np.exp(-0.5) * 2.0 + 0.5 + np.exp(0.2) * 3.0 - 0.2  # Pair 3 absent: no term.
  np.testing.assert_allclose(total, expected, rtol=1e-6)
  np.testing.assert_allclose(weights, [np.exp(-0.5), np.exp(0.2), 0.0], rtol=1e-6)
  grad = jax.grad(lambda s: multitask.combine(mt, losses, valid, 3, None, s)[0])(log_vars)
  np.testing.assert_allclose(grad, [1 - np.exp(-0.5) * 2.0, 1 - np.exp(0.2) * 3.0, 0.0], rtol=1e-6)


def _config(strategy: str, loss_type: str = 'clip') -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(
    dict(
      modalities=('imu', 'text'),
      model=dict(size='tiny', imu_patch=10, text_max_len=8, dtype='float32'),
      data=dict(imu_site_ids=(0, 1)),
      loss=dict(type=loss_type),
      multitask=dict(strategy=strategy, pairs='all', pair_weights=None, anchor=''),
    )
  )


def _batch(batch=4):
  rng = np.random.default_rng(0)
  return {
    'imu': rng.normal(size=(batch, 20, 2, 6)).astype(np.float32),
    'imu_sites': np.ones((batch, 2), bool),
    'text': rng.integers(3, 259, (batch, 8)).astype(np.int32),
    'present': np.array([[1, 1], [1, 1], [1, 0], [1, 1]], bool),
  }


@pytest.mark.parametrize('loss_type', ['clip', 'siglip'])
def test_uncertainty_log_vars_are_learnable_in_the_joint_model(loss_type):
  model = joint.build_model(joint.JointModelSpec.from_config(_config('uncertainty', loss_type)))
  batch = _batch()
  variables = {'params': joint.init_params(model, jax.random.key(0), batch)}
  assert variables['params']['loss_head']['log_vars'].shape == (1,)

  def loss(v):
    return model.apply(v, model.apply(v, batch, method='embed'), batch['present'], method='loss')

  (_, metrics), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(variables)
  head_grads = grads['params']['loss_head']
  assert np.abs(np.asarray(head_grads['log_vars'])).min() > 1e-6
  assert all(np.abs(np.asarray(g)).max() > 0 for g in jax.tree.leaves(head_grads))
  assert metrics['pair_examples/imu-text'] == 3  # Example 2 lacks text.
  assert 'log_var/imu-text' in metrics


def test_random_pair_in_the_model_needs_an_rng():
  config = _config('random_pair')
  config.modalities = ('imu', 'pose', 'text')
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  assert model.multitask.needs_rng
  embeddings = {m: jnp.ones((2, 32)) / np.sqrt(32) for m in config.modalities}
  present = jnp.ones((2, 3), bool)
  variables = {'params': {'loss_head': {'logit_scale': jnp.float32(2.0)}}}
  _, metrics = model.apply(variables, embeddings, present, 0, jax.random.key(0), method='loss')
  assert sum(float(metrics[f'weight/{name}']) for name in model.pair_names) == 1.0
  with pytest.raises(Exception, match='multitask'):
    model.apply(variables, embeddings, present, 0, None, method='loss')


def test_text_negatives_other_activities_spares_only_the_text_pairs_same_activity():
  config = _config('joint')
  config.modalities = ('imu', 'pose', 'text')
  rng = np.random.default_rng(5)
  embeddings = {m: rng.normal(size=(6, 32)) for m in config.modalities}
  embeddings = {m: jnp.asarray(z / np.linalg.norm(z, axis=1, keepdims=True), jnp.float32)
                for m, z in embeddings.items()}  # fmt: skip
  present = jnp.ones((6, 3), bool)
  labels = jnp.asarray([7, 4, 7, 7, 9, 4])
  variables = {'params': {'loss_head': {'logit_scale': jnp.float32(2.0)}}}

  def pair_losses(text_negatives, given_labels):
    config.loss.text_negatives = text_negatives
    model = joint.build_model(joint.JointModelSpec.from_config(config))
    _, metrics = model.apply(variables, embeddings, present, 0, None, given_labels, method='loss')
    return {name: float(metrics[f'loss/{name}']) for name in model.pair_names}

  every = pair_losses('all', None)
  assert pair_losses('all', labels) == every  # Labels change nothing unless asked to.
  spared = pair_losses('other_activities', labels)
  assert spared['imu-pose'] == every['imu-pose']  # Windows stay each other's negatives.
  for name in ('imu-text', 'pose-text'):
    expected = losses.clip_loss(
      embeddings[name.split('-')[0]], embeddings['text'], 2.0,
      not_negative=labels[:, None] == labels[None, :],
    )  # fmt: skip
    np.testing.assert_allclose(spared[name], float(expected), rtol=1e-6)
    assert spared[name] < every[name]
  with pytest.raises(ValueError, match="text_negatives='other_activities' needs the batch labels"):
    pair_losses('other_activities', None)
