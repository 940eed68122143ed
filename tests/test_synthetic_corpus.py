"""The synthetic corpus: shapes and rates, time alignment, splits, determinism, text, learnability.

Also the pieces it is made of that have no tests of their own: the camera, the renderer, the
text templates and the output-directory guard.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from sklearn import linear_model, pipeline, preprocessing

from mujo_jax.facts import activities, skeleton, virtual_imu
from mujo_jax.facts.sites import SYNTHETIC_IMU_SITES
from mujo_jax.synthesis import camera, corpus, io, render, text

TINY = corpus.CONFIGS['tiny']


def _split(split: str, **kwargs) -> list[dict]:
  return list(
    corpus.generate_split(
      split, TINY.num_clips[split], TINY.seed, num_subjects=TINY.num_subjects, **kwargs
    )
  )


@pytest.fixture(scope='module')
def tiny_train() -> list[dict]:
  return _split('train')


@pytest.fixture(scope='module')
def tiny_test() -> list[dict]:
  return _split('test')


# ---------------------------------------------------------------- one clip


def test_make_clip_shapes_dtypes_and_rates():
  assert corpus.stream_lengths(corpus.CLIP_S) == (180, 300, 60)
  rng = np.random.default_rng(0)
  for activity in ('squats', 'pushups', 'non_activity'):
    clip = corpus.make_clip(rng, activity, corpus.get_subject(0, 1), corpus.CLIP_S)
    num_sites = len(SYNTHETIC_IMU_SITES)
    expected = {
      'pose': ((180, 17, 3), np.float32),
      'pose_2d': ((180, 18, 2), np.float32),
      'imu': ((300, num_sites, 6), np.float32),
      'imu_sites': ((num_sites,), np.bool_),
      'video': ((60, 32, 32, 1), np.uint8),
    }
    assert set(clip) == set(expected) | {'text', 'label', 'subject', 'reps'}
    for key, (shape, dtype) in expected.items():
      assert clip[key].shape == shape, key
      assert clip[key].dtype == dtype, key
      assert np.all(np.isfinite(clip[key])), key
    assert clip['imu_sites'].all()
    assert clip['label'] == activities.activity_id(activity)
    assert clip['subject'] == 1
    assert isinstance(clip['text'], str) and clip['text']
    assert isinstance(clip['reps'], int) and clip['reps'] >= 0
    # Pelvis-relative pose; normalised 2D pose inside the image.
    np.testing.assert_allclose(clip['pose'][:, skeleton.joint_index('pelvis')], 0.0)
    assert clip['pose_2d'].min() >= 0.0 and clip['pose_2d'].max() <= 1.0
    # Gravity is in the accelerometer: its magnitude averages ~9.81 m/s² over the clip.
    acc_norm = np.linalg.norm(clip['imu'][..., :3], axis=-1)
    assert 8.0 < acc_norm.mean() < 12.0


def test_make_clip_non_integer_length_keeps_streams_aligned():
  clip = corpus.make_clip(np.random.default_rng(1), 'lunges', corpus.get_subject(0, 2), 7.35)
  num_pose, num_imu, num_video = corpus.stream_lengths(7.35)
  assert clip['pose'].shape[0] == num_pose == 220
  assert clip['imu'].shape[0] == num_imu
  assert clip['video'].shape[0] == num_video
  # The three streams cover the same time to within one sample of the slowest stream.
  assert abs(num_imu / corpus.IMU_RATE_HZ - num_pose / corpus.POSE_FPS) <= 1 / corpus.IMU_RATE_HZ
  assert abs(num_video / corpus.VIDEO_FPS - num_pose / corpus.POSE_FPS) <= 1 / corpus.VIDEO_FPS


def test_make_clip_rejects_bad_input():
  rng = np.random.default_rng(0)
  with pytest.raises(ValueError, match='Unknown activity'):
    corpus.make_clip(rng, 'yoga', corpus.get_subject(0, 0))
  with pytest.raises(ValueError, match='clip_s'):
    corpus.make_clip(rng, 'squats', corpus.get_subject(0, 0), 0.2)


def _site_specific_force_norm(pose_world: np.ndarray, site: str) -> np.ndarray:
  """|a - g| of a site's point, from the 3D pose alone (30 Hz, Savitzky-Golay derivative)."""
  proximal, distal, fraction = virtual_imu.site_placement(site)
  a, b = skeleton.joint_index(proximal), skeleton.joint_index(distal)
  position = pose_world[:, a] + fraction * (pose_world[:, b] - pose_world[:, a])
  accel = signal.savgol_filter(position, 9, 3, deriv=2, delta=1 / corpus.POSE_FPS, axis=0)
  return np.linalg.norm(accel + [0.0, 0.0, virtual_imu.GRAVITY], axis=-1)


