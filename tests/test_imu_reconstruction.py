"""Masked IMU reconstruction (`model.imu_mask_ratio`) and warm starts (`init_from`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import traverse_util

from configs import pretrain
from mujo_jax import checkpoint, config_validation, train
from mujo_jax.data import schema
from mujo_jax.inference import Embedder
from mujo_jax.models import joint
from mujo_jax.models.imu import STANDARD_GRAVITY

RATIO = 0.3


def _config(mask_ratio: float, weight: float = 1.0):
  config = pretrain.get_config('size=tiny,batch_size=16,modalities=imu+pose+text,corpus=wearables')
  config.model.imu_mask_ratio = mask_ratio
  config.loss.imu_reconstruction_weight = weight
  return config_validation.resolve_pretrain_config(config)


def _model(config):
  return joint.build_model(joint.JointModelSpec.from_config(config))


def _params(config, seed: int = 0):
  return joint.init_params(_model(config), jax.random.key(seed), schema.dummy_batch(config, 2))


def _batch(config, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  batch = dict(schema.dummy_batch(config, config.batch_size))
  batch = {k: np.array(v) for k, v in batch.items()}
  batch['imu'] = rng.normal(size=batch['imu'].shape).astype(np.float32)
  batch['imu_sites'] = np.ones(batch['imu_sites'].shape, bool)
  batch['pose'] = rng.normal(size=batch['pose'].shape).astype(np.float32)
  batch['text'] = rng.integers(3, 100, batch['text'].shape, dtype=np.int32)
  return batch


def _embed(config, params, batch, *, train=True, ids=None, rng=1):
  return jax.jit(
    lambda p, b: _model(config).apply(
      {'params': p},
      b,
      train=train,
      example_ids=ids,
      rngs={'dropout': jax.random.key(rng)},
      method='embed',
    )
  )(params, batch)


def test_mask_ratio_zero_adds_no_parameters_and_no_reconstruction():
  config = _config(0.0)
  params = _params(config)
  assert {'mask_token', 'reconstruction_head'}.isdisjoint(params['imu_encoder'])
  assert set(_embed(config, params, _batch(config))) == {'imu', 'pose', 'text'}


def test_evaluation_embedding_ignores_the_mask_token_and_the_head():
  """Evaluation (train=False) is the encoder without reconstruction: the Embedder's path."""
  with_head = _params(_config(RATIO))
  assert {'mask_token', 'reconstruction_head'} <= set(with_head['imu_encoder'])
  plain = jax.tree.map(lambda x: x, with_head)
  for key in ('mask_token', 'reconstruction_head'):
    del plain['imu_encoder'][key]
  batch = _batch(_config(RATIO))
  a = _embed(_config(RATIO), with_head, batch, train=False)
  b = _embed(_config(0.0), plain, batch, train=False)
  assert set(a) == {'imu', 'pose', 'text'}
  np.testing.assert_array_equal(np.asarray(a['imu']), np.asarray(b['imu']))


def test_reconstruction_error_is_in_g_and_rad_per_s():
  """A zero head predicts 0, so each masked value's error is its target²: acc in g, gyro rad/s."""
  config = _config(RATIO)
  params = _params(config)
  head = params['imu_encoder']['reconstruction_head']
  params['imu_encoder']['reconstruction_head'] = jax.tree.map(jnp.zeros_like, head)
  batch = _batch(config)
  acc, gyr = 9.80665, 2.0  # 1 g on every acc axis, 2 rad/s on every gyro axis.
  batch['imu'][..., :3] = acc
  batch['imu'][..., 3:] = gyr
  error, count = np.asarray(_embed(config, params, batch)[joint.RECONSTRUCTION_KEY]).sum(0)
  assert count > 0
  expected = ((acc / STANDARD_GRAVITY) ** 2 + gyr**2) / 2  # Mean over 3 acc + 3 gyro values.
  assert error / count == pytest.approx(expected, rel=1e-5)


def test_masks_cover_the_ratio_of_present_tokens_only_and_replay_per_example():
  config = _config(RATIO)
  params = _params(config)
  batch = _batch(config)
  sites = batch['imu_sites'].shape[1]
  batch['imu_sites'][0] = False  # No site: nothing to mask.
  batch['imu_sites'][1, 1:] = False  # One site.
  batch['imu'][0] = np.nan  # Absent sites' input must not leak (zeroed first).
  out = np.asarray(_embed(config, params, batch)[joint.RECONSTRUCTION_KEY])
  assert np.isfinite(out).all()
  values = config.model.imu_patch * 6
  patches = batch['imu'].shape[1] // config.model.imu_patch
  tokens = out[:, 1] / values
  np.testing.assert_array_equal(tokens, np.round(tokens))
  assert tokens[0] == 0 and out[0, 0] == 0
  assert tokens[1] <= patches
  share = tokens[2:].sum() / ((len(tokens) - 2) * sites * patches)
  assert abs(share - RATIO) < 0.06
  # The mask of an example depends on (rng, its example id), not on its place in the batch:
  # exact accumulation's two passes and its micro-batches mask alike.
  ids = np.arange(len(tokens), dtype=np.int32)
  again = _embed(config, params, batch, ids=ids)[joint.RECONSTRUCTION_KEY]
  np.testing.assert_array_equal(np.asarray(again), out)
  half = {k: v[1::2] for k, v in batch.items()}
  part = _embed(config, params, half, ids=ids[1::2])[joint.RECONSTRUCTION_KEY]
  np.testing.assert_array_equal(np.asarray(part), out[1::2])
  other = _embed(config, params, batch, rng=2)[joint.RECONSTRUCTION_KEY]
  assert not np.array_equal(np.asarray(other)[2:, 1], out[2:, 1])


