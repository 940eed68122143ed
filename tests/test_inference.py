"""The Embedder: same embeddings as the evaluation path, windows and pooling, bad input."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import linear_probe as linear_probe_config
from configs import pretrain
from mujo_jax import checkpoint as checkpoint_lib
from mujo_jax import config_validation, sharding, train
from mujo_jax.data import schema
from mujo_jax.eval import embedding, eval_data
from mujo_jax.facts.tokenizer import ByteTokenizer
from mujo_jax.inference import Embedder, window_starts
from mujo_jax.models import joint

SITES = ('left_wrist', 'right_wrist', 'left_thigh', 'right_thigh', 'head')


@pytest.fixture(scope='module')
def checkpoint(synthetic_data_dir, tmp_path_factory):
  """A pretraining workdir holding a randomly initialised model, saved as training saves it."""
  config = pretrain.get_config('runlocal,batch_size=8')
  config.data.tfds_data_dir = synthetic_data_dir
  config = config_validation.resolve_pretrain_config(config)
  workdir = tmp_path_factory.mktemp('init_checkpoint')
  (workdir / 'config.json').write_text(config.to_json_best_effort(indent=2))
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  params = jax.jit(lambda rng: joint.init_params(model, rng, schema.dummy_batch(config, 2)))(
    jax.random.key(3)
  )
  tx = train.make_optimizer(config)
  state = train.TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))
  with checkpoint_lib.checkpoint_manager(workdir, config) as manager:
    manager.save(
      1, args=train.ocp.args.Composite(state=train.ocp.args.StandardSave(state)), force=True
    )
    manager.wait_until_finished()
  return workdir


@pytest.fixture(scope='module')
def embedder(checkpoint):
  return Embedder.from_checkpoint(checkpoint, batch_size=8)


@pytest.fixture(scope='module')
def eval_windows(checkpoint):
  """Test-split windows and their embeddings through the evaluation path (sharded, batched)."""
  pretrained = checkpoint_lib.load_pretrained(checkpoint)
  probe_config = linear_probe_config.get_config('runlocal')
  probe_config.synthetic.max_windows = 4
  data = eval_data.synthetic(pretrained.config, probe_config)
  windows = [data.windows['test'][i] for i in range(3)]
  model = joint.build_model(joint.JointModelSpec.from_config(data.model_config))
  request = embedding.EmbedRequest(modalities=('imu', 'pose', 'video', 'text'))
  mesh = sharding.make_mesh((('data', -1),))
  embedded = embedding.embed_windows(model, pretrained.params, windows, request, mesh, 4)
  return windows, embedded


def test_embedder_matches_the_evaluation_path(embedder, eval_windows):
  windows, expected = eval_windows
  assert embedder.embed_dim == expected['imu'].shape[1]
  for index, window in enumerate(windows):
    assert window['imu_sites'].all()
    got = {
      'imu': embedder.embed_imu(window['imu'], 50.0, SITES, pool=None),
      'pose': embedder.embed_pose(window['pose'], 30.0, pool=None),
      'video': embedder.embed_video(window['video'], 10.0, pool=None),
    }
    for modality, value in got.items():
      assert value.shape == (1, embedder.embed_dim), modality
      np.testing.assert_allclose(value[0], expected[modality][index], atol=2e-5, err_msg=modality)
    text = ByteTokenizer(96).decode(window['text'])
    np.testing.assert_allclose(embedder.embed_text([text])[0], expected['text'][index], atol=2e-5)


def test_long_recording_is_resampled_windowed_and_pooled(embedder, eval_windows):
  windows, _ = eval_windows
  rng = np.random.default_rng(0)
  # 12 s at 100 Hz: resampled to 600 samples at 50 Hz → windows at 0, 2.5, 5 s and one flush
  # with the end (7 s).
  imu = np.concatenate([np.repeat(windows[0]['imu'], 2, axis=0)] * 3)[:1200, :2]
  imu = imu + rng.normal(scale=0.01, size=imu.shape).astype(np.float32)
  per_window = embedder.embed_imu(imu, 100.0, SITES[:2], pool=None)
  assert per_window.shape == (4, embedder.embed_dim)
  pooled = embedder.embed_imu(imu, 100.0, SITES[:2])
  mean = per_window.mean(axis=0)
  np.testing.assert_allclose(pooled, mean / np.linalg.norm(mean), atol=1e-6)
  np.testing.assert_array_equal(window_starts(600, 250, 125), [0, 125, 250, 350])
  np.testing.assert_array_equal(window_starts(500, 250, 125), [0, 125, 250])


def test_nan_site_is_absent_like_a_site_not_given(embedder, eval_windows):
  windows, _ = eval_windows
  imu = windows[0]['imu'].copy()
  imu[:, 2] = np.nan
  with_nan = embedder.embed_imu(imu, 50.0, SITES, pool=None)
  without = embedder.embed_imu(np.delete(imu, 2, axis=1), 50.0, SITES[:2] + SITES[3:], pool=None)
  np.testing.assert_allclose(with_nan, without, atol=2e-5)


@pytest.mark.parametrize(
  'transform, sites, message',
  [
    (lambda x: x / 9.81, SITES, 'units of g'),
    # 2 rad/s about one axis (an ordinary exercise) given in deg/s.
    (
      lambda x: np.concatenate(
        [x[..., :3], np.full_like(x[..., 3:], 2.0 * 180 / np.pi / 3**0.5)], -1
      ),
      SITES,
      'deg/s',
    ),
    (lambda x: np.concatenate([x[..., :3] * 0.0, x[..., 3:]], -1), SITES, 'gravity'),
    (lambda x: x[:, :3], SITES, r'expected \(T, 5, 6\)'),
    (lambda x: x, SITES[:4] + ('left_elbow',), 'sites='),
    (lambda x: x[:100], SITES, 'shorter than one 5 s window'),
    (lambda x: np.full_like(x, np.nan), SITES, 'all NaN'),
    (lambda x: np.where(np.arange(len(x))[:, None, None] == 3, np.inf, x), SITES, 'inf'),
  ],
)
def test_bad_imu_rejected(embedder, eval_windows, transform, sites, message):
  imu = eval_windows[0][0]['imu']
  with pytest.raises(ValueError, match=message):
    embedder.embed_imu(transform(imu), 50.0, sites)


def test_bad_pose_video_text_rejected(embedder, eval_windows):
  window = eval_windows[0][0]
  with pytest.raises(ValueError, match='millimetres'):
    embedder.embed_pose(window['pose'] * 1000, 30.0)
  with pytest.raises(ValueError, match=r'\(T, 17, 3\)'):
    embedder.embed_pose(window['pose'][:, :16], 30.0)
  with pytest.raises(ValueError, match='fps'):
    embedder.embed_pose(window['pose'], 0)
  with pytest.raises(ValueError, match='uint8 frames'):
    embedder.embed_video(window['video'].astype(np.float32), 10.0)
  with pytest.raises(ValueError, match='list of str'):
    embedder.embed_text('squats')
  with pytest.raises(ValueError, match="pool='cls'"):
    embedder.embed_pose(window['pose'], 30.0, pool='cls')


def test_missing_checkpoint(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.json'):
    Embedder.from_checkpoint(tmp_path)


def test_evaluation_path_equals_joint_model_embed(checkpoint, eval_windows):
  """The evaluation path (one modality at a time, batched, sharded) equals one full `embed`."""
  windows, expected = eval_windows
  pretrained = checkpoint_lib.load_pretrained(checkpoint)
  model = joint.build_model(joint.JointModelSpec.from_config(pretrained.config))
  batch = {
    k: np.stack([w[k] for w in windows]) for k in ('imu', 'imu_sites', 'pose', 'video', 'text')
  }
  reference = model.apply({'params': pretrained.params}, batch, train=False, method='embed')
  for modality, value in reference.items():
    np.testing.assert_allclose(expected[modality], np.asarray(value), atol=2e-5, err_msg=modality)


def test_exported_weights_round_trip_and_embed_the_same(checkpoint, tmp_path, eval_windows):
  """export_weights → load_exported gives the same parameters and the same embeddings."""
  pretrained = checkpoint_lib.load_pretrained(checkpoint)
  exported = checkpoint_lib.export_weights(pretrained, tmp_path / 'exported')
  assert sorted(p.name for p in exported.iterdir()) == ['config.json', 'params.npz']
  loaded = checkpoint_lib.load_exported(exported)
  jax.tree.map(np.testing.assert_array_equal, pretrained.params, loaded.params)
  windows, _ = eval_windows
  imu = np.concatenate([w['imu'] for w in windows[:2]])
  sites = pretrained.config.data.imu_sites
  np.testing.assert_array_equal(
    Embedder(pretrained).embed_imu(imu, rate_hz=50, sites=sites),
    Embedder(loaded).embed_imu(imu, rate_hz=50, sites=sites),
  )
  with pytest.raises(FileNotFoundError, match='params.npz'):
    checkpoint_lib.load_exported(tmp_path)
  # The evaluation job and from_checkpoint load exported weights like a workdir.
  via_workdir_loader = checkpoint_lib.load_pretrained(exported)
  jax.tree.map(np.testing.assert_array_equal, pretrained.params, via_workdir_loader.params)
  with pytest.raises(ValueError, match='holds exported weights'):
    checkpoint_lib.load_pretrained(exported, step=3)


def test_a_model_that_favoured_both_wrists_embeds_a_watch_on_either(checkpoint, eval_windows):
  """Lone-site windows that favoured both wrists are a pretraining augmentation: the model must
  still embed a watch on either wrist alone (re-resolving its config for the one site read by
  the model used to reject the other favoured wrist as an unknown site)."""
  pretrained = checkpoint_lib.load_pretrained(checkpoint)
  config = ml_collections.ConfigDict(pretrained.config.to_dict())
  config.augment.single_site = 0.5
  config.augment.single_site_favoured = ('left_wrist', 'right_wrist')
  config.augment.single_site_favoured_share = 0.5
  favoured = dataclasses.replace(pretrained, config=config)
  windows, _ = eval_windows
  watch = np.concatenate([w['imu'][:, 0] for w in windows[:2]])  # The left wrist's signals.
  for site in ('left_wrist', 'right_wrist'):
    narrowed = embedding.with_imu_sites(config, (site,))
    assert tuple(narrowed.augment.single_site_favoured) == (site,)
    np.testing.assert_array_equal(
      Embedder(favoured).embed_imu(watch, rate_hz=50, sites=(site,)),
      Embedder(pretrained).embed_imu(watch, rate_hz=50, sites=(site,)),
    )
  assert tuple(embedding.with_imu_sites(config, ('head',)).augment.single_site_favoured) == ()