def test_imu_and_pose_are_aligned_in_time():
  # A clip whose wrists move a lot: the IMU's |acc| at the wrist must follow the specific force
  # that the pose implies at the same instants, and match worse when shifted by 0.1 s.
  activity = 'jumping_jacks'
  rng = np.random.default_rng(3)
  subject = corpus.get_subject(0, 4)
  twin = np.random.Generator(type(rng.bit_generator)())
  twin.bit_generator.state = rng.bit_generator.state
  # make_clip draws the motion first from its generator: the twin reproduces the world pose.
  from mujo_jax.synthesis import motion

  pose_world = motion.generate_motion(activity, subject, corpus.CLIP_S, fps=30.0, rng=twin).pose
  clip = corpus.make_clip(rng, activity, subject)
  np.testing.assert_allclose(
    pose_world - pose_world[:, :1], clip['pose'], atol=1e-5
  )  # the twin is faithful
  site = SYNTHETIC_IMU_SITES.index('left_wrist')
  from_pose = _site_specific_force_norm(np.asarray(pose_world), 'left_wrist')
  imu_times = np.arange(clip['imu'].shape[0]) / corpus.IMU_RATE_HZ
  pose_times = np.arange(from_pose.shape[0]) / corpus.POSE_FPS
  from_imu = np.interp(pose_times, imu_times, np.linalg.norm(clip['imu'][:, site, :3], axis=-1))
  inner = slice(10, -10)  # Away from the smoothing's edge effects.

  def correlation(shift: int) -> float:
    return float(np.corrcoef(np.roll(from_imu, shift)[inner], from_pose[inner])[0, 1])

  assert correlation(0) > 0.9
  assert correlation(0) > max(correlation(-3), correlation(3)) + 0.05


def test_video_frames_follow_the_2d_pose():
  clip = corpus.make_clip(np.random.default_rng(5), 'squats', corpus.get_subject(0, 0))
  video = clip['video'][..., 0].astype(np.float64)
  assert video.shape[0] == 60
  rows, cols = np.mgrid[0 : corpus.VIDEO_SIZE, 0 : corpus.VIDEO_SIZE] + 0.5
  weight = video.sum(axis=(1, 2))
  assert np.all(weight > 0), 'every frame shows the figure'
  centroid = np.stack(
    [(video * cols).sum((1, 2)) / weight, (video * rows).sum((1, 2)) / weight], -1
  )
  # Frame m shows pose frame 3m: the ink centroid lies near the keypoints' centre then.
  keypoints_px = clip['pose_2d'][::3] * corpus.VIDEO_SIZE
  body_centre = 0.5 * (keypoints_px.min(axis=1) + keypoints_px.max(axis=1))
  assert np.max(np.linalg.norm(centroid - body_centre, axis=-1)) < 4.0


# ---------------------------------------------------------------- splits and determinism


@pytest.mark.parametrize('num_subjects', [3, 12, 60, 101])
def test_split_subjects_are_disjoint_and_cover_all(num_subjects):
  subjects = corpus.split_subjects(num_subjects)
  assert set(subjects) == set(corpus.SPLITS)
  ids = [i for split in corpus.SPLITS for i in subjects[split]]
  assert sorted(ids) == list(range(num_subjects))
  assert all(subjects[split] for split in corpus.SPLITS)


def test_split_subjects_rejects_too_few():
  with pytest.raises(ValueError, match='num_subjects'):
    corpus.split_subjects(2)


def test_generated_clips_use_only_their_split_subjects(tiny_train, tiny_test):
  subjects = corpus.split_subjects(TINY.num_subjects)
  assert {clip['subject'] for clip in tiny_train} <= set(subjects['train'])
  assert {clip['subject'] for clip in tiny_test} <= set(subjects['test'])
  assert not {clip['subject'] for clip in tiny_train} & {clip['subject'] for clip in tiny_test}


def test_classes_are_balanced(tiny_train):
  counts = np.bincount([clip['label'] for clip in tiny_train], minlength=11)
  assert counts.max() - counts.min() <= 1
  plan = corpus.clip_plan('validation', 25, seed=3, num_subjects=12)
  counts = np.bincount([activities.activity_id(a) for a, _ in plan], minlength=11)
  assert counts.max() - counts.min() <= 1


def _assert_same_clips(a: list[dict], b: list[dict]) -> None:
  assert len(a) == len(b)
  for clip_a, clip_b in zip(a, b, strict=True):
    for key in clip_a:
      np.testing.assert_array_equal(clip_a[key], clip_b[key], err_msg=key)