def test_loss_adds_the_weighted_mean_squared_error():
  batch = _batch(_config(RATIO))
  present = np.ones((len(batch['imu']), 3), bool)
  totals = {}
  for weight in (0.0, 1.0, 2.5):
    config = _config(RATIO, weight)
    model = _model(config)
    params = _params(config)
    embeddings = _embed(config, params, batch)
    total, metrics = model.apply({'params': params}, embeddings, present, 0, None, method='loss')
    error, count = np.asarray(embeddings[joint.RECONSTRUCTION_KEY]).sum(0)
    reconstruction = float(metrics[f'{joint.RECONSTRUCTION_KEY}_loss'])
    assert reconstruction == pytest.approx(error / count, rel=1e-5)
    totals[weight] = float(total)
  assert totals[1.0] - totals[0.0] == pytest.approx(reconstruction, rel=1e-4)
  assert totals[2.5] - totals[0.0] == pytest.approx(2.5 * reconstruction, rel=1e-4)
  # Examples whose IMU is absent (`present` False) add nothing to the term.
  present[::2, 0] = False
  _, metrics = model.apply({'params': params}, embeddings, present, 0, None, method='loss')
  error, count = np.asarray(embeddings[joint.RECONSTRUCTION_KEY])[1::2].sum(0)
  odd_only = float(metrics[f'{joint.RECONSTRUCTION_KEY}_loss'])
  assert odd_only == pytest.approx(error / count, rel=1e-5)


def test_reconstruction_gradient_reaches_the_encoder():
  config = _config(RATIO)
  model = _model(config)
  params = _params(config)
  batch = _batch(config)

  def reconstruction(p):
    error, count = model.apply(
      {'params': p}, batch, train=True, rngs={'dropout': jax.random.key(1)}, method='embed'
    )[joint.RECONSTRUCTION_KEY].sum(0)
    return error / count

  grads = jax.grad(reconstruction)(params)['imu_encoder']
  for key in ('mask_token', 'reconstruction_head', 'patch_embed', 'transformer'):
    assert any(np.abs(g).max() > 0 for g in jax.tree.leaves(grads[key])), key


def test_mask_ratio_needs_the_imu_modality():
  config = pretrain.get_config('size=tiny,modalities=pose+text,corpus=wearables')
  config.model.imu_mask_ratio = 0.15
  with pytest.raises(ValueError, match='needs "imu" among the modalities'):
    config_validation.resolve_pretrain_config(config)


# ------------------------------------------------------------------------------ warm start


def test_warm_start_takes_every_shared_leaf_and_keeps_the_new_ones():
  source_config = _config(0.0)
  source = checkpoint.Pretrained(
    config=source_config, params=jax.device_get(_params(source_config, 5)), step=7, workdir='A'
  )
  target = _params(_config(RATIO), 0)
  started, kept, unused = checkpoint.warm_start_params(target, source)
  assert kept == [
    'imu_encoder/mask_token',
    'imu_encoder/reconstruction_head/bias',
    'imu_encoder/reconstruction_head/kernel',
  ]
  assert unused == []
  new, given = (traverse_util.flatten_dict(p, sep='/') for p in (target, source.params))
  for path, value in traverse_util.flatten_dict(started, sep='/').items():
    expected = new[path] if path in kept else given[path]
    np.testing.assert_array_equal(np.asarray(value), np.asarray(expected))

  wider = _config(0.0)
  wider.model.width = 64
  wider_source = checkpoint.Pretrained(
    config=wider, params=jax.device_get(_params(wider)), step=1, workdir='B'
  )
  with pytest.raises(ValueError, match=r'init_from=B: parameters of another shape: .*kernel'):
    checkpoint.warm_start_params(target, wider_source)


@pytest.mark.slow
def test_init_from_at_a_negligible_learning_rate_keeps_the_source(tiny_config, tmp_path):
  tiny_config.evals = ml_collections.ConfigDict()
  tiny_config.total_steps = 2
  train.train_and_evaluate(tiny_config, tmp_path / 'A')
  source = checkpoint.load_pretrained(tmp_path / 'A')
  tiny_config.init_from = str(tmp_path / 'A')
  tiny_config.seed = 3  # Another initialisation: only the warm start can make them equal.
  tiny_config.model.imu_mask_ratio = 0.25
  tiny_config.optim.learning_rate = 1e-12  # The config wants > 0; the steps then move nothing.
  summary = train.train_and_evaluate(tiny_config, tmp_path / 'B')
  assert np.isfinite(summary['final_loss'])
  started = traverse_util.flatten_dict(checkpoint.load_pretrained(tmp_path / 'B').params, sep='/')
  # Every source leaf unchanged (AdamW's steps and weight decay are ~1e-12 of a unit).
  for path, value in traverse_util.flatten_dict(source.params, sep='/').items():
    np.testing.assert_allclose(started[path], value, rtol=0, atol=1e-9)
  assert 'imu_encoder/mask_token' in started
  # A checkpoint with the reconstruction head embeds like any other (evaluation mode).
  embedder = Embedder.from_checkpoint(tmp_path / 'B')
  still = np.zeros((embedder.window_samples('imu'), 6), np.float32)
  still[:, 2] = STANDARD_GRAVITY
  vector = embedder.embed_imu(still, embedder.rates['imu'], ('left_wrist',))
  assert vector.shape == (embedder.embed_dim,) and np.isfinite(vector).all()


def test_init_from_a_missing_workdir_fails_before_training(tiny_config, tmp_path):
  tiny_config.init_from = str(tmp_path / 'nowhere')
  with pytest.raises(FileNotFoundError, match='nowhere/config.json not found'):
    train.train_and_evaluate(tiny_config, tmp_path / 'run')
  assert not list((tmp_path / 'run' / checkpoint.CHECKPOINTS_DIR).glob('*'))
