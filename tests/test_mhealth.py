"""MHEALTH: `tfds build` on writer-made files, the windows, the units and every malformed file.

One build runs the real command line (`tfds build tfds_builders/mhealth --manual_dir=...`) on ten
tiny subjects with planted signals; a second, in parallel, on a tree with one broken file must
fail with the file's name and line before writing anything. The malformed cases are checked on
the reader directly (the builder calls the same functions before its first example).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mujo_jax.data import mhealth
from mujo_jax.facts import mhealth_layout as layout
from mujo_jax.synthesis import mhealth_writer
from tfds_builders.mhealth import reader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFDS = (sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main')
TINY = mhealth_writer.SubjectSettings(scale=0.05)
KNOWN_RATE_DEG_S = 90.0  # written into subject 2's ankle gyroscope x


def _log(root, subject):
  return os.path.join(root, layout.FOLDER, layout.subject_file(subject))


def _tfds_build(manual_dir, data_dir) -> subprocess.Popen:
  return subprocess.Popen(
    [
      *TFDS,
      'build',
      os.path.join(REPO, 'tfds_builders', 'mhealth'),
      f'--manual_dir={manual_dir}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    cwd=REPO,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='', PYTHONPATH=REPO),
  )


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  """Ten tiny subjects with planted signals, built; and a broken copy whose build must fail."""
  root = tmp_path_factory.mktemp('mhealth')
  manual = root / 'manual'
  mhealth_writer.write_mhealth(manual, seed=1, settings=TINY)
  rows = np.loadtxt(_log(manual, 2))
  rows[:, layout.GYRO_COLUMNS[1]] = (KNOWN_RATE_DEG_S, 0.0, 0.0)
  mhealth_writer.write_log(_log(manual, 2), rows)
  rows = np.loadtxt(_log(manual, 3))
  # Subject 3's arm gyroscope x: a 4-sample gap (filled) and a 100-sample one (site absent),
  # both inside windows with a labelled centre.
  starts = [s for s in range(0, len(rows) - 249, 125) if rows[s + 125, -1] > 0]
  gaps = (slice(starts[0] + 10, starts[0] + 14), slice(starts[-1] + 50, starts[-1] + 150))
  for gap in gaps:
    rows[gap, layout.GYRO_COLUMNS[2][0]] = np.nan
  mhealth_writer.write_log(_log(manual, 3), rows)

  broken = root / 'broken'
  shutil.copytree(manual, broken)
  with open(_log(broken, 7)) as handle:
    lines = handle.readlines()
  cells = lines[41].split('\t')
  cells[5] = 'abc'
  lines[41] = '\t'.join(cells)
  with open(_log(broken, 7), 'w') as handle:
    handle.writelines(lines)

  jobs = {
    'good': _tfds_build(manual, root / 'tfds'),
    'broken': _tfds_build(broken, root / 'tfds_broken'),
  }
  outputs = {name: job.communicate(timeout=300)[0] for name, job in jobs.items()}
  assert jobs['good'].returncode == 0, outputs['good'][-3000:]
  return {
    'manual': manual,
    'data_dir': str(root / 'tfds'),
    'broken_dir': root / 'tfds_broken',
    'broken': (jobs['broken'].returncode, outputs['broken']),
    'log': outputs['good'],
    'gaps': gaps,
  }


def _example(built, subject):
  import tensorflow_datasets as tfds

  source = tfds.data_source('mhealth', split='train', data_dir=built['data_dir'])
  examples = [source[i] for i in range(len(source))]
  return next(e for e in examples if int(e['subject']) == subject)


def test_build_stores_every_subject_with_its_labels(built):
  for subject in (1, 5, 10):
    rows = np.loadtxt(_log(built['manual'], subject))
    example = _example(built, subject)
    np.testing.assert_array_equal(example['label'], rows[:, -1].astype(np.int64))
    assert example['imu'].shape == (rows.shape[0], 3, 6)
    # The chest has no gyroscope: NaN there, never present; its accelerometer is.
    assert np.isnan(example['imu'][:, 0, 3:]).all() and not example['present'][:, 0].any()
    assert example['acc_present'][:, 0].all() and example['present'][:, 1:].all()
    np.testing.assert_allclose(example['ecg'], rows[:, [3, 4]], rtol=1e-6, atol=1e-6)


def test_still_accelerometers_read_gravity_in_m_s2(built):
  example = _example(built, 1)
  still = np.isin(example['label'], (1, 2, 3))
  magnitude = np.linalg.norm(example['imu'][still][:, :, :3], axis=-1)
  np.testing.assert_allclose(np.median(magnitude, axis=0), 9.81, atol=0.15)


def test_gyroscope_deg_s_becomes_rad_s(built):
  example = _example(built, 2)
  np.testing.assert_allclose(example['imu'][:, 1, 3], math.pi / 2, rtol=1e-5)
  np.testing.assert_allclose(example['imu'][:, 1, 4:], 0.0, atol=1e-6)
  assert layout.GYRO_UNIT_TO_RAD_S == pytest.approx(math.pi / 180)


def test_nan_samples_are_masked_and_counted(built):
  example = _example(built, 3)
  expected = np.ones(len(example['label']), bool)
  for gap in built['gaps']:
    expected[gap] = False
  np.testing.assert_array_equal(example['present'][:, 2], expected)
  assert 'right_forearm:104' in built['log'], built['log'][-2000:]


def test_windows_in_the_batch_schema(built):
  out = mhealth.windows(built['data_dir'])
  n = len(out['label'])
  assert out['imu'].shape == (n, 250, 3, 6) and out['imu'].dtype == np.float32
  assert out['sites'] == ('chest', 'left_ankle', 'right_forearm')
  assert out['class_names'] == layout.CLASS_NAMES
  assert not out['imu_sites'][:, 0].any() and out['imu_sites'][:, 1].all()
  assert np.isfinite(out['imu']).all()
  assert set(out['group']) == set(layout.SUBJECTS)
  assert set(out['label']) <= set(range(12)) and len(set(out['label'])) >= 10
  # Every window position is kept or dropped for its null centre.
  counts = out['counts']
  positions = 0
  for subject in layout.SUBJECTS:
    length = np.loadtxt(_log(built['manual'], subject), usecols=[23]).size
    positions += (length - 250) // 125 + 1
  assert counts['windows'] + counts['dropped_unlabelled'] == positions
  assert counts['filled_samples'] >= 4 and counts['absent_site_windows'] > n
  # The centre rule: a window's label is the file label at start + 125.
  example = _example(built, 4)
  starts = [s for s in range(0, len(example['label']) - 249, 125) if example['label'][s + 125]]
  labels = out['label'][out['group'] == 4]
  np.testing.assert_array_equal(labels, [example['label'][s + 125] - 1 for s in starts])
  # Resampling to another rate and hop.
  other = mhealth.windows(built['data_dir'], window_s=2.0, hop_s=1.0, imu_rate_hz=30.0)
  assert other['imu'].shape[1:] == (60, 3, 6)


def test_broken_file_fails_the_build_before_writing(built):
  returncode, output = built['broken']
  assert returncode != 0
  assert 'mHealth_subject7.log: line 42, column 6 (ankle_acc_x)' in output, output[-2000:]
  assert "'abc' is not a number" in output
  written = [f for _, _, files in os.walk(built['broken_dir']) for f in files]
  assert not [f for f in written if 'array_record' in f], written


def test_zip_archive_is_read_in_place(built, tmp_path):
  archive = tmp_path / 'mhealth+dataset.zip'
  with zipfile.ZipFile(archive, 'w') as handle:
    for subject in layout.SUBJECTS:
      handle.write(_log(built['manual'], subject), f'MHEALTHDATASET/{layout.subject_file(subject)}')
  source = reader.find_source(tmp_path)
  assert isinstance(source, reader.ZipSource) and sorted(source.subjects()) == list(range(1, 11))
  example, _ = reader.read_subject(source, 5)
  np.testing.assert_array_equal(example['label'], _example(built, 5)['label'])


# --------------------------------------------------------------------------------------------
# Malformed files: one clear error each, naming the file, the line and what was expected.
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def rows():
  return mhealth_writer.make_subject(1, np.random.default_rng(0), TINY)[:300]


def _text(rows) -> str:
  formats = mhealth_writer.FORMATS
  return ''.join('\t'.join(f % v for f, v in zip(formats, r, strict=True)) + '\n' for r in rows)


def _parse(text: str):
  values, lines = reader.parse_log(text.encode(), 'x/mHealth_subject1.log')
  return reader.check_labels(values, lines, 'x/mHealth_subject1.log')


def test_wrong_column_count(rows):
  lines = _text(rows).splitlines(keepends=True)
  lines[9] = lines[9].replace('\t', ' ', 1).split(' ', 1)[1]
  with pytest.raises(reader.MalformedFileError, match=r'subject1\.log: line 10 has 23 columns; '):
    _parse(''.join(lines))


def test_truncated_last_line(rows):
  text = _text(rows)
  with pytest.raises(reader.MalformedFileError, match=r'line 300 has 5 columns \(the file ends'):
    _parse(text[: text.rfind('\n', 0, -1) + 40])


def test_non_numeric_cell(rows):
  lines = _text(rows).splitlines(keepends=True)
  cells = lines[99].split('\t')
  cells[17] = '1.2.3'
  lines[99] = '\t'.join(cells)
  with pytest.raises(
    reader.MalformedFileError, match=r"line 100, column 18 \(arm_gyro_x\): '1\.2\.3' is not a"
  ):
    _parse(''.join(lines))


@pytest.mark.parametrize('label', [13, -1, 4.5])
def test_unknown_activity_id(rows, label):
  lines = _text(rows).splitlines(keepends=True)
  lines[200] = lines[200].rsplit('\t', 1)[0] + f'\t{label}\n'
  with pytest.raises(
    reader.MalformedFileError,
    match=rf'line 201, column 24 \(label\): {label:g} is not an activity id; expected an '
    r'integer in 0\.\.12',
  ):
    _parse(''.join(lines))


def test_empty_file():
  with pytest.raises(reader.MalformedFileError, match='no rows'):
    _parse('\n\n')


def test_missing_subject_file(tmp_path):
  mhealth_writer.write_mhealth(tmp_path, subjects=(1, 2, 4), settings=TINY)
  with pytest.raises(reader.MalformedFileError, match=r"missing subject files \['mHealth_subj"):
    reader.check_subjects(reader.find_source(tmp_path))
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(FileNotFoundError, match='MHEALTH not found'):
    reader.find_source(empty)


def test_nan_and_blank_lines_are_not_errors(rows):
  rows[10, layout.ACC_COLUMNS[0][1]] = np.nan
  text = _text(rows).replace('nan', 'NaN')
  lines = text.splitlines(keepends=True)
  values, numbers = reader.parse_log(''.join(lines[:50] + ['\n'] + lines[50:]).encode(), 'x')
  assert values.shape == (300, 24) and numbers[50] == 52
  example, report = reader.to_example(1, values, reader.check_labels(values, numbers, 'x'))
  assert not example['acc_present'][10, 0] and example['acc_present'][:, 0].sum() == 299
  assert report.missing['chest_acc'] == 1


def test_committed_dummy_data_reads_cleanly():
  source = reader.find_source(os.path.join(REPO, 'tfds_builders', 'mhealth', 'dummy_data'))
  assert sorted(reader.check_subjects(source)) == list(layout.SUBJECTS)
  for subject in layout.SUBJECTS:
    example, report = reader.read_subject(source, subject)
    assert report.rows > 500 and example['present'][:, 1:].all()


def test_layout_facts():
  assert len(layout.COLUMN_NAMES) == layout.NUM_COLUMNS and len(layout.LABEL_NAMES) == 13
  assert layout.subject_of_file('a/b/mHealth_subject10.log') == 10
  assert layout.subject_of_file('README.txt') is None
  assert sorted(s for fold in layout.LOSO_FOLDS for s in fold) == list(layout.SUBJECTS)
  columns = [c for group in layout.ACC_COLUMNS + layout.MAG_COLUMNS for c in group]
  columns += [c for group in layout.GYRO_COLUMNS if group for c in group]
  columns += [*layout.ECG_COLUMNS, layout.LABEL_COLUMN]
  assert sorted(columns) == list(range(24))
