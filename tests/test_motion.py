"""Tests of the procedural exercise generator: geometry, ground contact, repetitions, classes."""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax.facts import activities
from mujo_jax.facts import skeleton as sk
from mujo_jax.facts import virtual_imu as vi
from mujo_jax.facts.sites import SITES
from mujo_jax.synthesis import motion

EXERCISES = activities.ACTIVITIES[:10]
STANDING = (
  'squats',
  'lunges',
  'bicep_curls',
  'tricep_extensions',
  'dumbbell_rows',
  'dumbbell_shoulder_press',
  'lateral_shoulder_raises',
  'non_activity',
)
UPRIGHT = (
  'bicep_curls',
  'tricep_extensions',
  'dumbbell_shoulder_press',
  'lateral_shoulder_raises',
  'jumping_jacks',
)
IMU_SITES = ('left_wrist', 'right_wrist', 'left_thigh', 'right_thigh', 'head')
NUM_SUBJECTS = 5


def _j(name: str) -> int:
  return sk.joint_index(name)


def _trunk_elevation_deg(pose: np.ndarray) -> np.ndarray:
  """(T,) angle of pelvis->thorax above the horizontal plane."""
  trunk = pose[:, _j('thorax')] - pose[:, _j('pelvis')]
  return np.degrees(np.arcsin(trunk[:, 2] / np.linalg.norm(trunk, axis=-1)))


@pytest.fixture(scope='module')
def clips() -> dict[str, list[motion.Motion]]:
  """Five 10 s clips per class, each by a different subject."""
  rng = np.random.default_rng(0)
  subjects = [motion.sample_subject(rng, i) for i in range(NUM_SUBJECTS)]
  return {
    a: [motion.generate_motion(a, subj, 10.0, rng=rng) for subj in subjects]
    for a in activities.ACTIVITIES
  }


def test_sample_subject_is_plausible_and_seeded():
  a = motion.sample_subject(np.random.default_rng(5), 7)
  b = motion.sample_subject(np.random.default_rng(5), 7)
  assert a == b and a.subject_id == 7
  heights = [motion.sample_subject(np.random.default_rng(i), i).height_m for i in range(30)]
  assert 1.45 < min(heights) and max(heights) < 2.0 and np.std(heights) > 0.03
  lengths = np.asarray(a.bone_lengths)
  assert lengths[_j('left_knee')] == lengths[_j('right_knee')]
  assert lengths[_j('left_wrist')] == lengths[_j('right_wrist')]


def test_shapes_and_bookkeeping(clips):
  for activity, group in clips.items():
    for clip in group:
      assert clip.activity == activity
      assert clip.pose.shape == (300, 17, 3) and np.all(np.isfinite(clip.pose))
      assert clip.active.shape == (300,) and clip.active.dtype == bool
      assert clip.rep_frames.shape == (clip.reps, 2)
      if activity == 'non_activity':
        assert clip.reps == 0 and not clip.active.any() and clip.rep_period_s is None
      else:
        assert clip.reps >= 1 and clip.rep_period_s > 0
        # Every counted repetition lies inside the clip and is active throughout.
        for start, end in clip.rep_frames:
          assert 0 <= start < end <= 300
          assert clip.active[start:end].all()


def test_bone_lengths_constant_and_the_subjects(clips):
  rng = np.random.default_rng(0)
  subjects = [motion.sample_subject(rng, i) for i in range(NUM_SUBJECTS)]
  for group in clips.values():
    for clip, subject in zip(group, subjects, strict=True):
      for parent, child in sk.H36M_BONES:
        length = np.linalg.norm(clip.pose[:, child] - clip.pose[:, parent], axis=-1)
        np.testing.assert_allclose(length, subject.bone_lengths[child], rtol=1e-9)


def test_ground_contact(clips):
  for activity, group in clips.items():
    for clip in group:
      # Nothing goes through the floor (a few cm of jitter allowed).
      assert clip.pose[..., 2].min() > -0.03, activity
      if activity in STANDING:
        # Stepping passes the contact smoothly between the feet (a few mm of blend).
        lowest_ankle = clip.pose[:, [_j('left_ankle'), _j('right_ankle')], 2].min(axis=1)
        np.testing.assert_allclose(lowest_ankle, sk.ANKLE_HEIGHT, atol=0.005)
        assert clip.pose[:, _j('head'), 2].max() > 1.2  # Standing, not lying.


def test_feet_stay_planted_in_squats(clips):
  for clip in clips['squats']:
    ankles = clip.pose[:, [_j('left_ankle'), _j('right_ankle')], :2]
    assert np.abs(ankles - ankles[0]).max() < 0.05  # Only jitter moves them.


