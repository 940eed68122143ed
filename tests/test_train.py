"""The training system: a real step learns, resume is exact, multi-device equals one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import ml_collections
import numpy as np
import pytest

from mujo_jax import checkpoint, config_validation, sharding, train
from mujo_jax.data import datasets, pipeline, schema


def _first_batch(config):
  iterator = iter(pipeline.train_dataset(config, 0, 1))
  return next(iterator)


def test_batch_matches_schema(tiny_config):
  config = config_validation.resolve_pretrain_config(tiny_config)
  batch = _first_batch(config)
  spec = schema.batch_spec(config, config.batch_size)
  assert set(batch) == set(spec)
  for key, value in batch.items():
    assert value.shape == spec[key].shape, key
    assert value.dtype == spec[key].dtype, key
  assert batch['present'].sum(1).min() >= 2


def test_train_steps_lower_the_loss(tiny_config):
  config = config_validation.resolve_pretrain_config(tiny_config)
  config.optim.warmup_steps = 0
  config.optim.learning_rate = 3e-3
  config.total_steps = 100
  run = train.setup(config)  # The loop's own assembly (seed 0 in the tiny config).
  state, step = run.state, run.step_fn
  batch = sharding.global_batch(_first_batch(config), run.mesh)
  losses = []
  for _ in range(8):
    state, metrics = step(state, batch)
    losses.append(float(metrics['loss']))
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0] - 0.05, losses
  assert int(state.step) == 8
  pair_keys = [k for k in metrics if k.startswith('loss/')]
  assert len(pair_keys) == 6  # Every pair of 4 modalities is logged.


def _run(config, workdir, total_steps, evaluate=True):
  config = config.copy_and_resolve_references()
  config.total_steps = total_steps
  if not evaluate:  # Evaluators run after the last step and change no saved state.
    config.evals = ml_collections.ConfigDict()
  return train.train_and_evaluate(config, workdir)


@pytest.mark.slow
def test_resume_is_exact(tiny_config, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # 'straight' below is a relative workdir, as users type it.
  tiny_config.save_every_steps = 3
  tiny_config.log_every_steps = 3
  tiny_config.keep_checkpoints = 5
  tiny_config.data.num_workers = 1  # The iterator state must survive worker processes too.
  straight = _run(tiny_config, 'straight', 6, evaluate=False)
  _run(tiny_config, tmp_path / 'resumed', 3, evaluate=False)
  resumed = _run(tiny_config, tmp_path / 'resumed', 6)
  assert resumed['steps'] == straight['steps'] == 6
  assert resumed['final_loss'] == pytest.approx(straight['final_loss'], rel=1e-6)
  a = checkpoint.load_pretrained(tmp_path / 'straight').params
  resumed_checkpoint = checkpoint.load_pretrained(tmp_path / 'resumed')
  b = resumed_checkpoint.params
  # The checkpoint records the class names its texts described (zero-shot prompts by them).
  saved = resumed_checkpoint.config
  assert tuple(saved.data.activities) == datasets.corpus_config(saved).activities
  jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)
  # The saved input iterator state (the next batch to read) is the same.
  state_a = sorted((tmp_path / 'straight/checkpoints/6/data_iter').glob('*.json'))
  state_b = sorted((tmp_path / 'resumed/checkpoints/6/data_iter').glob('*.json'))
  assert state_a and [p.read_text() for p in state_a] == [p.read_text() for p in state_b]
  summary = json.loads((tmp_path / 'resumed/summary.json').read_text())
  for key in (
    'steps',
    'final_loss',
    'per_pair_loss',
    'params_global_norm',
    'wall_seconds',
    'probe/synthetic/test/imu/per_class=2/pretrained',
    'probe/synthetic/test/imu/per_class=2/random_init',
    'probe/synthetic/test/imu/fraction=1/pretrained',
  ):
    assert key in summary
  assert list((tmp_path / 'resumed').glob('events.out.tfevents*'))


_DEVICE_EQUALITY = textwrap.dedent("""
    import os, sys, json
    import jax, numpy as np
    jax.config.update('jax_disable_most_optimizations', True)
    from configs import pretrain
    from mujo_jax import accumulation, config_validation, sharding, train
    from mujo_jax.data import pipeline, schema
    from mujo_jax.models import joint
    config = pretrain.get_config('runlocal,batch_size=8')
    config.data.tfds_data_dir = sys.argv[1]
    config = config_validation.resolve_pretrain_config(config)
    model = joint.build_model(joint.JointModelSpec.from_config(config))
    local = next(iter(pipeline.train_dataset(config, 0, 1)))
    params = joint.init_params(model, jax.random.key(0), schema.dummy_batch(config, 2))
    tx = train.make_optimizer(config)
    results = {}
    for name, axes, devices in (('one', (('data', 1),), jax.devices()[:1]),
                                ('data4', (('data', 4),), jax.devices()),
                                ('data2_fsdp2', (('data', 2), ('fsdp', 2)), jax.devices())):
      mesh = sharding.make_mesh(axes, devices)
      batch = sharding.global_batch(local, mesh)
      placed = jax.device_put(params, sharding.tree_shardings(params, mesh,
                                                              config.sharding_rules))
      fn = jax.jit(lambda p, b: accumulation.loss_and_grads(model, config, p, b, 0,
                                                            jax.random.key(1)))
      loss, metrics, grads = fn(placed, batch)
      # The whole optimiser step, with the state sharded by the rules (FSDP on the 2x2 mesh).
      results[name] = (float(loss), jax.tree.map(np.asarray, grads))
      if name != 'data4':  # (data4 has the same parameter layout as one device.)
        state, shardings = train.create_state(model, tx, config, mesh, jax.random.key(0))
        if name == 'data2_fsdp2':
          specs = [s.spec for s in jax.tree.leaves(shardings.params)]
          assert any('fsdp' in spec for spec in specs), specs
        state, step_metrics = train.make_train_step(model, tx, config, mesh, shardings)(
            state, batch)
        results[name] += (float(step_metrics['loss']), jax.tree.map(np.asarray, state.params))
    ref_loss, ref_grads, ref_step_loss, ref_params = results['one']
    for name in ('data4', 'data2_fsdp2'):
      loss, grads = results[name][:2]
      assert abs(loss - ref_loss) <= 1e-5 * abs(ref_loss), (name, loss, ref_loss)
      for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        # fp32 sums in another order (per-device partial sums + psum): ~1e-6 of the leaf's
        # scale; a lost or doubled device share would be off by ~25 %.
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())
    # The whole step on the FSDP mesh (sharded params and optimiser state) equals one device's.
    step_loss, new_params = results['data2_fsdp2'][2:]
    assert abs(step_loss - ref_step_loss) <= 1e-5 * abs(ref_step_loss)
    for a, b in zip(jax.tree.leaves(new_params), jax.tree.leaves(ref_params)):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print('OK', len(jax.devices()))
""")


@pytest.mark.slow
def test_four_devices_equal_one(synthetic_data_dir):
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4', JAX_PLATFORMS='cpu')
  result = subprocess.run(
    [sys.executable, '-c', _DEVICE_EQUALITY, synthetic_data_dir],
    capture_output=True,
    text=True,
    timeout=300,
    env=env,
    cwd=Path(__file__).parents[1],
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'OK 4' in result.stdout
