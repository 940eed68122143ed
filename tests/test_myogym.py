"""MyoGym: unit conversions, the duplicate rule, `tfds build` on a writer-made file, windows,
malformed files.

The build runs the real command line (`tfds build tfds_builders/myogym --manual_dir=...`) on a
tiny writer-made `MyoGym.mat` (10 persons, 2 exercises each, zipped as a download might be);
the malformed-file cases go through `reader.read`, what `_split_generators` calls before
anything is written, and one of them through the command line too.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from mujo_jax.data import myogym
from mujo_jax.facts import myogym_layout as layout
from mujo_jax.facts import sites
from mujo_jax.synthesis import myogym_writer
from tfds_builders.myogym import reader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFDS = (sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main')
G = layout.STANDARD_GRAVITY
TINY = myogym_writer.PersonSettings(exercises=(24, 11), set_s=12.0, null_s=6.0)


def _rows(n: int, acc_g=(0.0, 0.0, 1.0), gyro_deg_s=(0.0, 0.0, 0.0)) -> np.ndarray:
  raw = np.zeros((n, layout.NUM_COLUMNS))
  raw[:, layout.ACC_TIME_COLUMN] = raw[:, layout.GYRO_TIME_COLUMN] = 1.1e9 + 2e4 * np.arange(n)
  raw[:, list(layout.ACC_COLUMNS)] = acc_g
  raw[:, list(layout.GYRO_COLUMNS)] = gyro_deg_s
  return raw


def _file(tmp_path, raw_by_person=None, labels=None, **variables) -> reader.Source:
  """A MyoGym.mat of 10 persons x 20 still rows; `raw_by_person` replaces some persons' rows."""
  raws, label_rows = [], []
  for person in layout.SUBJECTS:
    raw = (raw_by_person or {}).get(person, _rows(20))
    raws.append(raw)
    label_rows.append(np.stack([np.full(len(raw), 24.0), np.full(len(raw), float(person))], 1))
  data = {'raw_data': np.concatenate(raws), 'raw_data_labels': np.concatenate(label_rows)}
  if labels is not None:
    data['raw_data_labels'] = labels(data['raw_data_labels'])
  data.update(variables)
  data = {k: v for k, v in data.items() if v is not None}
  path = tmp_path / layout.FILE_NAME
  scipy.io.savemat(path, data)
  return reader.Source(path)


def _person(people, subject) -> reader.Person:
  return next(p for p in people if p.subject == subject)


# --------------------------------------------------------------------------------------------
# Units.
# --------------------------------------------------------------------------------------------