def test_generation_is_deterministic_given_the_seed():
  def run(seed, workers=1):
    return list(corpus.generate_split('validation', 5, seed, num_subjects=12, num_workers=workers))

  first = run(7)
  _assert_same_clips(first, run(7))
  _assert_same_clips(first, run(7, workers=2))  # Worker processes give the same bytes.
  other = run(8)
  assert any(not np.array_equal(a['imu'], b['imu']) for a, b in zip(first, other, strict=True))


# ---------------------------------------------------------------- text

# A word (stem) of each class that every description of that class contains.
_CLASS_WORDS = {
  'squats': ('squat',),
  'lunges': ('lunge',),
  'bicep_curls': ('curl',),
  'situps': ('sit-up', 'situp', 'sitting up'),
  'pushups': ('push-up', 'pushup', 'press-up'),
  'tricep_extensions': ('extension',),
  'dumbbell_rows': ('row',),
  'jumping_jacks': ('jumping jack', 'star jump'),
  'dumbbell_shoulder_press': ('press',),
  'lateral_shoulder_raises': ('raise',),
  'non_activity': ('standing', 'resting', 'shifting', 'walk', 'pausing', 'break', 'stands'),
}


def test_text_mentions_the_activity_and_varies():
  rng = np.random.default_rng(0)
  for activity in activities.ACTIVITIES:
    sentences = {
      text.describe(activity, rng, reps=int(rng.integers(0, 15)), tempo='fast') for _ in range(40)
    }
    assert len(sentences) >= 5, activity
    for sentence in sentences:
      assert any(word in sentence.lower() for word in _CLASS_WORDS[activity]), sentence
      assert sentence[0].isupper() and sentence.endswith('.')


def test_text_is_deterministic_and_reports_the_facts():
  a = [text.describe('bicep_curls', np.random.default_rng(4), reps=9, tempo='slow')]
  b = [text.describe('bicep_curls', np.random.default_rng(4), reps=9, tempo='slow')]
  assert a == b
  sentences = [
    text.describe('squats', np.random.default_rng(i), reps=12, tempo='slow', mention_probability=1)
    for i in range(10)
  ]
  assert all('12' in s for s in sentences)
  assert all(any(w in s for w in ('slow', 'slowly')) for s in sentences)
  assert text.tempo_label(1.0) == 'fast' and text.tempo_label(4.0) == 'slow'


def test_text_rejects_bad_input():
  rng = np.random.default_rng(0)
  with pytest.raises(ValueError, match='activity'):
    text.describe('yoga', rng)
  with pytest.raises(ValueError, match='tempo'):
    text.describe('squats', rng, tempo='glacial')


def test_clip_text_mentions_its_activity(tiny_train):
  for clip in tiny_train:
    activity = activities.ACTIVITIES[clip['label']]
    assert any(word in clip['text'].lower() for word in _CLASS_WORDS[activity]), clip['text']


# ---------------------------------------------------------------- learnability


def _imu_features(clips: list[dict]) -> np.ndarray:
  """Per site and channel: mean, standard deviation and energy of the first difference."""
  imu = np.stack([clip['imu'] for clip in clips])  # (N, T, S, 6)
  diff = np.diff(imu, axis=1)
  features = [imu.mean(axis=1), imu.std(axis=1), np.sqrt((diff**2).mean(axis=1))]
  return np.concatenate(features, axis=-1).reshape(len(clips), -1)


def test_imu_classifier_beats_chance_on_held_out_subjects(tiny_train, tiny_test):
  labels_train = np.array([clip['label'] for clip in tiny_train])
  labels_test = np.array([clip['label'] for clip in tiny_test])
  classifier = pipeline.make_pipeline(
    preprocessing.StandardScaler(), linear_model.LogisticRegression(C=1.0, max_iter=2000)
  )
  classifier.fit(_imu_features(tiny_train), labels_train)
  accuracy = classifier.score(_imu_features(tiny_test), labels_test)
  # Chance is 1/11 ~ 0.09.
  assert accuracy >= 0.6, accuracy


# ---------------------------------------------------------------- camera and renderer


def test_camera_orientation_and_projection():
  view = camera.Viewpoint(azimuth_rad=0.0, elevation_rad=0.0, distance_m=3.0, roll_rad=0.0)
  position, rotation = camera.look_at(np.zeros(3), view)
  np.testing.assert_allclose(position, [3.0, 0.0, 0.0])
  np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
  cam = camera.Camera(
    position=position, rotation=rotation, focal=1.0, principal_point=np.array([0.5, 0.5])
  )
  points = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]])
  projected = camera.project(points, cam)
  np.testing.assert_allclose(projected[0], [0.5, 0.5])  # On the optical axis.
  # The camera on +x looks at a person facing +x: their left (+y) is on the image's right,
  # up (+z) is towards the top (smaller y).
  assert projected[1, 0] > 0.5 and projected[2, 1] < 0.5
  np.testing.assert_allclose(projected[1, 0] - 0.5, 0.5 / 3.0)  # Pinhole: f * X / Z.
  with pytest.raises(ValueError, match='behind'):
    camera.project(np.array([[4.0, 0.0, 0.0]]), cam)


