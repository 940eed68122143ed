"""The `mujo_synthetic` TFDS builder: built by the `tfds` command line and from Python, read back.

Both paths must give the same dataset name (`mujo_synthetic`), the same features and the same
records, and `tfds.data_source` must read the result without importing the builder.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from mujo_jax.facts import activities
from mujo_jax.facts.sites import SYNTHETIC_IMU_SITES
from mujo_jax.synthesis import corpus

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = corpus.CONFIGS['tiny']
EXPECTED_SHAPES = {
  'pose': ((180, 17, 3), np.float32),
  'pose_2d': ((180, 18, 2), np.float32),
  'imu': ((300, len(SYNTHETIC_IMU_SITES), 6), np.float32),
  'imu_sites': ((len(SYNTHETIC_IMU_SITES),), np.bool_),
  'video': ((60, 32, 32, 1), np.uint8),
}


def _tfds_executable() -> str:
  return str(pathlib.Path(sys.executable).with_name('tfds'))


def _check_record(record: dict) -> None:
  for key, (shape, dtype) in EXPECTED_SHAPES.items():
    assert record[key].shape == shape, key
    assert record[key].dtype == dtype, key
  assert isinstance(record['text'], bytes) and record['text'].decode('utf-8')
  assert 0 <= int(record['label']) < len(activities.ACTIVITIES)
  assert int(record['reps']) >= 0
  assert record['imu_sites'].all()


@pytest.fixture(scope='module')
def cli_data_dir(tmp_path_factory) -> pathlib.Path:
  data_dir = tmp_path_factory.mktemp('tfds_cli')
  result = subprocess.run(
    [
      _tfds_executable(),
      'build',
      'tfds_builders/mujo_synthetic',
      '--config=tiny',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    cwd=REPO_ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert result.returncode == 0, result.stderr[-4000:]
  return data_dir


def test_cli_build_writes_array_records_named_mujo_synthetic(cli_data_dir):
  version_dir = cli_data_dir / 'mujo_synthetic' / 'tiny' / '1.5.0'
  info = json.loads((version_dir / 'dataset_info.json').read_text())
  assert info['name'] == 'mujo_synthetic'
  assert info['fileFormat'] == 'array_record'
  counts = {split['name']: sum(int(n) for n in split['shardLengths']) for split in info['splits']}
  assert counts == dict(TINY.num_clips)
  assert sorted(p.name.split('.')[0] for p in version_dir.glob('*.array_record-*')) == sorted(
    f'mujo_synthetic-{split}' for split in corpus.SPLITS
  )


def test_cli_build_reads_with_tfds_data_source_without_the_builder(cli_data_dir):
  # A fresh interpreter that never imports our builder: TFDS reads the stored dataset info.
  script = (
    'import sys, tensorflow_datasets as tfds\n'
    f'ds = tfds.data_source("mujo_synthetic/tiny", split="test", data_dir=r"{cli_data_dir}")\n'
    'r = ds[0]\n'
    'print(len(ds), r["imu"].shape, r["video"].shape, "mujo_jax.synthesis" in '
    'str(sys.modules.keys()))\n'
  )
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run(
    [sys.executable, '-c', script],
    cwd='/',
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
    env=env,
  )
  assert result.returncode == 0, result.stderr[-4000:]
  num_sites = len(SYNTHETIC_IMU_SITES)
  assert result.stdout.split('\n')[-2] == (
    f'{TINY.num_clips["test"]} (300, {num_sites}, 6) (60, 32, 32, 1) False'
  )


def test_ensure_built_reuses_the_cli_build_and_reads_features(cli_data_dir):
  import tensorflow_datasets as tfds

  from mujo_jax.data import synthetic_source

  records = sorted((cli_data_dir / 'mujo_synthetic' / 'tiny').rglob('*.array_record-*'))
  mtimes = [p.stat().st_mtime_ns for p in records]
  builder = synthetic_source.ensure_built('tiny', cli_data_dir)
  assert [p.stat().st_mtime_ns for p in records] == mtimes  # Reused, not rebuilt.
  assert builder.info.features['label'].names == list(activities.ACTIVITIES)
  assert builder.info.metadata['imu_sites'] == list(SYNTHETIC_IMU_SITES)
  # The corpus records the code that made it (read back from the stored metadata).
  assert builder.info.metadata['source_digest'] == corpus.SOURCE_DIGEST
  for split in corpus.SPLITS:
    source = synthetic_source.data_source('tiny', split, cli_data_dir)
    assert len(source) == TINY.num_clips[split]
    _check_record(source[0])
    subjects = {int(source[i]['subject']) for i in range(len(source))}
    assert subjects <= set(corpus.split_subjects(TINY.num_subjects)[split])
  direct = tfds.data_source('mujo_synthetic/tiny', split='train', data_dir=cli_data_dir)
  assert len(direct) == TINY.num_clips['train']


def test_python_build_matches_cli_build(cli_data_dir, tmp_path):
  from mujo_jax.data import synthetic_source

  builder = synthetic_source.ensure_built('tiny', tmp_path)
  assert builder.info.full_name == 'mujo_synthetic/tiny/1.5.0'
  assert builder.info.file_format.value == 'array_record'
  from_python = synthetic_source.data_source('tiny', 'validation', tmp_path)
  from_cli = synthetic_source.data_source('tiny', 'validation', cli_data_dir)
  assert len(from_python) == len(from_cli)
  for index in (0, len(from_cli) - 1):
    a, b = from_python[index], from_cli[index]
    assert a.keys() == b.keys()
    for key in a:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_ensure_built_rejects_unknown_config(tmp_path):
  from mujo_jax.data import synthetic_source

  with pytest.raises(ValueError, match='unknown mujo_synthetic config'):
    synthetic_source.ensure_built('huge', tmp_path)
  assert not any(tmp_path.iterdir())


def test_cli_module_builds_tfds_and_guards_out_dirs(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  data_dir = tmp_path / 'tfds'
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'mujo_jax.data.synthetic',
      '--format=tfds',
      '--config=tiny',
      f'--data_dir={data_dir}',
    ],
    cwd=REPO_ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
    env=env,
  )
  assert result.returncode == 0, result.stderr[-4000:]
  assert 'mujo_synthetic/tiny/1.5.0 ready' in result.stdout
  assert (data_dir / 'mujo_synthetic' / 'tiny' / '1.5.0' / 'dataset_info.json').exists()
  # A non-empty --out is refused (no traceback, exit status 1) and left untouched.
  out = tmp_path / 'mmfit'
  out.mkdir()
  (out / 'keep.txt').write_text('x')
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'mujo_jax.data.synthetic',
      '--format=mmfit',
      f'--out={out}',
      '--workouts=1',
    ],
    cwd=REPO_ROOT,
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
    env=env,
  )
  assert result.returncode == 1
  assert 'not empty' in result.stderr and 'Traceback' not in result.stderr
  assert (out / 'keep.txt').read_text() == 'x'


def test_sources_edited_during_a_build_stop_it(tmp_path):
  """Workers spawned after the sources changed refuse to make clips: no half-old corpus.

  The real failure: a corpus's train split was made by the old code and its validation split by
  the new, because each split spawns its workers (which import the code) when it starts. Here a
  copy of the package is edited after the parent imported it and before the workers start.
  """
  import shutil

  shutil.copytree(REPO_ROOT / 'mujo_jax', tmp_path / 'mujo_jax')
  script = (
    'import pathlib\n'
    'from mujo_jax.synthesis import corpus\n'
    f'assert corpus.__file__.startswith(r"{tmp_path}"), corpus.__file__\n'
    'list(corpus.generate_split("train", 4, 0, num_subjects=10, num_workers=2))\n'
    'print("same code: generated")\n'
    'path = pathlib.Path(corpus.__file__).with_name("motion.py")\n'
    'path.write_text(path.read_text() + "\\n# edited mid-build\\n")\n'
    'try:\n'
    '  list(corpus.generate_split("train", 4, 0, num_subjects=10, num_workers=2))\n'
    'except RuntimeError as error:\n'
    '  print("refused:", error)\n'
  )
  env = dict(os.environ, PYTHONPATH=str(tmp_path), TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run(
    [sys.executable, '-c', script],
    cwd=tmp_path,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
    env=env,
  )
  assert result.returncode == 0, result.stderr[-4000:]
  lines = result.stdout.strip().split('\n')
  assert lines[0] == 'same code: generated'
  assert lines[-1].startswith('refused: mujo_jax/synthesis or mujo_jax/facts changed on disk')
