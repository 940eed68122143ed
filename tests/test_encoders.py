"""Pose and video encoders by their values: patching, position embeddings, batch independence.

Mean pooling after a transformer without positions is invariant to the order of its tokens, so
a reordering of frames must change the output exactly through the learned time (and, for video,
space) embeddings; with those tables zeroed the same reordering must not.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mujo_jax.models.pose import PoseEncoder
from mujo_jax.models.transformer import TransformerConfig
from mujo_jax.models.video import VideoEncoder

TINY = TransformerConfig(width=16, depth=1, num_heads=2, mlp_dim=32)
BATCH = 3
PATCH = 5  # Pose frames per token.
TUBELET = (5, 8, 8)


def _gelu(x: np.ndarray) -> np.ndarray:
  return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _build(module, x):
  variables = jax.jit(functools.partial(module.init, train=False))(jax.random.key(0), x)
  variables = jax.tree.map(np.asarray, variables)
  apply = jax.jit(lambda v, x: module.apply(v, x, train=False))
  intermediates = jax.jit(
    lambda v, x: module.apply(v, x, train=False, capture_intermediates=True)[1]['intermediates']
  )
  return variables, apply, intermediates


def _with(variables, **tables):
  params = dict(variables['params'], **tables)
  return {**variables, 'params': params}


def _scaled_random(table: np.ndarray, seed: int) -> np.ndarray:
  return np.random.default_rng(seed).normal(size=table.shape).astype(np.float32)


@pytest.fixture(scope='module')
def pose_model():
  pose = np.random.default_rng(1).normal(size=(BATCH, 20, 17, 3)).astype(np.float32)
  return (pose, *_build(PoseEncoder(TINY, patch_len=PATCH), pose))


@pytest.fixture(scope='module')
def video_model():
  video = np.random.default_rng(2).integers(0, 256, (BATCH, 10, 16, 24, 1)).astype(np.uint8)
  return (video, *_build(VideoEncoder(TINY, input_kind='frames', tubelet=TUBELET), video))


# ---------------------------------------------------------------- pose


def test_pose_tokens_are_frame_embeddings_concatenated_per_patch(pose_model):
  pose, variables, _, intermediates = pose_model
  params = variables['params']
  frames = pose.reshape(BATCH, 20, 17 * 3)
  joint = _gelu(frames @ params['joint_embed']['kernel'] + params['joint_embed']['bias'])
  tokens = np.stack(
    [
      np.concatenate([joint[:, p * PATCH + k] for k in range(PATCH)], axis=-1)
      for p in range(20 // PATCH)
    ],
    axis=1,
  )
  expected = tokens @ params['patch_embed']['kernel'] + params['patch_embed']['bias']
  (got,) = intermediates(variables, pose)['patch_embed']['__call__']
  np.testing.assert_allclose(
    np.asarray(got).reshape(expected.shape), expected, rtol=1e-4, atol=1e-4
  )


def test_pose_patch_order_matters_only_through_the_time_embedding(pose_model):
  pose, variables, apply, _ = pose_model
  patches = pose.reshape(BATCH, 20 // PATCH, PATCH, 17, 3)
  reordered = patches[:, [2, 0, 3, 1]].reshape(pose.shape)
  table = variables['params']['time_embed']
  no_time = _with(variables, time_embed=np.zeros_like(table))
  np.testing.assert_allclose(apply(no_time, reordered), apply(no_time, pose), atol=1e-5)
  timed = _with(variables, time_embed=_scaled_random(table, 0))
  moved = np.abs(np.asarray(apply(timed, reordered)) - np.asarray(apply(timed, pose)))
  assert moved.min(axis=1).max() > 0 and moved.max(axis=1).min() > 1e-2
  # Frames are not a bag within a patch either: their order is in the patch embedding.
  within = patches[:, :, ::-1].reshape(pose.shape)
  assert np.abs(np.asarray(apply(no_time, within)) - np.asarray(apply(no_time, pose))).max() > 1e-3


def test_pose_examples_are_independent(pose_model):
  pose, variables, apply, _ = pose_model
  out = np.asarray(apply(variables, pose))
  changed = pose.copy()
  changed[1] = 10.0 * changed[1, ::-1]
  moved = np.asarray(apply(variables, changed))
  np.testing.assert_allclose(moved[[0, 2]], out[[0, 2]], rtol=1e-6, atol=1e-6)
  assert np.abs(moved[1] - out[1]).max() > 1e-3
  np.testing.assert_allclose(apply(variables, pose[1:2]), out[1:2], rtol=1e-5, atol=1e-6)


def test_pose_bfloat16_compute_returns_float32_close_to_float32(pose_model):
  pose, variables, apply, _ = pose_model
  config = TransformerConfig(width=16, depth=1, num_heads=2, mlp_dim=32, dtype=jnp.bfloat16)
  out16 = PoseEncoder(config, patch_len=PATCH).apply(variables, pose, train=False)
  out32 = np.asarray(apply(variables, pose))
  assert out16.dtype == jnp.float32 and out32.dtype == np.float32
  assert np.linalg.norm(np.asarray(out16) - out32) < 0.05 * np.linalg.norm(out32)
  assert np.abs(np.asarray(out16) - out32).max() > 0  # It really computed in bfloat16.


def test_forearm_pronation_adds_to_the_frame_embedding_and_absent_reads_nothing(pose_model):
  pose, variables, apply, _ = pose_model
  encoder = PoseEncoder(TINY, patch_len=PATCH, forearm_roll=True)
  roll_vars = jax.jit(functools.partial(encoder.init, train=False))(jax.random.key(0), pose)
  kernel = _scaled_random(roll_vars['params']['forearm_roll_embed']['kernel'], 3)
  assert kernel.shape == (2, TINY.width) and 'bias' not in roll_vars['params']['forearm_roll_embed']
  # The joints' parameters are the plain encoder's; the roll embedding is the one addition.
  with_roll = _with(variables, forearm_roll_embed={'kernel': kernel})
  rng = np.random.default_rng(4)
  pronation = rng.uniform(-1.5, 1.5, (BATCH, 20, 2)).astype(np.float32)
  present = np.array([True, False, True])

  def run(pronation, present):
    return np.asarray(
      encoder.apply(
        with_roll,
        pose,
        train=False,
        forearm_pronation=pronation,
        forearm_pronation_present=present,
      )
    )

  plain = np.asarray(apply(variables, pose))
  out = run(pronation, present)
  # Absent: exactly the joints-only encoder, whatever the values; no pronation passed: the same.
  np.testing.assert_allclose(out[1], plain[1], rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(run(10 * pronation, present)[1], plain[1], rtol=1e-6, atol=1e-6)
  no_input = encoder.apply(with_roll, pose, train=False)
  np.testing.assert_allclose(no_input, plain, rtol=1e-6, atol=1e-6)
  assert np.abs(out[[0, 2]] - plain[[0, 2]]).max() > 1e-2
  # Present: the frame's pre-activation gains pronation @ kernel (capture the first patch token).
  frames = pose.reshape(BATCH, 20, 17 * 3)
  params = variables['params']
  pre = frames @ params['joint_embed']['kernel'] + params['joint_embed']['bias']
  joint = _gelu(pre + (pronation @ kernel) * present[:, None, None])
  expected = joint[:, :PATCH].reshape(BATCH, -1) @ params['patch_embed']['kernel']
  expected = expected + params['patch_embed']['bias']
  _, state = encoder.apply(
    with_roll,
    pose,
    train=False,
    forearm_pronation=pronation,
    forearm_pronation_present=present,
    capture_intermediates=True,
  )
  (got,) = state['intermediates']['patch_embed']['__call__']
  np.testing.assert_allclose(
    np.asarray(got).reshape(BATCH, 20 // PATCH, -1)[:, 0], expected, rtol=1e-4, atol=1e-4
  )


# ---------------------------------------------------------------- video


def test_video_tubelets_equal_a_hand_written_reshape_and_dense(video_model):
  video, variables, _, intermediates = video_model
  params = variables['params']['tubelet_embed']
  tt, th, tw = TUBELET
  nt, nh, nw = 10 // tt, 16 // th, 24 // tw
  scaled = video.astype(np.float64) / 127.5 - 1.0
  expected = np.zeros((BATCH, nt, nh * nw, TINY.width))
  for t in range(nt):
    for i in range(nh):
      for j in range(nw):
        tube = scaled[:, t * tt : (t + 1) * tt, i * th : (i + 1) * th, j * tw : (j + 1) * tw]
        expected[:, t, i * nw + j] = tube.reshape(BATCH, -1) @ params['kernel'] + params['bias']
  (got,) = intermediates(variables, video)['tubelet_embed']['__call__']
  np.testing.assert_allclose(
    np.asarray(got).reshape(expected.shape), expected, rtol=1e-4, atol=1e-4
  )
  assert variables['params']['space_embed'].shape == (nh * nw, TINY.width)


def test_video_order_matters_only_through_time_and_space_embeddings(video_model):
  video, variables, apply, _ = video_model
  params = variables['params']
  zeros = _with(
    variables,
    time_embed=np.zeros_like(params['time_embed']),
    space_embed=np.zeros_like(params['space_embed']),
  )
  time_swapped = np.concatenate([video[:, 5:], video[:, :5]], axis=1)
  columns_swapped = np.concatenate([video[..., 16:, :], video[..., :16, :]], axis=3)
  for reordered in (time_swapped, columns_swapped):
    np.testing.assert_allclose(apply(zeros, reordered), apply(zeros, video), atol=1e-5)
  timed = _with(zeros, time_embed=_scaled_random(params['time_embed'], 0))
  placed = _with(zeros, space_embed=_scaled_random(params['space_embed'], 1))
  for tables, reordered, unchanged in (
    (timed, time_swapped, columns_swapped),
    (placed, columns_swapped, time_swapped),
  ):
    moved = np.abs(np.asarray(apply(tables, reordered)) - np.asarray(apply(tables, video)))
    assert moved.max(axis=1).min() > 1e-2
    # The other table alone does not see this reordering.
    np.testing.assert_allclose(apply(tables, unchanged), apply(tables, video), atol=1e-5)


def test_video_examples_are_independent(video_model):
  video, variables, apply, _ = video_model
  out = np.asarray(apply(variables, video))
  changed = video.copy()
  changed[2] = 255 - changed[2]
  moved = np.asarray(apply(variables, changed))
  np.testing.assert_allclose(moved[:2], out[:2], rtol=1e-6, atol=1e-6)
  assert np.abs(moved[2] - out[2]).max() > 1e-3
  assert out.dtype == np.float32 and out.shape == (BATCH, TINY.width)


def test_video_features_are_a_dense_plus_time_embedding():
  features = np.random.default_rng(3).normal(size=(BATCH, 7, 24)).astype(np.float32)
  encoder = VideoEncoder(TINY, input_kind='features', tubelet=TUBELET)
  variables, apply, intermediates = _build(encoder, features)
  params = variables['params']['feature_embed']
  (got,) = intermediates(variables, features)['feature_embed']['__call__']
  expected = features @ params['kernel'] + params['bias']
  np.testing.assert_allclose(
    np.asarray(got).reshape(expected.shape), expected, rtol=1e-4, atol=1e-4
  )
  table = variables['params']['time_embed']
  no_time = _with(variables, time_embed=np.zeros_like(table))
  np.testing.assert_allclose(apply(no_time, features[:, ::-1]), apply(no_time, features), atol=1e-5)
  timed = _with(variables, time_embed=_scaled_random(table, 0))
  assert (
    np.abs(np.asarray(apply(timed, features[:, ::-1])) - np.asarray(apply(timed, features)))
    .max(axis=1)
    .min()
    > 1e-2
  )
