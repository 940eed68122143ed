"""Tests of the joint layouts, forward kinematics and the H36M->COCO mapping."""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax.facts import activities
from mujo_jax.facts import skeleton as sk


def _random_rotations(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
  q, r = np.linalg.qr(rng.normal(size=shape + (3, 3)))
  q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
  return q * np.linalg.det(q)[..., None, None]


def test_activities_order_and_lookup():
  assert len(activities.ACTIVITIES) == 11
  assert activities.ACTIVITIES[:3] == ('squats', 'lunges', 'bicep_curls')
  assert activities.ACTIVITIES[activities.NON_ACTIVITY] == 'non_activity'
  assert activities.activity_id('lateral_shoulder_raises') == 9
  with pytest.raises(ValueError, match='Unknown activity .*squats'):
    activities.activity_id('burpees')


def test_layouts_match_design():
  assert len(sk.H36M_JOINTS) == 17 and len(sk.COCO_JOINTS) == 18
  assert sk.H36M_JOINTS[3] == 'right_ankle' and sk.H36M_JOINTS[13] == 'left_wrist'
  assert sk.COCO_JOINTS[1] == 'neck' and sk.COCO_JOINTS[17] == 'left_ear'
  assert all(p < i for i, p in enumerate(sk.H36M_PARENTS) if p >= 0)
  assert len(sk.H36M_BONES) == 16
  assert sk.joint_index('left_elbow') == 12
  assert sk.joint_index('right_eye', layout='coco') == 14
  with pytest.raises(ValueError, match='Unknown h36m joint .*pelvis'):
    sk.joint_index('left_toe')
  with pytest.raises(ValueError, match='layout'):
    sk.joint_index('nose', layout='smpl')


def test_fk_identity_is_rest_pose_at_root():
  offsets = sk.rest_offsets()
  root = np.array([[1.0, 2.0, 0.94]])
  pose = sk.forward_kinematics(np.tile(np.eye(3), (1, 17, 1, 1)), offsets, root)
  assert pose.shape == (1, 17, 3)
  np.testing.assert_allclose(pose[0, 0], root[0])
  # Standing straight: ankles below the hips by thigh + shin, wrists below the shoulders.
  ankle, hip = pose[0, sk.joint_index('left_ankle')], pose[0, sk.joint_index('left_hip')]
  np.testing.assert_allclose(hip - ankle, [0, 0, 0.86], atol=1e-12)
  assert pose[0, sk.joint_index('head'), 2] > pose[0, sk.joint_index('thorax'), 2]
  relative = pose[0] - root[0]
  left_wrist, right_wrist = sk.joint_index('left_wrist'), sk.joint_index('right_wrist')
  assert relative[left_wrist, 1] > 0 > relative[right_wrist, 1]


def test_fk_keeps_bone_lengths_under_random_rotations():
  rng = np.random.default_rng(0)
  lengths = np.array(sk.DEFAULT_BONE_LENGTHS) * rng.uniform(0.8, 1.2, 17)
  local = _random_rotations(rng, (5, 17))
  pose = sk.forward_kinematics(
    local, sk.rest_offsets(lengths), rng.normal(size=(5, 3)), _random_rotations(rng, (5,))
  )
  for parent, child in sk.H36M_BONES:
    np.testing.assert_allclose(
      np.linalg.norm(pose[:, child] - pose[:, parent], axis=-1), lengths[child], rtol=1e-12
    )


def test_fk_knee_flexion_moves_only_the_shin():
  local = np.tile(np.eye(3), (17, 1, 1))
  c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
  local[sk.joint_index('right_knee')] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]  # Ry(+90 deg).
  offsets = sk.rest_offsets()
  pose = sk.forward_kinematics(local, offsets, np.zeros(3))
  rest = sk.forward_kinematics(np.tile(np.eye(3), (17, 1, 1)), offsets, np.zeros(3))
  knee, ankle = sk.joint_index('right_knee'), sk.joint_index('right_ankle')
  # Ry(+90) turns the down-pointing shin backwards (-x), level with the knee.
  np.testing.assert_allclose(pose[ankle] - pose[knee], [-0.42, 0, 0], atol=1e-12)
  moved = np.nonzero(np.linalg.norm(pose - rest, axis=-1) > 1e-12)[0]
  assert moved.tolist() == [ankle]


def test_fk_and_offsets_reject_bad_shapes():
  offsets = sk.rest_offsets()
  with pytest.raises(ValueError, match=r'\(\.\.\., 17, 3, 3\)'):
    sk.forward_kinematics(np.tile(np.eye(3), (16, 1, 1)), offsets, np.zeros(3))
  with pytest.raises(ValueError, match='root_position'):
    sk.forward_kinematics(np.tile(np.eye(3), (2, 17, 1, 1)), offsets, np.zeros(3))
  with pytest.raises(ValueError, match='> 0'):
    sk.rest_offsets(np.zeros(17))
  with pytest.raises(ValueError, match='Unknown h36m joint'):
    sk.rest_offsets({'left_foot': 0.2})


def test_h36m_to_coco_maps_joints_and_places_face():
  rng = np.random.default_rng(1)
  rotation = _random_rotations(rng, ())
  pose = sk.forward_kinematics(
    np.tile(np.eye(3), (17, 1, 1)), sk.rest_offsets(), np.zeros(3), rotation
  )
  coco = sk.h36m_to_coco(pose[None, None])[0, 0]
  assert coco.shape == (18, 3)
  j = lambda name: pose[sk.joint_index(name)]  # noqa: E731
  c = lambda name: coco[sk.joint_index(name, 'coco')]  # noqa: E731
  np.testing.assert_allclose(c('nose'), j('neck'))
  np.testing.assert_allclose(c('neck'), 0.5 * (j('left_shoulder') + j('right_shoulder')))
  for name in ('left_wrist', 'right_knee', 'left_ankle', 'right_shoulder'):
    np.testing.assert_allclose(c(name), j(name))
  # In the body frame: eyes above and beside the nose, left eye on the left, ears behind.
  body = lambda x: rotation.T @ x  # noqa: E731
  left_eye, right_eye = body(c('left_eye') - c('nose')), body(c('right_eye') - c('nose'))
  assert left_eye[2] > 0 and left_eye[1] > 0 > right_eye[1]
  np.testing.assert_allclose(left_eye[[0, 2]], right_eye[[0, 2]], atol=1e-12)
  assert body(c('left_ear') - c('nose'))[0] < -0.05
  assert np.linalg.norm(c('left_ear') - c('right_ear')) == pytest.approx(0.149, abs=0.02)


def test_h36m_to_coco_degenerate_head_stays_finite():
  pose = sk.forward_kinematics(np.tile(np.eye(3), (17, 1, 1)), sk.rest_offsets(), np.zeros(3))
  pose[sk.joint_index('neck')] = [0, 0, 0.6]  # Nose exactly on the thorax->head line.
  pose[sk.joint_index('head')] = [0, 0, 0.75]
  pose[sk.joint_index('thorax')] = [0, 0, 0.48]
  coco = sk.h36m_to_coco(pose)
  assert np.all(np.isfinite(coco))
  assert coco[sk.joint_index('left_eye', 'coco'), 1] > 0  # Left from the shoulder line.
  with pytest.raises(ValueError, match=r'\(\.\.\., 17, 3\)'):
    sk.h36m_to_coco(np.zeros((18, 3)))