def test_pushups_and_situps_are_horizontal(clips):
  for clip in clips['pushups']:
    elevation = _trunk_elevation_deg(clip.pose)
    assert elevation.max() < 35 and elevation.min() > -10
    assert clip.pose[:, _j('head'), 2].max() < 0.9
    wrists = clip.pose[:, [_j('left_wrist'), _j('right_wrist')]]
    np.testing.assert_allclose(wrists[..., 2], motion.WRIST_ON_FLOOR_HEIGHT, atol=0.05)
  for clip in clips['situps']:
    elevation = _trunk_elevation_deg(clip.pose)
    assert elevation.min() < 20 and elevation.max() > 35  # Lying down, then sitting up.
    assert clip.pose[:, _j('pelvis'), 2].max() < 0.2
  for activity in UPRIGHT:
    for clip in clips[activity]:
      assert _trunk_elevation_deg(clip.pose).min() > 65, activity


def test_reps_counted_from_the_motion(clips):
  """Each counted repetition is one excursion of the moving body part, and none is missed."""
  signals = {
    'squats': lambda p: -p[:, _j('pelvis'), 2],
    'pushups': lambda p: -p[:, _j('thorax'), 2],
    'situps': lambda p: p[:, _j('head'), 2],
    'jumping_jacks': lambda p: p[:, _j('left_wrist'), 2],
  }
  for activity, extract in signals.items():
    for clip in clips[activity]:
      values = extract(clip.pose)
      low, high = np.percentile(values, 5), np.percentile(values, 95)
      above = values > low + 0.6 * (high - low)
      for start, end in clip.rep_frames:
        assert above[start:end].any(), activity  # The excursion happens inside the rep.
      # One excursion per counted rep; the others belong to the partial reps cut by the
      # clip's two ends.
      rises = np.flatnonzero(np.diff(above.astype(int)) == 1)
      falls = np.flatnonzero(np.diff(above.astype(int)) == -1)
      for start, end in clip.rep_frames:
        assert np.sum((rises >= start - 1) & (rises < end)) <= 1, activity
      complete = sum(1 for r in rises if np.any(falls > r))
      assert 0 <= complete - clip.reps <= 2, (activity, complete, clip.reps)


def test_same_seed_same_motion_and_variation_across_seeds():
  subject = motion.sample_subject(np.random.default_rng(1), 1)
  a = motion.generate_motion('lunges', subject, 4.0, rng=np.random.default_rng(3))
  b = motion.generate_motion('lunges', subject, 4.0, rng=np.random.default_rng(3))
  c = motion.generate_motion('lunges', subject, 4.0, rng=np.random.default_rng(4))
  np.testing.assert_array_equal(a.pose, b.pose)
  assert np.abs(a.pose - c.pose).max() > 0.1


def _features(clip: motion.Motion) -> np.ndarray:
  imu = vi.from_pose(clip.pose, clip.fps, IMU_SITES, out_rate_hz=50.0)
  return np.concatenate([imu.mean(0).ravel(), imu.std(0).ravel()])


def test_each_activity_differs_on_wrist_thigh_head_imu(clips):
  """Leave-one-out nearest centroid on IMU mean/std features: classes separate."""
  names = list(clips)
  features = np.array([_features(c) for a in names for c in clips[a]])
  labels = np.repeat(np.arange(len(names)), NUM_SUBJECTS)
  assert np.all(np.isfinite(features))
  assert np.abs(features).max() < 100.0  # No spikes from frame flips or degenerate geometry.
  scale = features.std(0) + 1e-6
  correct = 0
  for i in range(len(labels)):
    keep = np.arange(len(labels)) != i
    centroids = np.array([features[keep & (labels == k)].mean(0) for k in range(len(names))])
    distance = np.linalg.norm((centroids - features[i]) / scale, axis=-1)
    correct += int(np.argmin(distance) == labels[i])
  assert correct / len(labels) > 0.75  # Chance is 1/11.


def test_rotation_rates_are_physiological(clips):
  for activity, group in clips.items():
    for clip in group:
      imu = vi.from_pose(clip.pose, clip.fps, SITES)
      # Fast arm swings reach 10-20 rad/s; a frame flip would give ~pi * fps ~ 90.
      assert np.abs(imu[..., 3:]).max() < 20.0, activity  # rad/s
      assert np.abs(imu[..., :3]).max() < 80.0, activity  # m/s^2, a watch range of 8 g


def test_bad_inputs():
  subject = motion.sample_subject(np.random.default_rng(0), 0)
  rng = np.random.default_rng(0)
  with pytest.raises(ValueError, match='Unknown activity'):
    motion.generate_motion('burpees', subject, 3.0, rng=rng)
  with pytest.raises(ValueError, match='duration_s'):
    motion.generate_motion('squats', subject, 0.0, rng=rng)
  with pytest.raises(ValueError, match='fps'):
    motion.generate_motion('squats', subject, 3.0, fps=-1.0, rng=rng)
  with pytest.raises(ValueError, match='rng'):
    motion.generate_motion('squats', subject, 3.0, rng=0)
  with pytest.raises(ValueError, match='Subject'):
    motion.generate_motion('squats', 'alice', 3.0, rng=rng)
  with pytest.raises(ValueError, match='tempo'):
    motion.Subject(
      subject_id=0,
      bone_lengths=subject.bone_lengths,
      tempo=0.0,
      amplitude=1.0,
      asymmetry=0.0,
      pause_s=0.0,
      jitter_deg=1.0,
    )
