"""DeepMimic clips -> H36M-17 pose: rigid plausible bones, z up, feet on the floor, sides right."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('pybullet_data')

from mujo_jax.data import deepmimic  # noqa: E402
from mujo_jax.facts import skeleton  # noqa: E402

J = skeleton.joint_index


@pytest.fixture(scope='module')
def walk():
  return deepmimic.forward_kinematics(deepmimic.load_clip('walk')[0])


def test_every_clip_parses():
  for name in deepmimic.CLIPS:
    frames, fps, _ = deepmimic.load_clip(name)
    assert frames.shape[1] == deepmimic.FRAME_SIZE and 10 < fps < 61


def test_bones_rigid_and_plausible(walk):
  lengths = {}
  for parent, child in skeleton.H36M_BONES:
    length = np.linalg.norm(walk[:, child] - walk[:, parent], axis=-1)
    assert length.std() < 1e-6
    lengths[skeleton.H36M_JOINTS[child]] = length.mean()
  for side in ('left', 'right'):
    assert 0.35 < lengths[f'{side}_knee'] < 0.5  # thigh
    assert 0.35 < lengths[f'{side}_ankle'] < 0.5  # shin
    assert 0.22 < lengths[f'{side}_elbow'] < 0.35  # upper arm
    assert 0.2 < lengths[f'{side}_wrist'] < 0.32  # forearm
  height = walk[:, J('head'), 2].max() - walk[:, [J('left_ankle'), J('right_ankle')], 2].min()
  assert 1.4 < height < 1.9


def test_up_is_z(walk):
  assert np.all(walk[:, J('head'), 2] > walk[:, J('pelvis'), 2] + 0.5)
  assert np.all(walk[:, J('pelvis'), 2] > walk[:, J('left_ankle'), 2] + 0.6)


def test_walk_feet_alternate_and_touch_floor(walk):
  left, right = walk[:, J('left_ankle'), 2], walk[:, J('right_ankle'), 2]
  for ankle in (left, right):
    assert ankle.min() < 0.1  # ankle joint just above a flat foot
    assert ankle.max() - ankle.min() > 0.1  # each foot is lifted
  assert np.corrcoef(left, right)[0, 1] < -0.3
  # Never both feet high at once: one is always near the floor.
  assert np.all(np.minimum(left, right) < 0.1)


def test_left_is_left(walk):
  # The performer walks forward: the body's forward (left x up, with x forward, y left, z up)
  # points along the travel, and the urdf's left hip sits at -Z, i.e. +y here.
  travel = walk[-1, J('pelvis')] - walk[0, J('pelvis')]
  lateral = walk[:, J('left_hip')] - walk[:, J('right_hip')]
  up = walk[:, J('head')] - walk[:, J('pelvis')]
  forward = np.cross(lateral, up)
  assert np.all(forward @ travel > 0)
  assert deepmimic.urdf_joints()['left_hip'][1][2] < 0 < deepmimic.urdf_joints()['right_hip'][1][2]
  assert lateral[0, 1] > 0


def test_windows_in_batch_schema():
  w = deepmimic.windows(window_s=5.0, clips=('walk', 'kick'))
  n = len(w['label'])
  assert n == 2
  assert w['pose'].shape == (n, 150, 17, 3) and w['pose'].dtype == np.float32
  assert w['imu'].shape == (n, 250, len(w['sites']), 6) and w['imu'].dtype == np.float32
  np.testing.assert_allclose(w['pose'][:, :, J('pelvis')], 0.0, atol=1e-6)
  assert w['imu_sites'].all() and np.isfinite(w['imu']).all()
  assert [w['class_names'][k] for k in w['label']] == ['walk', 'kick']
  np.testing.assert_array_equal(w['group'], [0, 1])
  # A tiled walk keeps rigid bones across the seams and its wrist sees ~1 g on average.
  thigh = np.linalg.norm(w['pose'][0, :, J('left_knee')] - w['pose'][0, :, J('left_hip')], axis=-1)
  assert thigh.std() < 2e-3
  wrist = np.linalg.norm(w['imu'][0, :, w['sites'].index('left_wrist'), :3], axis=-1)
  assert 9.0 < wrist.mean() < 12.0


def test_unknown_clip_raises():
  with pytest.raises(ValueError, match='unknown DeepMimic clip'):
    deepmimic.clip_path('moonwalk')