def test_frame_clip_keeps_the_clip_in_view():
  rng = np.random.default_rng(0)
  pose = motion_pose('pushups')
  coco = skeleton.h36m_to_coco(pose)
  for _ in range(20):
    cam = camera.frame_clip(coco, rng)
    projected = camera.project(coco, cam)
    assert projected.min() >= 0.0 and projected.max() <= 1.0
    extent = projected.max(axis=(0, 1)) - projected.min(axis=(0, 1))
    assert 0.69 <= extent.max() <= 0.93


def test_viewpoints_mostly_face_the_subject():
  rng = np.random.default_rng(0)
  facing = 2.0
  ranges = camera.CameraRanges()
  offsets = []
  for _ in range(500):
    view = camera.sample_viewpoint(rng, ranges, facing_rad=facing)
    offsets.append(np.angle(np.exp(1j * (view.azimuth_rad - facing)), deg=True))
    assert np.deg2rad(-5.0) - 1e-9 <= view.elevation_rad <= np.deg2rad(25.0) + 1e-9
    assert 2.5 <= view.distance_m <= 5.0
  inside = np.abs(offsets) <= ranges.azimuth_spread_deg
  # Within the spread except for the `any_azimuth_probability` share (10 %, some land inside).
  assert 0.85 <= inside.mean() <= 0.99
  # Without a facing direction: any azimuth.
  azimuths = [camera.sample_viewpoint(rng).azimuth_rad for _ in range(500)]
  assert np.histogram(azimuths, bins=4, range=(0, 2 * np.pi))[0].min() > 80


def motion_pose(activity: str) -> np.ndarray:
  from mujo_jax.synthesis import motion

  return motion.generate_motion(
    activity, corpus.get_subject(0, 0), 3.0, fps=30.0, rng=np.random.default_rng(0)
  ).pose


def test_render_draws_an_antialiased_figure():
  pose_2d = np.random.default_rng(0).uniform(0.2, 0.8, size=(4, 18, 2)) * 32
  frames = render.render(pose_2d, 32)
  assert frames.shape == (4, 32, 32) and frames.dtype == np.uint8
  lit = frames > 0
  assert np.all(lit.mean(axis=(1, 2)) > 0.03)  # Visible in every frame,
  assert np.all(lit.mean(axis=(1, 2)) < 0.8)  # but a figure, not a filled image.
  style = render.RenderStyle()
  levels = {round(255 * v) for v in (style.trunk_level, style.left_level, style.right_level)}
  edge = (frames > 0) & ~np.isin(frames, list(levels))
  assert edge.sum() > 0.1 * lit.sum()  # Anti-aliased edges: intermediate gray levels.


def test_render_follows_the_joints():
  # A single horizontal bone at row 10 (all other joints on top of it): ink on row 10 only.
  pose_2d = np.zeros((1, 18, 2))
  pose_2d[..., 0], pose_2d[..., 1] = 16.0, 10.5
  pose_2d[0, skeleton.joint_index('right_wrist', 'coco')] = [28.0, 10.5]
  pose_2d[0, skeleton.joint_index('right_elbow', 'coco')] = [16.0, 10.5]
  frame = render.render(pose_2d, 32, style=render.RenderStyle(line_width=1 / 32))[0]
  assert frame[10, 20:28].min() > 200
  assert frame[13:, :].max() == 0 and frame[:8, :].max() == 0


def test_render_rejects_bad_input():
  with pytest.raises(ValueError, match='shape'):
    render.render(np.zeros((2, 17, 2)), 32)
  with pytest.raises(ValueError, match='non-finite'):
    render.render(np.full((2, 18, 2), np.nan), 32)


# ---------------------------------------------------------------- output directories


def test_ensure_empty_out_dir(tmp_path):
  out = io.ensure_empty_out_dir(tmp_path / 'a' / 'b', overwrite=False)
  assert out.is_dir()
  (out / 'old.npy').write_bytes(b'x')
  (out / 'sub').mkdir()
  with pytest.raises(FileExistsError, match='not empty'):
    io.ensure_empty_out_dir(out, overwrite=False)
  assert (out / 'old.npy').exists()
  io.ensure_empty_out_dir(out, overwrite=True)
  assert out.is_dir() and not any(out.iterdir())
  (tmp_path / 'file').write_text('x')
  with pytest.raises(FileExistsError, match='not a directory'):
    io.ensure_empty_out_dir(tmp_path / 'file', overwrite=True)