def test_still_armband_reads_g_as_9_81_m_s2(tmp_path):
  """A still Myo reads 1 g up (specific force incl. gravity): 9.80665 m/s² after conversion,
  in whatever orientation the band sits."""
  rng = np.random.default_rng(0)
  directions = rng.normal(size=(20, 3))
  directions /= np.linalg.norm(directions, axis=1, keepdims=True)
  raw = _rows(20)
  raw[:, list(layout.ACC_COLUMNS)] = directions
  people, _ = reader.read(_file(tmp_path, {3: raw}))
  acc = _person(people, 3).imu[:, 0, :3]
  np.testing.assert_allclose(np.linalg.norm(acc, axis=1), 9.80665, rtol=1e-6)
  np.testing.assert_allclose(acc, directions * G, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(_person(people, 1).imu[:, 0, :3], [[0, 0, G]] * 20, rtol=1e-6)


def test_gyro_deg_per_s_becomes_rad_per_s(tmp_path):
  """90 deg/s (quarter turn per second) about x is pi/2 rad/s; 360 deg/s about z is 2 pi."""
  people, _ = reader.read(_file(tmp_path, {2: _rows(20, gyro_deg_s=(90.0, 0.0, 360.0))}))
  gyr = _person(people, 2).imu[:, 0, 3:]
  np.testing.assert_allclose(gyr, [[math.pi / 2, 0.0, 2 * math.pi]] * 20, rtol=1e-6)


def test_conversion_constants_are_the_myo_sdk_units():
  assert layout.ACC_G_TO_M_S2 == pytest.approx(9.80665)
  assert layout.GYRO_DEG_S_TO_RAD_S == pytest.approx(math.pi / 180)
  assert 1 / layout.ACC_LSB_G == 2048 and 1 / layout.GYRO_LSB_DEG_S == 16


def test_writer_file_carries_the_unit_evidence(tmp_path):
  """The writer quantises like the Myo; the reader's evidence sees the grids and |a| ~ 1 g,
  and the converted still (NULL standing) samples have |acc| ~ 9.81 m/s²."""
  myogym_writer.write_myogym(tmp_path, settings=TINY, seed=1)
  people, evidence = reader.read(reader.find_source(tmp_path))
  assert evidence.acc_on_grid == 1.0 and evidence.gyro_on_grid == 1.0
  assert 0.95 < evidence.acc_median_norm < 1.05
  for person in people:
    norm = np.linalg.norm(person.imu[:, 0, :3], axis=1)
    assert 9.3 < np.median(norm) < 10.3
    assert np.abs(person.imu[:, 0, 3:]).max() < 2000 * math.pi / 180 + 1e-3


# --------------------------------------------------------------------------------------------
# Duplicates, masking, labels.
# --------------------------------------------------------------------------------------------


def test_buffered_duplicates_are_dropped_exactly(tmp_path):
  written = myogym_writer.write_myogym(tmp_path, settings=TINY, seed=2)
  people, _ = reader.read(reader.find_source(tmp_path))
  for person in people:
    truth = written[person.subject]
    assert person.report.file_rows == len(truth.raw)
    assert person.report.duplicate_rows == int(truth.duplicate.sum()) > 0
    kept = truth.raw[~truth.duplicate]
    np.testing.assert_allclose(
      person.imu[:, 0, :3], kept[:, list(layout.ACC_COLUMNS)] * G, rtol=1e-6, atol=1e-6
    )
    assert person.report.time_backward_steps == 0


def test_repeated_values_with_a_new_timestamp_are_kept(tmp_path):
  """A still sensor reads the same values twice; only a repeated timestamp makes a duplicate."""
  raw = _rows(20)
  raw[5] = raw[4]  # a buffered copy
  people, _ = reader.read(_file(tmp_path, {4: raw}))
  assert _person(people, 4).report.duplicate_rows == 1
  assert len(_person(people, 4).imu) == 19
  assert _person(people, 1).report.duplicate_rows == 0 and len(_person(people, 1).imu) == 20


def test_non_finite_imu_is_masked_and_counted(tmp_path):
  raw = _rows(20)
  raw[3, layout.ACC_COLUMNS[1]] = np.nan
  raw[7, layout.GYRO_COLUMNS[2]] = np.inf
  people, _ = reader.read(_file(tmp_path, {5: raw}))
  person = _person(people, 5)
  assert person.report.absent_samples == 2
  assert not person.present[3, 0] and not person.present[7, 0] and person.present[0, 0]
  assert np.isfinite(person.imu).all()


def test_null_is_stored_as_0_and_exercises_keep_their_ids():
  assert layout.LABEL_NAMES[0] == 'NULL' and len(layout.LABEL_NAMES) == 31
  assert layout.stored_label(99) == 0 and layout.stored_label(24) == 24
  assert layout.LABEL_NAMES[24] == 'Hammer Curl' == layout.CLASS_NAMES[23]
  with pytest.raises(ValueError, match='unknown MyoGym exercise id 31'):
    layout.stored_label(31)
  assert layout.SITE in sites.SITES
  assert set(myogym_writer.MOTION_OF_EXERCISE) == set(layout.EXERCISE_IDS)


# --------------------------------------------------------------------------------------------
# Malformed files: one clear error each, naming the file, row and expected value.
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
  with pytest.raises(FileNotFoundError, match=r'no MyoGym\.mat in'):
    reader.find_source(tmp_path)


def test_truncated_file(tmp_path):
  source = _file(tmp_path)
  data = source.path.read_bytes()
  source.path.write_bytes(data[: len(data) // 2])
  with pytest.raises(reader.MyoGymFormatError, match=r'MyoGym\.mat: cannot be read .*truncated'):
    reader.read(source)


def test_wrong_column_count(tmp_path):
  source = _file(tmp_path, {p: _rows(20)[:, :16] for p in layout.SUBJECTS})
  with pytest.raises(
    reader.MyoGymFormatError, match=r'raw_data has shape \(200, 16\); expected N x 17'
  ):
    reader.read(source)


def test_non_numeric_cells(tmp_path):
  cells = np.empty((3, 2), dtype=object)
  cells[:] = 'x'
  source = _file(tmp_path, raw_data_labels=cells)
  with pytest.raises(reader.MyoGymFormatError, match='raw_data_labels holds non-numeric cells'):
    reader.read(source)


def test_unknown_exercise_id_names_the_row(tmp_path):
  def relabel(labels):
    labels[45, 0] = 31
    return labels

  with pytest.raises(
    reader.MyoGymFormatError,
    match=r'MyoGym\.mat: raw_data_labels row 46 column 1 \(exercise id\) is 31; expected '
    r'1\.\.30 or 99',
  ):
    reader.read(_file(tmp_path, labels=relabel))


def test_nan_label_and_unknown_person(tmp_path):
  def nan_label(labels):
    labels[7, 0] = np.nan
    return labels

  with pytest.raises(reader.MyoGymFormatError, match=r'row 8 column 1 \(exercise id\) is nan'):
    reader.read(_file(tmp_path, labels=nan_label))

  def person_11(labels):
    labels[-1, 1] = 11
    return labels

  with pytest.raises(
    reader.MyoGymFormatError, match=r'row 200 column 2 \(person id\) is 11; expected 1\.\.10'
  ):
    reader.read(_file(tmp_path, labels=person_11))


def test_missing_person(tmp_path):
  def drop_7(labels):
    labels[labels[:, 1] == 7, 1] = 8
    return labels

  with pytest.raises(reader.MyoGymFormatError, match=r'persons \[7\] have no row'):
    reader.read(_file(tmp_path, labels=drop_7))


def test_missing_variable_and_row_mismatch(tmp_path):
  with pytest.raises(reader.MyoGymFormatError, match="no variable 'raw_data_labels'"):
    reader.read(_file(tmp_path, raw_data_labels=None))
  with pytest.raises(
    reader.MyoGymFormatError, match='raw_data has 200 rows but raw_data_labels has 199'
  ):
    reader.read(_file(tmp_path, labels=lambda labels: labels[:-1]))


# --------------------------------------------------------------------------------------------
# `tfds build` and windows.
# --------------------------------------------------------------------------------------------


def _build(manual_dir, data_dir) -> subprocess.CompletedProcess:
  return subprocess.run(
    [
      *TFDS,
      'build',
      os.path.join(REPO, 'tfds_builders', 'myogym'),
      f'--manual_dir={manual_dir}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    capture_output=True,
    text=True,
    cwd=REPO,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='', PYTHONPATH=REPO),
  )


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  manual = tmp_path_factory.mktemp('myogym') / 'manual'
  written = myogym_writer.write_myogym(manual, settings=TINY, seed=3, archive=True)
  assert not (manual / layout.FILE_NAME).exists()  # only the zip: read in place
  data_dir = tmp_path_factory.mktemp('myogym_tfds')
  result = _build(manual, data_dir)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  return str(data_dir), written, result


def test_build_stores_every_person_and_logs_the_repairs(built):
  data_dir, written, result = built
  import tensorflow_datasets as tfds

  source = tfds.data_source('myogym', split='train', data_dir=data_dir)
  assert len(source) == 10
  for index in range(len(source)):
    example = source[index]
    truth = written[int(example['subject'])]
    kept = ~truth.duplicate
    assert example['imu'].shape == (kept.sum(), 1, 6) and example['imu'].dtype == np.float32
    assert example['present'].all()
    assert int(example['duplicate_rows']) == truth.duplicate.sum()
    expected = np.where(truth.labels[kept, 0] == 99, 0, truth.labels[kept, 0])
    np.testing.assert_array_equal(example['label'], expected)
  log = result.stdout + result.stderr
  assert 'buffered duplicates dropped' in log and '1/2048 g grid' in log


def test_windows_in_the_batch_schema(built):
  data_dir, written, _ = built
  out = myogym.windows(data_dir)
  n = len(out['label'])
  assert out['imu'].shape == (n, 250, 1, 6) and out['imu'].dtype == np.float32
  assert out['imu_sites'].shape == (n, 1) and out['imu_sites'].all()
  assert out['sites'] == ('right_forearm',) and out['class_names'] == layout.CLASS_NAMES
  assert set(out['label'].tolist()) == {23, 10}  # Hammer Curl, Pushups
  assert set(out['group'].tolist()) == set(layout.SUBJECTS)
  assert out['counts']['dropped_unlabelled'] > 0 and out['counts']['windows'] == n
  with_null = myogym.windows(data_dir, window_s=2.0, hop_s=1.0, imu_rate_hz=25.0, include_null=True)
  assert with_null['class_names'] == layout.LABEL_NAMES
  assert with_null['imu'].shape[1] == 50
  assert set(with_null['label'].tolist()) == {0, 24, 11}
  assert with_null['counts']['dropped_unlabelled'] == 0


def test_malformed_file_stops_the_build_before_writing(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  _file(manual, labels=lambda labels: np.where(labels == 24, 77, labels))
  data_dir = tmp_path / 'tfds'
  result = _build(manual, data_dir)
  assert result.returncode != 0
  assert 'raw_data_labels row 1 column 1 (exercise id) is 77;' in result.stdout + result.stderr
  written = [f for _, _, files in os.walk(data_dir) for f in files if 'array_record' in f]
  assert not written


def test_v7_3_file_is_refused_with_a_hint(tmp_path):
  """MATLAB v7.3 files are HDF5; the published file is v5, so a v7.3 copy gets a clear hint."""
  header = b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5'
  path = tmp_path / layout.FILE_NAME
  path.write_bytes(header.ljust(116, b' ') + b'\x00' * 8 + b'\x00\x02' + b'IM' + b'\x00' * 512)
  with pytest.raises(reader.MyoGymFormatError, match=r'expected the published MATLAB v5 file'):
    reader.read(reader.Source(path))


def test_dummy_data_is_a_valid_file():
  people, evidence = reader.read(
    reader.find_source(os.path.join(REPO, 'tfds_builders', 'myogym', 'dummy_data'))
  )
  assert [p.subject for p in people] == list(layout.SUBJECTS)
  assert evidence.acc_on_grid == 1.0 and all(p.report.duplicate_rows > 0 for p in people)
