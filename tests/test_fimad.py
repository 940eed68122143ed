"""FiMAD end to end: synthetic writer -> manual layout -> `tfds build` -> source -> windows.

The manual tree uses real clip ids from the authors' `train_val_split.json` (shared folder), plus
hand-made clips: one with a known event (a fast right-forearm flick at a known time, a bright
frame and a feature spike at the same time) whose streams have different rates than the batch
schema's, one too short, and one on disk but in no split.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from mujo_jax.data import fimad, schema
from mujo_jax.facts import fimad_layout as layout
from mujo_jax.facts import skeleton, virtual_imu
from mujo_jax.facts.sites import FIMAD_SITES
from mujo_jax.facts.tokenizer import ByteTokenizer
from mujo_jax.synthesis import fimad_writer

REPO = Path(__file__).resolve().parents[1]
SHARED_FIMAD = Path(__file__).resolve().parents[2] / 'shared/data/fimad'
REAL_SPLIT_FILE = SHARED_FIMAD / 'train_val_split.json'

pytestmark = pytest.mark.skipif(
  not REAL_SPLIT_FILE.is_file(),
  reason=f'the real FiMAD split file is not at {REAL_SPLIT_FILE} (shared data folder absent)',
)

NUM_WRITTEN = 6
EVENT_S = 3.05  # Peak angular speed of the forearm flick.
FLICK_START_S, FLICK_S = 2.9, 0.3
EVENT_POSE_FPS = 50.0
EVENT_IMU_RATE_HZ = 25.0
EVENT_FEATURE_RATE_HZ = 2.0  # HERO-like: one feature vector per 0.5 s.
EVENT_FRAME_FPS = 25.0
EVENT_IMU_SITES = ('right_wrist', 'head', 'right_forearm', 'left_thigh', 'pelvis')
BRIGHT_S = (3.0, 3.2)


def _config(
  builder_config: str = 'features',
  data_dir: str | None = None,
  modalities=('imu', 'pose', 'text', 'video'),
  window_s: float = 5.0,
  imu_sites=('left_wrist', 'right_wrist', 'left_thigh', 'right_thigh', 'head'),
) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(
    {
      'window_s': window_s,
      'modalities': tuple(modalities),
      'data': {
        'name': 'fimad',
        'tfds_data_dir': data_dir,
        'builder_config': builder_config,
        'imu_sites': tuple(imu_sites),
        'imu_rate_hz': 50.0,
        'pose_fps': 30.0,
        'video_fps': 10.0,
      },
      'model': {'text_max_len': 64, 'video_input': builder_config},
    }
  )


def _flick_pose(duration_s: float, fps: float) -> np.ndarray:
  """Standing still, then the right forearm swings up by 1.2 rad in 0.3 s and stays there."""
  times = np.arange(int(round(duration_s * fps))) / fps
  phase = np.clip((times - FLICK_START_S) / FLICK_S, 0.0, 1.0)
  angle = 1.2 * (1.0 - np.cos(np.pi * phase)) / 2.0
  rotations = np.tile(np.eye(3), (len(times), skeleton.NUM_H36M_JOINTS, 1, 1))
  cos, sin = np.cos(angle), np.sin(angle)
  elbow = skeleton.joint_index('right_elbow')
  rotations[:, elbow, 1, 1], rotations[:, elbow, 1, 2] = cos, -sin
  rotations[:, elbow, 2, 1], rotations[:, elbow, 2, 2] = sin, cos
  root = np.tile([0.3, -0.2, 1.0], (len(times), 1))  # World position: not pelvis-relative.
  return skeleton.forward_kinematics(rotations, skeleton.rest_offsets(), root).astype(np.float32)


def _write_clip(
  root: Path,
  clip_id: str,
  *,
  pose: np.ndarray,
  pose_fps: float,
  features: np.ndarray,
  feature_rate_hz: float,
  frames: np.ndarray,
  frame_fps: float,
  imu: np.ndarray | None = None,
  imu_rate_hz: float = 0.0,
  imu_sites=None,
) -> None:
  paths = layout.clip_paths(root, clip_id)
  np.save(paths.pose, pose)
  np.save(paths.video_features, features)
  np.save(paths.video_frames_npy, frames)
  meta = {'pose_fps': pose_fps, 'video_feature_rate_hz': feature_rate_hz, 'video_fps': frame_fps}
  if imu is not None:
    np.save(paths.imu, imu)
    meta.update(imu_rate_hz=imu_rate_hz, imu_sites=list(imu_sites))
  paths.meta.write_text(json.dumps(meta))


def _unused_id(split: list[str], taken: set[str], index: int) -> str:
  return [clip_id for clip_id in split if clip_id not in taken][index]


def _tfds_build(manual: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
  tfds_cli = Path(sys.executable).with_name('tfds')
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=str(REPO))
  return subprocess.run(
    [
      str(tfds_cli),
      'build',
      str(REPO / 'tfds_builders/fimad'),
      f'--manual_dir={manual}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
      *extra,
    ],
    capture_output=True,
    text=True,
    cwd=REPO,
    env=env,
    check=False,
    timeout=300,
  )


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
  """Writes the manual tree, adds the hand-made clips, builds both configs with `tfds build`."""
  tmp = tmp_path_factory.mktemp('fimad')
  manual, data_dir = tmp / 'manual', tmp / 'tfds'
  real = layout.read_split_file(REAL_SPLIT_FILE)
  chosen = fimad_writer.write_fimad(
    manual, NUM_WRITTEN, REAL_SPLIT_FILE, seed=3, video_form='both', drop_imu_fraction=0.34
  )
  taken = set(chosen['train']) | set(chosen['validation'])
  event_id = _unused_id(real['train'], taken, 0)
  short_id = _unused_id(real['validation'], taken, 0)

  pose = _flick_pose(7.0, EVENT_POSE_FPS)
  imu = virtual_imu.from_pose(pose, EVENT_POSE_FPS, EVENT_IMU_SITES, out_rate_hz=EVENT_IMU_RATE_HZ)
  features = np.zeros((int(7.0 * EVENT_FEATURE_RATE_HZ), fimad_writer.FEATURE_DIM), np.float32)
  features[int(EVENT_S * EVENT_FEATURE_RATE_HZ), 0] = 1.0
  frame_times = np.arange(int(7.0 * EVENT_FRAME_FPS)) / EVENT_FRAME_FPS
  frames = np.full((len(frame_times), 48, 64, 3), 10, np.uint8)  # 4:3 RGB, cropped to square.
  bright = (frame_times >= BRIGHT_S[0] - 1e-9) & (frame_times < BRIGHT_S[1] - 1e-9)
  frames[bright, 16:32, 24:40] = 250
  _write_clip(
    manual,
    event_id,
    pose=pose,
    pose_fps=EVENT_POSE_FPS,
    features=features,
    feature_rate_hz=EVENT_FEATURE_RATE_HZ,
    frames=frames,
    frame_fps=EVENT_FRAME_FPS,
    imu=imu,
    imu_rate_hz=EVENT_IMU_RATE_HZ,
    imu_sites=EVENT_IMU_SITES,
  )
  language = json.loads((manual / layout.LANGUAGE_FILE).read_text())
  language[event_id] = {'chapter': 'Arm Flick', 'normalized_chapters': ['arm flick']}
  (manual / layout.LANGUAGE_FILE).write_text(json.dumps(language))

  still = _flick_pose(3.0, 30.0)
  _write_clip(
    manual,
    short_id,
    pose=still,
    pose_fps=30.0,
    features=features[:6],
    feature_rate_hz=2.0,
    frames=np.zeros((30, 32, 32), np.uint8),
    frame_fps=10.0,
  )
  _write_clip(
    manual,
    'notInAnySplit___0',
    pose=pose,
    pose_fps=EVENT_POSE_FPS,
    features=features,
    feature_rate_hz=EVENT_FEATURE_RATE_HZ,
    frames=frames,
    frame_fps=EVENT_FRAME_FPS,
  )

  result = _tfds_build(manual, data_dir)  # No --config: builds `features` and `frames`.
  assert result.returncode == 0, result.stderr[-4000:]
  return {
    'manual': manual,
    'data_dir': data_dir,
    'chosen': chosen,
    'real': real,
    'event_id': event_id,
    'short_id': short_id,
    'language': language,
  }


def _records(corpus, builder_config: str, split: str) -> dict[str, dict]:
  source = fimad.source(_config(builder_config, str(corpus['data_dir'])), split)
  records = [source[i] for i in range(len(source))]
  return {fimad._text(record['clip_id']): record for record in records}


def test_splits_follow_the_real_split_file(corpus):
  import tensorflow_datasets as tfds

  for builder_config in ('features', 'frames'):
    train = _records(corpus, builder_config, 'train')
    validation = _records(corpus, builder_config, 'validation')
    assert set(train) == set(corpus['chosen']['train']) | {corpus['event_id']}
    assert set(validation) == set(corpus['chosen']['validation'])  # The short clip is skipped.
    assert set(train) <= set(corpus['real']['train'])
    assert set(validation) <= set(corpus['real']['validation'])
    for clip_id, record in {**train, **validation}.items():
      assert fimad._text(record['video_id']) == clip_id.rpartition('___')[0]
  metadata = tfds.builder('fimad/features', data_dir=str(corpus['data_dir'])).info.metadata
  on_disk_train = len(corpus['chosen']['train']) + 1
  on_disk_val = len(corpus['chosen']['validation']) + 1
  assert metadata['clips_missing_on_disk'] == {
    'train': len(corpus['real']['train']) - on_disk_train,
    'validation': len(corpus['real']['validation']) - on_disk_val,
  }
  assert metadata['clips_not_in_split'] == 1
  assert metadata['counts_validation']['shorter_than_min_clip_s'] == 1
  assert metadata['video_feature_dim'] == fimad_writer.FEATURE_DIM
  # The writer takes train and validation in the split file's proportion (1584 / 9811 -> 1 of 6).
  assert len(corpus['chosen']['validation']) == 1


def test_text_fields_match_language_data(corpus):
  records = {**_records(corpus, 'features', 'train'), **_records(corpus, 'features', 'validation')}
  for clip_id, record in records.items():
    entry = layout.parse_language_entry(corpus['language'][clip_id], clip_id, 'language_data.json')
    assert fimad._text(record['chapter']) == entry['chapter'] != ''
    assert fimad._text(record['normalized_chapter']) == entry['normalized_chapter']
    assert fimad._texts(record['subtitles']) == entry['subtitles']
    assert fimad._texts(record['descriptions']) == entry['descriptions']
  # Entries written as strings, lists and with missing fields all arrive.
  raw = [corpus['language'][c] for c in records]
  assert any(isinstance(e.get('descriptions'), str) for e in raw) or any(
    'subtitles' not in e for e in raw
  )
  event = records[corpus['event_id']]
  assert fimad._texts(event['descriptions']) == [] and fimad.candidate_texts(event) == ['arm flick']
  written = records[corpus['chosen']['train'][0]]
  assert fimad.label_id(written) >= 0 and fimad.label_id(event) == -1


def test_imu_is_synthesised_from_pose_when_its_file_is_absent(corpus):
  records = {**_records(corpus, 'features', 'train'), **_records(corpus, 'features', 'validation')}
  synthesised = 0
  for clip_id, record in records.items():
    paths = layout.clip_paths(corpus['manual'], clip_id)
    pose_file = np.load(paths.pose)
    np.testing.assert_allclose(record['pose'], pose_file - pose_file[:, :1], atol=1e-6)
    if paths.imu.exists():
      assert not record['imu_synthesized']
      continue
    synthesised += 1
    assert record['imu_synthesized'] and record['imu_sites'].all()
    assert float(record['imu_rate_hz']) == 50.0
    expected = virtual_imu.from_pose(
      pose_file, float(record['pose_fps']), FIMAD_SITES, out_rate_hz=50.0
    )
    np.testing.assert_allclose(record['imu'], expected, rtol=1e-5, atol=1e-5)
  assert synthesised >= 2
  # A file with a subset of the sites: those sites present, the others masked, values in place.
  event = records[corpus['event_id']]
  sites = list(FIMAD_SITES)
  assert [sites[i] for i in np.flatnonzero(event['imu_sites'])] == sorted(
    EVENT_IMU_SITES, key=sites.index
  )
  imu_file = np.load(layout.clip_paths(corpus['manual'], corpus['event_id']).imu)
  np.testing.assert_array_equal(event['imu'][:, sites.index('head')], imu_file[:, 1])


def _event_times(window: dict) -> dict[str, float]:
  """Time (s from the window start) of the flick as each modality sees it."""
  wrist = window['pose'][:, skeleton.joint_index('right_wrist')]
  speed = np.linalg.norm(np.diff(wrist, axis=0), axis=-1)
  gyro = np.linalg.norm(window['imu'][:, 1, 3:], axis=-1)  # Site 1 of the config: right_wrist.
  times = {'pose': (np.argmax(speed) + 0.5) / 30.0, 'imu': np.argmax(gyro) / 50.0}
  video = window['video']
  signal = video[:, 0] if video.ndim == 2 else video[:, 12:20, 12:20].mean(axis=(1, 2, 3))
  hits = np.flatnonzero(signal > signal.max() / 2)
  times['video_first'], times['video_last'] = hits[0] / 10.0, (hits[-1] + 1) / 10.0
  return times


@pytest.mark.parametrize('builder_config', ['features', 'frames'])
def test_windows_align_modalities_in_time(corpus, builder_config):
  record = _records(corpus, builder_config, 'train')[corpus['event_id']]
  config = _config(builder_config, str(corpus['data_dir']))
  starts = set()
  for seed in range(8):
    window = fimad.make_window(record, np.random.default_rng(seed), config)
    assert window['imu'].shape == (250, 5, 6) and window['pose'].shape == (150, 17, 3)
    assert window['video'].shape[0] == 50
    times = _event_times(window)
    assert abs(times['pose'] - times['imu']) < 0.05, times
    assert times['video_first'] - 0.05 <= times['pose'] < times['video_last'] + 0.05, times
    starts.add(round(EVENT_S - times['pose'], 1))
  assert len(starts) > 1  # Random windows really start at different times.
  centre = fimad.make_window(record, None, config)
  # The streams last 7 s (the resampled 25 Hz IMU covers the duration of its samples), so the
  # centred 5 s window starts at 1.0 s.
  assert abs(_event_times(centre)['pose'] - (EVENT_S - 1.0)) < 0.05


def test_window_schema_presence_and_text(corpus):
  records = _records(corpus, 'frames', 'train')
  clip_id = next(c for c in corpus['chosen']['train'] if len(fimad.candidate_texts(records[c])) > 1)
  record = records[clip_id]
  config = _config('frames', str(corpus['data_dir']))
  tokenizer = ByteTokenizer(config.model.text_max_len)
  seen = set()
  for seed in range(12):
    window = fimad.make_window(record, np.random.default_rng(seed), config)
    assert set(window) == {'imu', 'imu_sites', 'pose', 'video', 'text', 'label', 'present'}
    assert window['imu'].dtype == np.float32 and window['imu_sites'].dtype == bool
    assert window['video'].dtype == np.uint8 and window['video'].shape == (50, 32, 32, 1)
    assert window['text'].dtype == np.int32 and window['text'].shape == (64,)
    assert window['present'].tolist() == [True] * 4
    seen.add(tokenizer.decode(window['text']))
  expected = {tokenizer.decode(tokenizer.encode(t)) for t in fimad.candidate_texts(record)}
  assert seen <= expected and len(seen) > 1
  only = fimad.make_window(record, None, _config('frames', modalities=('imu', 'text')))
  assert set(only) == {'imu', 'imu_sites', 'text', 'label', 'present'}
  assert tokenizer.decode(only['text']) == tokenizer.decode(
    tokenizer.encode(fimad.candidate_texts(record)[0])
  )
  no_text = dict(record, descriptions=np.array([], object), chapter=b'', normalized_chapter=b'')
  window = fimad.make_window(no_text, None, config)
  assert window['present'].tolist() == [True, True, False, True] and not window['text'].any()
  # Poses estimated from video have no forearm roll: masked, never read, when the model asks.
  config.model.pose_forearm_roll = True
  window = fimad.make_window(record, None, config)
  assert not window[schema.FOREARM_PRONATION_PRESENT]
  assert window[schema.FOREARM_PRONATION].shape == (150, 2)
  assert not window[schema.FOREARM_PRONATION].any()


def test_source_errors_are_clear(corpus, tmp_path):
  with pytest.raises(FileNotFoundError, match='tfds build tfds_builders/fimad'):
    fimad.source(_config('features', str(tmp_path)), 'train')
  with pytest.raises(ValueError, match='min_clip_s'):
    fimad.source(_config('features', str(corpus['data_dir']), window_s=6.0), 'train')
  with pytest.raises(ValueError, match='video_input'):
    config = _config('features', str(corpus['data_dir']))
    config.model.video_input = 'frames'
    fimad.source(config, 'train')
  with pytest.raises(ValueError, match='video_feature_dim'):
    config = _config('features', str(corpus['data_dir']))
    config.data.video_feature_dim = fimad_writer.FEATURE_DIM + 1
    fimad.source(config, 'train')
  with pytest.raises(ValueError, match='imu_sites'):
    fimad.source(_config('features', str(corpus['data_dir']), imu_sites=('left_ear',)), 'train')


def _break(manual: Path, clip_id: str, kind: str) -> Path:
  paths = layout.clip_paths(manual, clip_id)
  if kind == 'truncated_pose':
    paths.pose.write_bytes(paths.pose.read_bytes()[:100])
    return paths.pose
  if kind == 'imu_shape':
    np.save(paths.imu, np.zeros((10, 3, 6), np.float32))
    return paths.imu
  if kind == 'meta_json':
    paths.meta.write_text('{"pose_fps": 30,')
    return paths.meta
  np.save(paths.video_features, np.full((10, 4), np.nan, np.float32))
  return paths.video_features


@pytest.mark.parametrize('kind', ['truncated_pose', 'imu_shape', 'meta_json', 'nan_features'])
def test_corrupt_files_name_clip_and_file(corpus, tmp_path, kind):
  manual = tmp_path / 'manual'
  shutil.copytree(corpus['manual'], manual)
  clip_id = corpus['event_id']  # Has every file, IMU included.
  broken = _break(manual, clip_id, kind)
  from tfds_builders.fimad import fimad_dataset_builder

  builder = fimad_dataset_builder.Builder(config='features', data_dir=str(tmp_path / 'out'))
  with pytest.raises(layout.CorruptClipError) as error:
    builder._read_clip(manual, clip_id, {})
  assert clip_id in str(error.value) and str(broken) in str(error.value)


def test_corrupt_file_stops_tfds_build(corpus, tmp_path):
  manual = tmp_path / 'manual'
  shutil.copytree(corpus['manual'], manual)
  broken = _break(manual, corpus['event_id'], 'truncated_pose')
  result = _tfds_build(manual, tmp_path / 'tfds', '--config=features')
  assert result.returncode != 0
  assert corpus['event_id'] in result.stderr and str(broken) in result.stderr


def test_writer_refuses_bad_input_before_writing(corpus, tmp_path):
  with pytest.raises(FileExistsError):
    fimad_writer.write_fimad(corpus['manual'], 2, REAL_SPLIT_FILE)
  bad_split = tmp_path / 'split.json'
  bad_split.write_text(json.dumps({'train': ['a___0'], 'val': ['a___0']}))
  with pytest.raises(ValueError, match='in both splits'):
    fimad_writer.write_fimad(tmp_path / 'out', 2, bad_split)
  with pytest.raises(ValueError, match='num_clips'):
    fimad_writer.write_fimad(tmp_path / 'out', 1, REAL_SPLIT_FILE)
  assert not (tmp_path / 'out').exists()
  # Same seed, same corpus.
  again = fimad_writer.write_fimad(
    tmp_path / 'again',
    NUM_WRITTEN,
    REAL_SPLIT_FILE,
    seed=3,
    video_form='both',
    drop_imu_fraction=0.34,
  )
  assert again == corpus['chosen']
  clip_id = again['train'][0]
  for folder in (layout.POSE_DIR, layout.VIDEO_FEATURES_DIR):
    np.testing.assert_array_equal(
      np.load(tmp_path / 'again' / folder / f'{clip_id}.npy'),
      np.load(corpus['manual'] / folder / f'{clip_id}.npy'),
    )


@pytest.mark.slow  # End to end: pretraining on the built corpus (~30 s).
def test_pretrain_on_built_fimad_trains_a_few_steps(corpus, tmp_path):
  """`configs/pretrain.py:data=fimad,size=tiny` runs end to end on the built corpus."""
  from configs import pretrain
  from mujo_jax import train

  for builder_config in ('features', 'frames'):
    # The video encoder's input path is what differs between the two builder configs.
    config = pretrain.get_config(
      'data=fimad,size=tiny,runlocal,batch_size=4,modalities=imu+video+text'
    )
    config.data.tfds_data_dir = str(corpus['data_dir'])
    config.data.builder_config = builder_config
    config.model.video_input = builder_config
    config.total_steps = 3
    summary = train.train_and_evaluate(config, tmp_path / builder_config)
    assert summary['steps'] == 3
    assert np.isfinite(summary['final_loss'])
    assert set(summary['per_pair_loss']) == {'imu-video', 'imu-text', 'video-text'}
