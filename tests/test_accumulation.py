"""Exact (GradCache) accumulation equals the full batch; naive accumulation does not."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from configs import pretrain
from mujo_jax import accumulation, config_validation
from mujo_jax.data import schema
from mujo_jax.models import joint

# Without the video tower unless a test is about it: compiling it is a third of each
# comparison's time, and GradCache treats every tower alike.
BASE_MODALITIES = 'imu+pose+text'


def _config(
  strategy: str,
  loss: str,
  accum_steps: int,
  mode: str = 'exact',
  modalities: str = BASE_MODALITIES,
):
  config = pretrain.get_config(
    f'size=tiny,batch_size=16,strategy={strategy},loss={loss},modalities={modalities}'
  )
  config.model.dropout_rate = 0.1  # Dropout must replay identically in both passes.
  config.accum_steps = accum_steps
  config.accum_mode = mode
  return config_validation.resolve_pretrain_config(config)


def _random_batch(config, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  batch = {}
  for key, spec in schema.batch_spec(config, config.batch_size).items():
    if spec.dtype == np.uint8:
      batch[key] = rng.integers(0, 256, spec.shape, dtype=np.uint8)
    elif spec.dtype == np.int32:
      batch[key] = rng.integers(3, 100, spec.shape, dtype=np.int32)
    elif spec.dtype == bool:
      batch[key] = rng.uniform(size=spec.shape) > 0.2
    else:
      batch[key] = rng.normal(size=spec.shape).astype(np.float32)
  batch['text'][:, 40:] = 0  # Padding.
  return batch


def _loss_and_grads(config, params, batch):
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  fn = jax.jit(lambda p, b: accumulation.loss_and_grads(model, config, p, b, 3, jax.random.key(7)))
  loss, _, grads = fn(params, batch)
  return float(loss), jax.tree.map(np.asarray, grads)


def _max_relative_error(grads, reference) -> float:
  errors = [
    np.abs(g - r).max() / (np.abs(r).max() + 1e-12)
    for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(reference), strict=True)
  ]
  return max(errors)


@pytest.mark.parametrize(
  'strategy,loss,modalities,micro_batches',
  [
    ('joint', 'clip', 'imu+pose+text+video', (2, 4)),
    ('joint', 'siglip', BASE_MODALITIES, (4,)),
    ('uncertainty', 'clip', BASE_MODALITIES, (4,)),
    ('uncertainty', 'siglip', BASE_MODALITIES, (4,)),
  ],
)
def test_exact_accumulation_equals_full_batch(strategy, loss, modalities, micro_batches):
  full_config = _config(strategy, loss, 1, modalities=modalities)
  model = joint.build_model(joint.JointModelSpec.from_config(full_config))
  params = joint.init_params(model, jax.random.key(0), schema.dummy_batch(full_config, 2))
  batch = _random_batch(full_config)
  ref_loss, ref_grads = _loss_and_grads(full_config, params, batch)
  for accum_steps in micro_batches:  # One compile per count.
    config = _config(strategy, loss, accum_steps, modalities=modalities)
    loss_value, grads = _loss_and_grads(config, params, batch)
    assert loss_value == pytest.approx(ref_loss, rel=1e-5)
    assert _max_relative_error(grads, ref_grads) < 1e-5
    # The loss head's own parameters (temperature/bias/uncertainty weights) are included.
    head = grads['loss_head']
    assert all(np.abs(leaf).max() > 0 for leaf in jax.tree.leaves(head))


def test_naive_accumulation_is_a_different_objective():
  full_config = _config('joint', 'clip', 1)
  model = joint.build_model(joint.JointModelSpec.from_config(full_config))
  params = joint.init_params(model, jax.random.key(0), schema.dummy_batch(full_config, 2))
  batch = _random_batch(full_config)
  ref_loss, ref_grads = _loss_and_grads(full_config, params, batch)
  naive_loss, naive_grads = _loss_and_grads(_config('joint', 'clip', 4, 'naive'), params, batch)
  # Fewer negatives per softmax: the loss is lower and the gradient differs measurably.
  assert naive_loss < ref_loss - 0.1
  assert _max_relative_error(naive_grads, ref_grads) > 1e-2


def test_dropout_is_active_in_the_comparison():
  config = _config('joint', 'clip', 1)
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  params = joint.init_params(model, jax.random.key(0), schema.dummy_batch(config, 2))
  batch = {k: v for k, v in _random_batch(config).items() if k not in ('label', 'present')}
  embed = lambda rng: model.apply(
    {'params': params}, batch, train=True, rngs={'dropout': rng}, method='embed'
  )
  a, b = embed(jax.random.key(1)), embed(jax.random.key(2))
  assert not np.allclose(a['imu'], b['imu'])


def test_exact_accumulation_equals_full_batch_with_masked_reconstruction():
  """The per-example reconstruction sums ride along with the embeddings through GradCache."""

  def config(accum_steps):
    c = _config('joint', 'clip', accum_steps)
    c.model.imu_mask_ratio = 0.3
    return c

  model = joint.build_model(joint.JointModelSpec.from_config(config(1)))
  params = joint.init_params(model, jax.random.key(0), schema.dummy_batch(config(1), 2))
  batch = _random_batch(config(1))
  ref_loss, ref_grads = _loss_and_grads(config(1), params, batch)
  loss_value, grads = _loss_and_grads(config(4), params, batch)
  assert loss_value == pytest.approx(ref_loss, rel=1e-5)
  assert _max_relative_error(grads, ref_grads) < 1e-5
  head = grads['imu_encoder']['reconstruction_head']
  assert all(np.abs(leaf).max() > 0 for leaf in jax.tree.leaves(head))


@pytest.mark.parametrize('mode', ['exact', 'naive'])
def test_batch_labels_reach_the_loss_through_accumulation(mode):
  """`loss.text_negatives='other_activities'` reads `label`: the micro-batches must carry it."""

  def config(accum_steps, text_negatives):
    c = _config('joint', 'clip', accum_steps, mode)
    c.loss.text_negatives = text_negatives
    return c

  model = joint.build_model(joint.JointModelSpec.from_config(config(1, 'all')))
  params = joint.init_params(model, jax.random.key(0), schema.dummy_batch(config(1, 'all'), 2))
  batch = _random_batch(config(1, 'all'))
  # Four windows of each activity, spread so that naive accumulation's micro-batches (examples
  # i, i+4, i+8, i+12) hold same-activity windows too.
  batch['label'] = np.tile(np.arange(4, dtype=np.int32), 4)
  batch['present'][:] = True
  every, _ = _loss_and_grads(config(4, 'all'), params, batch)
  spared, grads = _loss_and_grads(config(4, 'other_activities'), params, batch)
  assert spared < every - 1e-3  # The labels arrived: same-activity texts left the softmaxes.
  if mode == 'exact':
    ref_loss, ref_grads = _loss_and_grads(config(1, 'other_activities'), params, batch)
    assert spared == pytest.approx(ref_loss, rel=1e-5)
    assert _max_relative_error(grads, ref_grads) < 1e-5
