"""BasicMotions: the units and rate the loader assumes are the data's; windows fit the schema."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('sktime')

from mujo_jax.data import basic_motions  # noqa: E402
from mujo_jax.facts import sites, virtual_imu  # noqa: E402
from mujo_jax.synthesis import forearm, motion, wearable_motion  # noqa: E402


@pytest.fixture(scope='module')
def data():
  return basic_motions.recordings()


def _class(data, name):
  x, y = data
  return x[y == basic_motions.CLASS_NAMES.index(name)]


def test_eighty_recordings_of_ten_seconds_twenty_per_class(data):
  x, y = data
  assert x.shape == (80, 100, 6)
  np.testing.assert_array_equal(np.bincount(y), [20, 20, 20, 20])


def test_stored_acc_has_gravity_removed_and_conversion_restores_it(data):
  standing = _class(data, 'standing')
  stored = np.linalg.norm(standing[..., :3], axis=-1)
  assert np.median(stored) < 1.0  # neither 9.81 (m/s² with gravity) nor ~1 per axis noise in g
  converted = np.linalg.norm(basic_motions.to_project_units(standing)[..., :3], axis=-1)
  per_recording = np.median(converted, axis=1)
  assert np.all(np.abs(per_recording - 9.81) < 0.5), per_recording


def test_acc_is_m_per_s2_not_g(data):
  # Running wrists peak at a few g: in m/s² that is tens, in g it would be a few.
  running = np.linalg.norm(_class(data, 'running')[..., :3], axis=-1)
  assert 10.0 < np.median(running) < 30.0
  assert np.max(running) < 16 * 9.81


def test_gyro_is_rad_per_s(data):
  walking = np.median(np.linalg.norm(_class(data, 'walking')[..., 3:], axis=-1))
  running = np.median(np.linalg.norm(_class(data, 'running')[..., 3:], axis=-1))
  assert 0.5 < walking < 5.0  # arm swing ~30-300 °/s; in °/s this would read 30-300
  assert walking < running < 10.0


def test_rate_is_10_hz_from_walking_cadence(data):
  gyr = _class(data, 'walking')[..., 3:]
  gyr = gyr - gyr.mean(axis=1, keepdims=True)
  power = (np.abs(np.fft.rfft(gyr, axis=1)) ** 2).sum(-1)
  freqs = np.fft.rfftfreq(gyr.shape[1], 1.0 / basic_motions.RATE_HZ)
  swing_hz = np.median(freqs[1:][power[:, 1:].argmax(1)])
  assert 0.5 < swing_hz < 1.1  # arm swing at half a 60-130 steps/min cadence


def test_windows_in_batch_schema():
  w = basic_motions.windows(window_s=5.0, hop_s=2.5)
  n = 80 * 3
  assert w['imu'].shape == (n, 250, 1, 6) and w['imu'].dtype == np.float32
  assert w['imu_sites'].shape == (n, 1) and w['imu_sites'].all()
  assert w['label'].dtype == np.int32 and w['group'].dtype == np.int32
  np.testing.assert_array_equal(np.bincount(w['group']), np.full(80, 3))
  for g in range(80):
    assert len(set(w['label'][w['group'] == g])) == 1
  assert w['class_names'] == ('standing', 'walking', 'running', 'badminton')
  assert all(site in sites.SITES for site in w['sites'])
  standing = w['imu'][w['label'] == 0][:, :, 0, :3]
  assert abs(np.median(np.linalg.norm(standing, axis=-1)) - 9.81) < 0.5


def test_bad_window_raises():
  with pytest.raises(ValueError, match='window_s'):
    basic_motions.windows(window_s=12.0)


def test_walking_swings_the_watch_about_its_face_normal_as_the_corpus_does(data):
  """A watch's axes (z out of the face): the hanging arm's swing turns about the body's
  left-right axis, which is the face normal of a watch on the back of the wrist. Real
  BasicMotions walking and the corpus's clean virtual watch (`virtual_imu`) both read it on z;
  before the wrist sites wore a watch's axes, the corpus read it on y."""
  real = np.sqrt(np.mean(_class(data, 'walking')[..., 3:] ** 2, axis=(0, 1)))
  assert real[2] > 1.3 * max(real[0], real[1]), real
  rng = np.random.default_rng(0)
  swings = []
  for i in range(6):
    subject = motion.sample_subject(rng, i)
    clip = wearable_motion.generate('walking', subject, 6.0, 30.0, rng=rng)
    pose = np.asarray(clip.pose, np.float64)
    twist = forearm.forearm_twist(
      ('walking',), pose, 30.0, rng, right_handed=wearable_motion.habits(subject).right_handed
    )
    swings.append(virtual_imu.from_pose(pose, 30.0, ('left_wrist',), forearm_twist=twist)[:, 0])
  synthetic = np.sqrt(np.mean(np.concatenate(swings)[:, 3:] ** 2, axis=0))
  assert synthetic[2] > 1.3 * max(synthetic[0], synthetic[1]), synthetic
