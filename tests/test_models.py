"""Encoders, the joint model and the byte tokenizer: shapes, masking, normalisation, dropout."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mujo_jax.facts.tokenizer import BOS_ID, EOS_ID, ByteTokenizer
from mujo_jax.models import config as model_config
from mujo_jax.models import joint
from mujo_jax.models.imu import ImuEncoder
from mujo_jax.models.pose import PoseEncoder
from mujo_jax.models.text import TextEncoder
from mujo_jax.models.transformer import TransformerConfig
from mujo_jax.models.video import VideoEncoder

TINY = TransformerConfig(width=16, depth=1, num_heads=2, mlp_dim=32)
BATCH = 3


def _init_apply(module, *args, train=False, rngs=None, **kwargs):
  """Jitted init + apply (eager flax init is slower than compiling these tiny graphs)."""
  variables = jax.jit(functools.partial(module.init, train=False, **kwargs))(
    jax.random.key(0), *args
  )
  return variables, jax.jit(functools.partial(module.apply, train=train, rngs=rngs, **kwargs))


# ------------------------------------------------------------------------------ tokenizer


def test_tokenizer_round_trip_and_layout():
  tokenizer = ByteTokenizer(12)
  ids = tokenizer.encode('squat é')
  assert ids.dtype == np.int32 and ids.shape == (12,)
  assert ids[0] == BOS_ID and tokenizer.decode(ids) == 'squat é'
  assert ids[1] == ord('s') + 3
  assert ids[1 + len('squat é'.encode())] == EOS_ID and not ids[10:].any()
  assert tokenizer.vocab_size == 259
  batch = tokenizer.encode_batch(['a', 'bb'])
  assert batch.shape == (2, 12) and tokenizer.decode(batch[1]) == 'bb'


def test_tokenizer_truncation_keeps_eos_and_whole_characters():
  tokenizer = ByteTokenizer(6)
  ids = tokenizer.encode('abcdefgh')
  assert ids[-1] == EOS_ID and tokenizer.decode(ids) == 'abcd'
  # 'abcé' is 5 bytes; only 4 fit, and half of 'é' must not be emitted.
  assert tokenizer.decode(tokenizer.encode('abcé')) == 'abc'
  with pytest.raises(ValueError, match='max_len'):
    ByteTokenizer(1)
  with pytest.raises(ValueError, match='ids must lie'):
    tokenizer.decode([300])


# ------------------------------------------------------------------------------ encoders


def _imu(seed=0, sites=4, time=50):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(BATCH, time, sites, 6)).astype(np.float32)


def test_imu_encoder_shape_and_absent_site_invariance():
  encoder = ImuEncoder(TINY, site_ids=(3, 0, 7, 5), patch_len=10, num_site_ids=64)
  imu = _imu()
  site_mask = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], bool)
  variables, apply = _init_apply(encoder, imu, site_mask)
  out = apply(variables, imu, site_mask)
  assert out.shape == (BATCH, TINY.width) and out.dtype == jnp.float32
  assert np.isfinite(np.asarray(out)).all()  # Example 2 has no site at all.

  changed = imu.copy()
  changed[1, :, 1] = 100.0  # Absent sites of example 1 ...
  changed[1, :, 3] = np.nan  # ... even NaN.
  np.testing.assert_allclose(apply(variables, changed, site_mask), out, rtol=1e-6, atol=1e-6)

  changed_present = imu.copy()
  changed_present[1, :, 2] += 1.0  # A present site: must change example 1 only.
  moved = np.asarray(apply(variables, changed_present, site_mask))
  assert np.abs(moved[1] - out[1]).max() > 1e-3
  np.testing.assert_allclose(moved[0], out[0], rtol=1e-6, atol=1e-6)

  # Absent = not given: the same example seen by an encoder configured without those sites.
  subset = ImuEncoder(TINY, site_ids=(3, 7), patch_len=10, num_site_ids=64)
  out_subset = subset.apply(variables, imu[:, :, [0, 2]], site_mask[:, [0, 2]], train=False)
  np.testing.assert_allclose(out_subset[1], out[1], rtol=1e-5, atol=1e-6)


def test_imu_magnitude_channels_are_the_norms_of_acc_and_gyr():
  """With only the |acc|, |gyr| rows of the patch embedding kept, rotating the sensor (acc and
  gyr by one rotation, as re-mounting a watch does) leaves the embedding unchanged; with only
  the axis rows kept it does not. Fails if the appended channels are not rotation-invariant."""
  encoder = ImuEncoder(TINY, site_ids=(0, 1), patch_len=10, num_site_ids=64, magnitudes=True)
  imu = _imu(sites=2)
  site_mask = np.ones((BATCH, 2), bool)
  variables, apply = _init_apply(encoder, imu, site_mask)
  kernel = np.asarray(variables['params']['patch_embed']['kernel'])
  assert kernel.shape == (10 * 8, TINY.width)  # 8 channels a sample: 6 axes + 2 norms.
  rows = np.arange(kernel.shape[0]) % 8
  rotation = Rotation.from_rotvec([0.3, -1.1, 2.0]).as_matrix().astype(np.float32)
  rotated = imu.copy()
  rotated[..., :3] = imu[..., :3] @ rotation.T
  rotated[..., 3:] = imu[..., 3:] @ rotation.T

  def embed(keep_rows, x):
    params = jax.tree.map(np.asarray, variables['params'])
    params['patch_embed']['kernel'] = np.where(keep_rows[:, None], kernel, 0.0)
    return np.asarray(apply({'params': params}, x, site_mask))

  norms_only = rows >= 6
  np.testing.assert_allclose(embed(norms_only, rotated), embed(norms_only, imu), atol=1e-5)
  axes_only = rows < 6
  assert np.abs(embed(axes_only, rotated) - embed(axes_only, imu)).max() > 1e-2


def test_imu_encoder_rejects_bad_inputs():
  encoder = ImuEncoder(TINY, site_ids=(0, 1, 2, 3), patch_len=10, num_site_ids=64)
  with pytest.raises(ValueError, match='not a multiple of imu_patch'):
    encoder.init(jax.random.key(0), _imu(time=45), np.ones((BATCH, 4), bool), train=False)
  with pytest.raises(ValueError, match='site_ids has 4'):
    encoder.init(jax.random.key(0), _imu(sites=3), np.ones((BATCH, 3), bool), train=False)
  with pytest.raises(ValueError, match='num_site_ids'):
    ImuEncoder(TINY, site_ids=(0, 1, 2, 99), patch_len=10, num_site_ids=64).init(
      jax.random.key(0), _imu(), np.ones((BATCH, 4), bool), train=False
    )


def test_pose_encoder_shape():
  pose = np.random.default_rng(1).normal(size=(BATCH, 20, 17, 3)).astype(np.float32)
  variables, apply = _init_apply(PoseEncoder(TINY, patch_len=5), pose)
  assert apply(variables, pose).shape == (BATCH, TINY.width)
  with pytest.raises(ValueError, match='pose_patch'):
    PoseEncoder(TINY, patch_len=6).init(jax.random.key(0), pose, train=False)


def test_video_encoder_frames_and_features():
  frames = np.random.default_rng(2).integers(0, 256, (BATCH, 10, 16, 16, 1)).astype(np.uint8)
  encoder = VideoEncoder(TINY, input_kind='frames', tubelet=(5, 8, 8))
  variables, apply = _init_apply(encoder, frames)
  assert apply(variables, frames).shape == (BATCH, TINY.width)
  assert variables['params']['space_embed'].shape == (4, TINY.width)

  features = np.random.default_rng(3).normal(size=(BATCH, 7, 24)).astype(np.float32)
  feature_encoder = VideoEncoder(TINY, input_kind='features', tubelet=(5, 8, 8))
  variables, apply = _init_apply(feature_encoder, features)
  assert apply(variables, features).shape == (BATCH, TINY.width)
  with pytest.raises(ValueError, match='video_tubelet'):
    encoder.init(jax.random.key(0), frames[:, :9], train=False)


def test_text_encoder_ignores_padding():
  tokenizer = ByteTokenizer(16)
  tokens = tokenizer.encode_batch(['squats', 'jumping jacks', ''])
  encoder = TextEncoder(TINY, max_len=32)
  variables, apply = _init_apply(encoder, tokens)
  out = apply(variables, tokens)
  assert out.shape == (BATCH, TINY.width)
  padded = np.pad(tokens, ((0, 0), (0, 16)))  # Same texts, 16 more padding tokens.
  np.testing.assert_allclose(apply(variables, padded), out, rtol=1e-5, atol=1e-6)
  empty = np.zeros_like(tokens)  # Nothing but padding: finite.
  assert np.isfinite(np.asarray(apply(variables, empty))).all()
  other = tokens.copy()
  other[0, 2] += 1
  assert np.abs(np.asarray(apply(variables, other))[0] - out[0]).max() > 1e-4
  with pytest.raises(ValueError, match='exceed the maximum'):
    encoder.init(jax.random.key(0), np.ones((1, 40), np.int32), train=False)


# ------------------------------------------------------------------------------ joint model


def _config(**model_overrides) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.modalities = ('imu', 'pose', 'text', 'video')
  config.model = ml_collections.ConfigDict(
    dict(
      size='tiny',
      width=None,
      depth=None,
      num_heads=None,
      mlp_dim=None,
      embed_dim=None,
      dropout_rate=None,
      dtype='float32',
      imu_patch=10,
      pose_patch=5,
      video_tubelet=(5, 8, 8),
      video_input='frames',
      text_max_len=16,
    )
  )
  config.model.update(model_overrides)
  config.data = ml_collections.ConfigDict(dict(imu_site_ids=(0, 1, 2)))
  config.loss = ml_collections.ConfigDict(dict(type='clip'))
  config.multitask = ml_collections.ConfigDict(
    dict(strategy='joint', pairs='all', pair_weights=None, anchor='')
  )
  return config


def _batch(seed=0, batch=4):
  rng = np.random.default_rng(seed)
  return {
    'imu': rng.normal(size=(batch, 20, 3, 6)).astype(np.float32),
    'imu_sites': np.ones((batch, 3), bool),
    'pose': rng.normal(size=(batch, 10, 17, 3)).astype(np.float32),
    'video': rng.integers(0, 256, (batch, 10, 16, 16, 1)).astype(np.uint8),
    'text': ByteTokenizer(16).encode_batch([f'activity {i}' for i in range(batch)]),
    'present': np.ones((batch, 4), bool),
  }


@pytest.fixture(scope='module')
def dropout_model():
  model = joint.build_model(joint.JointModelSpec.from_config(_config(dropout_rate=0.5)))
  batch = _batch()
  variables = {
    'params': jax.jit(lambda rng: joint.init_params(model, rng, batch))(jax.random.key(0))
  }
  embed = jax.jit(
    lambda v, b, train, rng, ids=None: model.apply(
      v, b, train=train, example_ids=ids, rngs={'dropout': rng}, method='embed'
    ),
    static_argnums=2,
  )
  return model, variables, embed, batch


def test_joint_embed_is_normalised_per_modality(dropout_model):
  model, variables, embed, batch = dropout_model
  embeddings = embed(variables, batch, False, jax.random.key(0))
  assert set(embeddings) == {'imu', 'pose', 'text', 'video'}
  for z in embeddings.values():
    assert z.shape == (4, 32) and z.dtype == jnp.float32
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), 1.0, rtol=1e-5)
  # One modality's data never moves another's embedding.
  changed = dict(batch, video=255 - batch['video'])
  moved = embed(variables, changed, False, jax.random.key(0))
  np.testing.assert_array_equal(moved['imu'], embeddings['imu'])
  assert np.abs(moved['video'] - embeddings['video']).max() > 1e-4
  params = variables['params']
  assert {'imu_encoder', 'imu_head', 'loss_head'} <= set(params)
  assert params['loss_head']['logit_scale'].shape == ()
  with pytest.raises(ValueError, match="lacks \\['pose'\\]"):
    model.apply(variables, {k: v for k, v in batch.items() if k != 'pose'}, method='embed')


def test_dropout_is_explicit_deterministic_and_per_example(dropout_model):
  _, variables, embed, batch = dropout_model
  first = embed(variables, batch, True, jax.random.key(1))
  again = embed(variables, batch, True, jax.random.key(1))
  other = embed(variables, batch, True, jax.random.key(2))
  evaluation = embed(variables, batch, False, jax.random.key(1))
  for modality in first:
    np.testing.assert_array_equal(first[modality], again[modality])
    assert np.abs(first[modality] - other[modality]).max() > 1e-3
    assert np.abs(first[modality] - evaluation[modality]).max() > 1e-3
  # A micro-batch with the global ids of its examples draws the full batch's masks.
  ids = np.array([1, 3], np.int32)
  half = embed(variables, jax.tree.map(lambda x: x[ids], batch), True, jax.random.key(1), ids)
  for modality in first:
    np.testing.assert_allclose(half[modality], first[modality][ids], rtol=1e-5, atol=1e-6)


def test_joint_loss_metrics_and_bfloat16():
  config = _config(dtype='bfloat16')
  config.loss.type = 'siglip'
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  batch = _batch()
  variables = {
    'params': jax.jit(lambda rng: joint.init_params(model, rng, batch))(jax.random.key(0))
  }
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables))
  assert set(variables['params']['loss_head']) == {'t', 'b'}
  total, metrics = jax.jit(
    lambda v, b: model.apply(v, model.apply(v, b, method='embed'), b['present'], method='loss')
  )(variables, batch)
  pair_losses = [metrics[f'loss/{name}'] for name in model.pair_names]
  assert len(pair_losses) == 6 and np.isfinite(total)
  np.testing.assert_allclose(total, sum(pair_losses), rtol=1e-5)
  assert metrics['siglip_bias'] == -10.0


def test_joint_model_reads_forearm_pronation_only_with_pose_forearm_roll():
  config = _config(pose_forearm_roll=True)
  config.modalities = ('imu', 'pose')
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  batch = {k: v for k, v in _batch().items() if k in ('imu', 'imu_sites', 'pose')}
  params = jax.jit(lambda rng: joint.init_params(model, rng, batch))(jax.random.key(0))
  assert params['pose_encoder']['forearm_roll_embed']['kernel'].shape[0] == 2
  embed = jax.jit(lambda b: model.apply({'params': params}, b, method='embed'))
  pronation_key, present_key = joint.OPTIONAL_BATCH_KEYS['pose']
  pronation = np.random.default_rng(1).uniform(-1, 1, (4, 10, 2)).astype(np.float32)
  without = embed(batch)
  absent = embed(dict(batch, **{pronation_key: pronation, present_key: np.zeros(4, bool)}))
  present = embed(dict(batch, **{pronation_key: pronation, present_key: np.ones(4, bool)}))
  np.testing.assert_allclose(absent['pose'], without['pose'], rtol=1e-6, atol=1e-6)
  assert np.abs(present['pose'] - without['pose']).max() > 1e-3
  np.testing.assert_array_equal(present['imu'], without['imu'])
  # Without the flag the keys are not read and no roll parameters exist.
  plain = joint.build_model(joint.JointModelSpec.from_config(_config()))
  plain_params = joint.init_params(plain, jax.random.key(0), _batch())
  assert 'forearm_roll_embed' not in plain_params['pose_encoder']
  # The batch schema writes the keys the model reads.
  from mujo_jax.data import schema

  assert joint.OPTIONAL_BATCH_KEYS['pose'] == (
    schema.FOREARM_PRONATION,
    schema.FOREARM_PRONATION_PRESENT,
  )


@pytest.mark.parametrize(
  'key,value,message',
  [
    ('size', 'huge', 'model.size'),
    ('dtype', 'float16', 'model dtype'),
    ('video_input', 'pixels', 'video_input'),
    ('num_heads', 5, 'not divisible'),
    ('video_tubelet', (5, 8), 'video_tubelet'),
  ],
)
def test_build_model_rejects_bad_config(key, value, message):
  with pytest.raises(ValueError, match=message):
    joint.build_model(joint.JointModelSpec.from_config(_config(**{key: value})))


def test_build_model_maps_site_names():
  config = _config()
  del config.data['imu_site_ids']
  config.data.imu_sites = ('head', 'left_wrist')
  from mujo_jax.facts import sites as sites_lib

  model = joint.build_model(joint.JointModelSpec.from_config(config))
  assert model.imu_site_ids == (sites_lib.SITES.index('head'), 0)
  config.data.imu_sites = ('left_elbow_typo',)
  with pytest.raises(ValueError, match=r"data.imu_sites=.*unknown \['left_elbow_typo'\]"):
    joint.build_model(joint.JointModelSpec.from_config(config))


def test_embed_of_some_modalities_equals_the_full_embed(dropout_model):
  model, variables, embed, batch = dropout_model
  imu_only = {k: batch[k] for k in ('imu', 'imu_sites')}
  for train in (False, True):  # Dropout masks too: they depend on (rng, example, layer) only.
    full = embed(variables, batch, train, jax.random.key(4))
    subset = model.apply(
      variables,
      imu_only,
      train=train,
      modalities=('imu',),
      rngs={'dropout': jax.random.key(4)},
      method='embed',
    )
    assert set(subset) == {'imu'}
    np.testing.assert_allclose(subset['imu'], full['imu'], rtol=1e-6, atol=1e-6)
  pair = model.apply(variables, batch, modalities=('text', 'pose'), method='embed')
  reference = embed(variables, batch, False, jax.random.key(0))
  np.testing.assert_allclose(pair['text'], reference['text'], rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="lacks \\['pose'\\]"):
    model.apply(variables, imu_only, modalities=('imu', 'pose'), method='embed')
  with pytest.raises(ValueError, match='not in the model'):
    model.apply(variables, batch, modalities=('audio',), method='embed')


# The parameter tree that checkpoints hold, for `_config()` and `_batch()`: leaves outside the
# transformer stacks (path, shape), then the one layout every encoder's stack has. A change here
# breaks every saved checkpoint.
_ENCODER_LEAVES = {
  'imu_encoder': {
    'patch_embed/bias': (32,),
    'patch_embed/kernel': (60, 32),
    'site_embed/embedding': (64, 32),
    'time_embed': (64, 32),
  },
  'pose_encoder': {
    'joint_embed/bias': (32,),
    'joint_embed/kernel': (51, 32),
    'patch_embed/bias': (32,),
    'patch_embed/kernel': (160, 32),
    'time_embed': (64, 32),
  },
  'text_encoder': {'position_embed': (16, 32), 'token_embed/embedding': (259, 32)},
  'video_encoder': {
    'space_embed': (4, 32),
    'time_embed': (64, 32),
    'tubelet_embed/bias': (32,),
    'tubelet_embed/kernel': (320, 32),
  },
}
_STACK_LEAVES = {
  'block_0/attn_norm/bias': (32,),
  'block_0/attn_norm/scale': (32,),
  'block_0/attn_out/bias': (32,),
  'block_0/attn_out/kernel': (32, 32),
  'block_0/mlp_in/bias': (64,),
  'block_0/mlp_in/kernel': (32, 64),
  'block_0/mlp_norm/bias': (32,),
  'block_0/mlp_norm/scale': (32,),
  'block_0/mlp_out/bias': (32,),
  'block_0/mlp_out/kernel': (64, 32),
  'block_0/qkv/bias': (96,),
  'block_0/qkv/kernel': (32, 96),
  'final_norm/bias': (32,),
  'final_norm/scale': (32,),
}
# Σ x² of each top-level module's initial values from key(0): the initialisation's random
# streams are unchanged too (the evaluation's random-init baseline depends on them).
_SUM_OF_SQUARES = {
  'imu_encoder': 350.6073,
  'imu_head': 33.3809,
  'loss_head': 7.0717,
  'pose_encoder': 382.982,
  'pose_head': 33.5484,
  'text_encoder': 318.3598,
  'text_head': 34.2848,
  'video_encoder': 357.7234,
  'video_head': 31.4545,
}


def test_init_params_tree_is_the_checkpoint_layout():
  model = joint.build_model(joint.JointModelSpec.from_config(_config()))
  params = jax.jit(lambda rng: joint.init_params(model, rng, _batch()))(jax.random.key(0))
  leaves = {
    '/'.join(str(k.key) for k in path): tuple(leaf.shape)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
  }
  expected = {'loss_head/logit_scale': ()}
  for encoder, own in _ENCODER_LEAVES.items():
    expected.update({f'{encoder}/{k}': v for k, v in own.items()})
    expected.update({f'{encoder}/transformer/{k}': v for k, v in _STACK_LEAVES.items()})
    head = encoder.replace('_encoder', '_head')
    expected.update({f'{head}/bias': (32,), f'{head}/kernel': (32, 32)})
  assert leaves == expected
  sums = {
    name: float(sum(np.sum(np.square(np.asarray(x, np.float64))) for x in jax.tree.leaves(tree)))
    for name, tree in params.items()
  }
  assert sums == pytest.approx(_SUM_OF_SQUARES, rel=1e-4)


def test_spec_from_config_and_typed_spec_build_the_same_model():
  config = _config(width=64, num_heads=4)
  from_config = joint.JointModelSpec.from_config(config)
  typed = joint.JointModelSpec(
    modalities=('imu', 'pose', 'text', 'video'),
    imu_site_ids=(0, 1, 2),
    model=model_config.ModelConfig(
      size='tiny',
      width=64,
      num_heads=4,
      imu_patch=10,
      pose_patch=5,
      video_tubelet=(5, 8, 8),
      text_max_len=16,
    ),
  )
  assert from_config == typed
  model = joint.build_model(typed)
  assert model.transformer.width == 64 and model.transformer.num_heads == 4
  assert model.transformer.depth == 1 and model.embed_dim == 32  # The tiny preset's.
  # Keys a config lacks take the dataclass default; unknown keys are rejected by name.
  assert model_config.ModelConfig().video_tubelet == (5, 16, 16)
  config.model.widht = 3
  with pytest.raises(ValueError, match=r"config.model has unknown keys \['widht'\]"):
    joint.JointModelSpec.from_config(config)
  with pytest.raises(ValueError, match='data.imu_site_ids'):
    joint.JointModelSpec(modalities=('imu', 'text'))
  with pytest.raises(ValueError, match=r'data.imu_site_ids=\(0, 0\)'):
    joint.JointModelSpec(modalities=('imu', 'text'), imu_site_ids=(0, 0))
  with pytest.raises(ValueError, match='model.imu_patch=0'):
    model_config.ModelConfig(imu_patch=0)
  with pytest.raises(ValueError, match='model.attention'):
    model_config.ModelConfig(attention='flash')


def test_remat_transformer_matches_plain():
  from mujo_jax.models.transformer import Transformer

  tokens = np.random.default_rng(5).normal(size=(2, 6, 16)).astype(np.float32)
  mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
  config = TransformerConfig(width=16, depth=2, num_heads=2, mlp_dim=32, dropout_rate=0.2)
  plain, remat = Transformer(config), Transformer(dataclasses.replace(config, remat=True))
  variables = jax.jit(functools.partial(plain.init, train=False))(jax.random.key(0), tokens, mask)
  target = np.random.default_rng(6).normal(size=tokens.shape).astype(np.float32)

  def loss(module, v):
    out = module.apply(v, tokens, mask, train=True, rngs={'dropout': jax.random.key(3)})
    return jnp.sum(out * target)  # Not |out|²: LayerNorm makes that nearly constant.

  value, grads = jax.jit(jax.value_and_grad(functools.partial(loss, plain)))(variables)
  value_remat, grads_remat = jax.jit(jax.value_and_grad(functools.partial(loss, remat)))(variables)
  np.testing.assert_allclose(value_remat, value, rtol=1e-5)
  for g, g_remat in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_remat), strict=True):
    np.testing.assert_allclose(g_remat, g, rtol=1e-4, atol=1e-6)


def test_einsum_attention_matches_dot_product_attention():
  from mujo_jax.models.transformer import attention

  rng = np.random.default_rng(7)
  query, key, value = (rng.normal(size=(3, 5, 2, 4)).astype(np.float32) for _ in range(3))
  mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)  # Row 2: no key.
  for key_mask in (mask, None):

    def loss(q, k, v, impl, key_mask=key_mask):
      return jnp.sum(attention(q, k, v, key_mask, impl) * value)

    expected = jax.value_and_grad(loss, argnums=(0, 1, 2))(query, key, value, 'xla')
    got = jax.value_and_grad(loss, argnums=(0, 1, 2))(query, key, value, 'einsum')
    for e, g in zip(jax.tree.leaves(expected), jax.tree.leaves(got), strict=True):
      np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def _reference_block(params, x, mask, num_heads):
  """The block written out on (B, N, width) with the (…, 3, H, D) QKV layout: the plain maths."""

  def layer_norm(y, p):
    mean = y.mean(-1, keepdims=True)
    var = ((y - mean) ** 2).mean(-1, keepdims=True)
    return (y - mean) / jnp.sqrt(var + 1e-6) * p['scale'] + p['bias']

  def dense(y, p):
    return jnp.einsum('bnk,kf->bnf', y, p['kernel']) + p['bias']

  batch, length, width = x.shape
  qkv = dense(layer_norm(x, params['attn_norm']), params['qkv'])
  qkv = qkv.reshape(batch, length, 3, num_heads, width // num_heads)
  attended = jax.nn.dot_product_attention(
    qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], mask=mask[:, None, None, :]
  )
  x = x + dense(attended.reshape(batch, length, width), params['attn_out'])
  hidden = jax.nn.gelu(dense(layer_norm(x, params['mlp_norm']), params['mlp_in']), approximate=True)
  return x + dense(hidden, params['mlp_out'])


def test_block_matches_reference_maths():
  # The block runs its token-wise layers on flattened tokens and splits the fused QKV: the
  # same values and gradients as the textbook (B, N, width) formulation with the same params.
  from mujo_jax.models.transformer import Block

  rng = np.random.default_rng(8)
  tokens = rng.normal(size=(3, 7, 16)).astype(np.float32)
  mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [1, 0, 1, 0, 1, 0, 1]], bool)
  config = TransformerConfig(width=16, depth=1, num_heads=4, mlp_dim=24)
  block = Block(config)
  ids = jnp.arange(3)
  variables = block.init(jax.random.key(1), tokens, mask, ids, False)
  variables = jax.tree.map(  # Non-trivial LayerNorm and bias values.
    lambda p: p + 0.1 * rng.normal(size=p.shape).astype(np.float32), variables
  )
  target = rng.normal(size=tokens.shape).astype(np.float32)

  def value_and_grads(apply):
    loss = lambda params, x: jnp.sum(apply(params, x) * target)  # noqa: E731
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(variables['params'], tokens)

  ours = value_and_grads(lambda p, x: block.apply({'params': p}, x, mask, ids, False))
  reference = value_and_grads(lambda p, x: _reference_block(p, x, mask, num_heads=4))
  for got, expected in zip(jax.tree.leaves(ours), jax.tree.leaves(reference), strict=True):
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
