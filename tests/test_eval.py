"""Evaluation from a checkpoint: the probe end to end on a tiny pretraining run, and its parts."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from configs import linear_probe as linear_probe_config
from configs import pretrain
from mujo_jax import train
from mujo_jax.data import basic_motions, datasets
from mujo_jax.eval import linear_probe, probe, report, retrieval, robustness, zero_shot
from mujo_jax.facts import activities

FRACTIONS = (0.2, 1.0)
SEEDS = (0, 1)
MODALITY_SETS = ('imu', 'imu:left_wrist', 'pose', 'imu+pose')
QUICK_MAX_WINDOWS = 16


@pytest.fixture(scope='module')
def pretrained_workdir(synthetic_data_dir, tmp_path_factory):
  # Three modalities keep compile time down; text is needed for zero-shot and retrieval.
  config = pretrain.get_config('runlocal,batch_size=8,modalities=imu+pose+text')
  config.data.tfds_data_dir = synthetic_data_dir
  config.total_steps = 2
  config.save_every_steps = 2
  config.evals.probe.synthetic.max_windows = QUICK_MAX_WINDOWS
  workdir = tmp_path_factory.mktemp('pretrain')
  train.train_and_evaluate(config, workdir)
  return workdir


def _probe_config(checkpoint, **overrides):
  config = linear_probe_config.get_config('runlocal')
  config.checkpoint = str(checkpoint)
  config.fractions = FRACTIONS
  config.seeds = SEEDS
  config.modality_sets = MODALITY_SETS
  config.supervised.modality_sets = ('imu',)
  config.supervised.steps = 3
  config.supervised.fractions = FRACTIONS
  config.synthetic.max_windows = 40
  for key, value in overrides.items():
    config[key] = value
  return config


@pytest.fixture(scope='module')
def probe_run(pretrained_workdir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp('probe')
  summary = linear_probe.run(_probe_config(pretrained_workdir), workdir)
  with (workdir / 'probe_results.csv').open() as handle:
    rows = list(csv.DictReader(handle))
  return workdir, summary, rows


def test_csv_schema_and_rows(probe_run):
  workdir, _, rows = probe_run
  with (workdir / 'probe_results.csv').open() as handle:
    assert tuple(next(csv.reader(handle))) == report.PROBE_COLUMNS
  probed = len(MODALITY_SETS) * len(FRACTIONS) * len(SEEDS)
  imu_only = [s for s in MODALITY_SETS if '+' not in s and s.startswith('imu')]
  statistics_rows = len(imu_only) * len(FRACTIONS) * len(SEEDS)
  # pretrained, random_init; supervised imu; statistics on the IMU-only sets.
  expected = probed * 2 + len(FRACTIONS) * len(SEEDS) + statistics_rows
  assert len(rows) == expected
  assert {r['model'] for r in rows} == {'pretrained', 'random_init', 'supervised', 'statistics'}
  assert {r['modality_set'] for r in rows if r['model'] == 'statistics'} == set(imu_only)
  assert {r['dataset'] for r in rows} == {'synthetic'}
  assert {r['split'] for r in rows} == {'test'}
  assert {r['modality_set'] for r in rows} == set(MODALITY_SETS)
  arrays = np.load(workdir / 'probe_windows.npz')
  num_test = len(arrays['synthetic/test/label'])
  for row in rows:
    fit = arrays[f'synthetic/fit_indices/fraction={float(row["fraction"]):g}/seed={row["seed"]}']
    if row['modality_set'] != 'imu:left_wrist':  # Every window has all of these inputs.
      assert int(row['num_train']) == len(fit) and int(row['num_eval']) == num_test, row
    if row['model'] != 'supervised':
      assert float(row['c']) in (0.1, 1.0)
  # At 100 % labels every seed fits the same windows, and the probe is deterministic.
  for model in ('pretrained', 'random_init'):
    for modality_set in MODALITY_SETS:
      full = {
        (r['macro_f1'], r['accuracy'], r['c'])
        for r in rows
        if r['model'] == model and r['modality_set'] == modality_set and float(r['fraction']) == 1.0
      }
      assert len(full) == 1, (model, modality_set, full)
  # Each (set, fraction, seed, model) appears exactly once.
  keys = [(r['modality_set'], r['fraction'], r['seed'], r['model']) for r in rows]
  assert len(set(keys)) == len(keys)


def test_fractions_are_stratified_nested_and_subject_disjoint(probe_run):
  workdir, _, _ = probe_run
  arrays = np.load(workdir / 'probe_windows.npz')
  labels = arrays['synthetic/train/label']
  train_groups = arrays['synthetic/train/group']
  held_out_groups = set(arrays['synthetic/test/group']) | set(arrays['synthetic/validation/group'])
  assert not set(train_groups) & held_out_groups
  for seed in SEEDS:
    previous = np.zeros(0, np.int64)
    for fraction in FRACTIONS:
      indices = arrays[f'synthetic/fit_indices/fraction={fraction:g}/seed={seed}']
      assert len(np.unique(indices)) == len(indices)
      assert indices.min() >= 0 and indices.max() < len(labels)
      assert set(previous) <= set(indices)  # Nested.
      previous = indices
      for label in np.unique(labels):
        available = int(np.sum(labels == label))
        chosen = int(np.sum(labels[indices] == label))
        assert chosen == min(available, max(1, math.ceil(fraction * available)))
      assert not set(train_groups[indices]) & held_out_groups
  small = [arrays[f'synthetic/fit_indices/fraction={FRACTIONS[0]:g}/seed={s}'] for s in SEEDS]
  assert not np.array_equal(small[0], small[1])  # Seeds draw different windows.


def test_results_reproducible_for_a_fixed_seed(probe_run, pretrained_workdir, tmp_path):
  _, _, rows = probe_run
  config = _probe_config(
    pretrained_workdir,
    modality_sets=('imu',),
    zero_shot=False,
    retrieval=False,
    robustness=False,
    plots=False,
  )
  config.baselines.random_init = False
  config.baselines.supervised = False
  again = linear_probe.run(config, tmp_path)['probe_rows']
  first = {
    (r['modality_set'], float(r['fraction']), int(r['seed'])): float(r['macro_f1'])
    for r in rows
    if r['model'] == 'pretrained' and r['modality_set'] == 'imu'
  }
  second = {
    (r['modality_set'], r['fraction'], r['seed']): r['macro_f1']
    for r in again
    if r['model'] == 'pretrained'
  }
  assert first.keys() == second.keys()
  for key, value in first.items():
    assert second[key] == pytest.approx(value, abs=1e-6), key


def test_plots_and_tables_written(probe_run):
  workdir, summary, _ = probe_run
  for name in (
    'f1_vs_fraction_synthetic_test.png',
    'confusion_synthetic_test.png',
    'joint_space_synthetic_test.png',
  ):
    path = workdir / name
    assert path.exists() and path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', name
    assert name in summary['plots']
  markdown = (workdir / 'probe_results.md').read_text()
  assert '### synthetic / test: macro f1' in markdown
  for section in ('Zero-shot', 'Cross-modal retrieval', 'Missing-modality robustness'):
    assert section in markdown
  with (workdir / 'robustness.csv').open() as handle:
    conditions = list(csv.DictReader(handle))
  assert {c['modalities'] for c in conditions} == {'imu+pose', 'imu', 'pose'}
  with (workdir / 'retrieval.csv').open() as handle:
    pairs = {(r['query'], r['target']) for r in csv.DictReader(handle)}
  assert ('imu', 'text') in pairs and ('text', 'imu') in pairs
  with (workdir / 'zero_shot.csv').open() as handle:
    zero_shot_rows = list(csv.DictReader(handle))
  every = len(activities.ACTIVITIES)  # The synthetic set's classes all have prompts.
  assert zero_shot_rows and {r['classes'] for r in zero_shot_rows} == {f'{every} of {every}'}


@pytest.mark.parametrize(
  'override, message',
  [
    ({'datasets': ('kinetics',)}, 'datasets'),
    ({'datasets': ('mmfit',)}, 'mmfit_data_dir'),
    ({'modality_sets': ('imu+gps',)}, 'unknown modality'),
    ({'modality_sets': ('imu:left_elbow',)}, 'sites'),
    ({'fractions': (0.0, 1.0)}, 'fractions'),
    ({'map_method': 'umap'}, 'map_method'),
  ],
)
def test_bad_config_rejected_before_compute(pretrained_workdir, tmp_path, override, message):
  with pytest.raises(ValueError, match=message):
    linear_probe.run(_probe_config(pretrained_workdir, **override), tmp_path)


def test_missing_checkpoint_rejected(tmp_path):
  config = linear_probe_config.get_config('runlocal')
  config.checkpoint = str(tmp_path / 'nowhere')
  with pytest.raises(FileNotFoundError, match='config.json'):
    linear_probe.run(config, tmp_path / 'out')


# ---------------------------------------------------------------- parts


def test_modality_sets_expand_and_skip():
  sets, skipped = probe.expand_modality_sets(
    ('imu:each', 'imu+pose', 'video', 'imu:left_wrist/head/right_wrist'),
    ('imu', 'pose'),
    ('left_wrist', 'right_wrist', 'head'),
  )
  names = [s.name for s in sets]
  assert names == ['imu:left_wrist', 'imu:right_wrist', 'imu:head', 'imu+pose', 'imu']
  assert skipped == [('video', 'no video in the dataset (or the checkpoint)')]


def test_retrieval_ties_count_against_the_query():
  rng = np.random.default_rng(0)
  paired = rng.normal(size=(20, 8))
  paired /= np.linalg.norm(paired, axis=1, keepdims=True)
  assert retrieval.recall_at_k(paired, paired)['R@1'] == 1.0
  collapsed = np.ones((20, 8)) / np.sqrt(8)
  assert retrieval.recall_at_k(collapsed, collapsed, ks=(1, 20)) == {'R@1': 0.0, 'R@20': 1.0}


def test_fused_embedding_ignores_absent_inputs():
  embeddings = {
    'imu': np.array([[1.0, 0.0], [1.0, 0.0]]),
    'pose': np.array([[0.0, 1.0]] * 2),
    'valid/imu': np.array([True, False]),
  }
  fused, valid = robustness.fuse(embeddings, ('imu', 'pose'))
  np.testing.assert_allclose(fused[0], [2**-0.5, 2**-0.5], rtol=1e-6)
  np.testing.assert_allclose(fused[1], [0.0, 1.0])
  assert valid.all()
  _, valid = robustness.fuse(embeddings, ('imu',))
  assert valid.tolist() == [True, False]


def test_run_summary_equals_the_job(pretrained_workdir, tmp_path):
  """The end-of-run probe and the `linear_probe` job are one evaluator: same numbers."""
  summary = json.loads((pretrained_workdir / 'summary.json').read_text())
  from_run = {k.removeprefix('probe/'): v for k, v in summary.items() if k.startswith('probe/')}
  budgets = {k.split('/')[3] for k in from_run}
  assert budgets == {'per_class=2', 'fraction=1'}
  assert {k.split('/')[4] for k in from_run} == {'pretrained', 'random_init'}
  config = linear_probe_config.get_config('quick,runlocal')
  config.checkpoint = str(pretrained_workdir)
  config.synthetic.max_windows = QUICK_MAX_WINDOWS
  job = linear_probe.run(config, tmp_path)
  assert job['scalars'] == pytest.approx(from_run, abs=0)
  # And the run wrote the evaluator's own table beside its checkpoints.
  assert (pretrained_workdir / 'evals/probe/probe_results.csv').exists()


def test_zero_shot_vocabulary_is_the_one_the_checkpoint_recorded():
  """A checkpoint records the classes its texts described, so later code whose corpus has grown
  does not prompt it with a class name its text encoder never read."""
  config = pretrain.get_config('corpus=wearables')
  assert datasets.text_vocabulary(config) == activities.WEARABLE_ACTIVITIES  # Nothing recorded.
  older = [name for name in activities.WEARABLE_ACTIVITIES if name != 'running']
  with config.unlocked():
    config.data.activities = older
  assert datasets.text_vocabulary(config) == tuple(older)
  assert zero_shot.missing_prompts(basic_motions.CLASS_NAMES, older) == ['running', 'badminton']
  assert zero_shot.missing_prompts(basic_motions.CLASS_NAMES, activities.WEARABLE_ACTIVITIES) == [
    'badminton'
  ]
  assert datasets.text_vocabulary(pretrain.get_config('data=fimad')) == activities.ACTIVITIES


def test_real_recordings_in_the_evaluation_job(pretrained_workdir, tmp_path):
  """BasicMotions by recording-wise CV (with the statistics baseline), DeepMimic retrieval."""
  pytest.importorskip('sktime')
  pytest.importorskip('pybullet_data')
  config = linear_probe_config.get_config('datasets=basic_motions+deepmimic,runlocal')
  config.checkpoint = str(pretrained_workdir)
  config.fractions = (1.0,)
  config.labels_per_class = (2,)
  config.seeds = (0, 1)
  config.modality_sets = ('imu', 'imu+pose')
  config.baselines.supervised = False
  summary = linear_probe.run(config, tmp_path)
  rows = [r for r in summary['probe_rows'] if r['dataset'] == 'basic_motions']
  assert {r['split'] for r in rows} == {'cv5'}
  assert {r['model'] for r in rows} == {'pretrained', 'random_init', 'statistics'}
  assert {r['modality_set'] for r in rows} == {'imu'}  # BasicMotions has no pose.
  assert {r['budget'] for r in rows} == {'2/class', '100 %'}
  for row in rows:
    assert row['num_eval'] == 240  # Every window is scored once, out of fold.
    if row['budget'] == '2/class':
      assert row['num_train'] == 4 * 2 * 3  # 4 classes × 2 recordings × 3 windows.
  # Real activities that differ this much are separated by simple statistics.
  statistics_f1 = [r['macro_f1'] for r in rows if r['model'] == 'statistics']
  assert min(statistics_f1) > 0.8
  assert not [r for r in summary['probe_rows'] if r['dataset'] == 'deepmimic']
  with (tmp_path / 'retrieval.csv').open() as handle:
    retrieval_rows = [r for r in csv.DictReader(handle) if r['dataset'] == 'deepmimic']
  assert {(r['query'], r['target']) for r in retrieval_rows} >= {('imu', 'pose'), ('pose', 'imu')}
  assert 'basic_motions' in (tmp_path / 'probe_results.md').read_text()


def test_shoulder_watch_folds_by_subject_and_counts_recordings(pretrained_workdir, tmp_path):
  """The watch on whichever arm exercises: every window scored, budgets of whole recordings."""
  pytest.importorskip('seglearn')
  from mujo_jax.data import shoulder_watch

  config = linear_probe_config.get_config('datasets=shoulder_watch,runlocal,seeds=1')
  config.checkpoint = str(pretrained_workdir)
  config.fractions = (1.0,)
  config.labels_per_class = (2,)
  config.modality_sets = ('imu',)
  config.baselines.supervised = False
  config.shoulder_watch.hop_s = 5.0
  summary = linear_probe.run(config, tmp_path)
  rows = [r for r in summary['probe_rows'] if r['dataset'] == 'shoulder_watch']
  assert {r['model'] for r in rows} == {'pretrained', 'random_init', 'statistics'}
  arrays = shoulder_watch.windows(hop_s=5.0)
  per_recording = np.bincount(arrays['recording'])
  for row in rows:
    assert row['num_eval'] == len(arrays['label'])  # one watch a window: all valid, all scored
    if row['budget'] == '2/class':
      # 7 classes × 2 recordings, each a whole set of windows: between the shortest and longest.
      assert 14 * per_recording.min() <= row['num_train'] <= 14 * per_recording.max()


def test_statistics_of_alternative_sites_are_the_present_sites():
  """A watch on either wrist: the 'imu' statistics are the worn wrist's, in one slot."""
  from mujo_jax.eval import statistics

  rng = np.random.default_rng(0)
  imu = rng.normal(size=(6, 50, 2, 6)).astype(np.float32)
  present = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1]], bool)
  batch = {'imu': imu, 'imu_sites': present, 'label': np.zeros(6, np.int32)}
  out = statistics.site_features([batch], {'imu': (True, True), 'imu:left': (True, False)})
  per_site = statistics.channel_statistics(imu)
  np.testing.assert_array_equal(out['imu'], per_site[np.arange(6), present.argmax(1)])
  assert out['valid/imu'].all() and out['imu'].shape == (6, 48)
  np.testing.assert_array_equal(out['valid/imu:left'], present[:, 0])
  # Both wrists worn in one window: the sites are not alternatives; 'imu' needs them all.
  both = dict(batch, imu_sites=np.ones((6, 2), bool))
  out = statistics.site_features([both], {'imu': (True, True)})
  assert out['imu'].shape == (6, 96) and out['valid/imu'].all()


_DOWNSTREAM = ('mhealth', 'motionsense', 'pamap2', 'myogym')


@pytest.fixture(scope='module')
def downstream_data_dir(tmp_path_factory):
  """The four downstream builders run on their committed dummy data (our writers made it)."""
  import importlib
  from pathlib import Path

  import tensorflow_datasets as tfds

  data_dir = tmp_path_factory.mktemp('downstream')
  root = Path(__file__).resolve().parents[1] / 'tfds_builders'
  for name in _DOWNSTREAM:
    builder_cls = importlib.import_module(f'tfds_builders.{name}.{name}_dataset_builder').Builder
    builder = builder_cls(data_dir=str(data_dir), file_format='array_record')
    builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(root / name / 'dummy_data'))
    )
  return data_dir


def test_downstream_datasets_in_the_evaluation_job(
  pretrained_workdir, downstream_data_dir, tmp_path
):
  """MHEALTH, MotionSense, PAMAP2 and MyoGym: subject-wise CV rows for every model."""
  config = linear_probe_config.get_config('datasets=' + '+'.join(_DOWNSTREAM) + ',runlocal')
  config.checkpoint = str(pretrained_workdir)
  config.fractions = (1.0,)
  config.labels_per_class = (2,)
  config.modality_sets = ('imu',)
  config.baselines.supervised = False
  config.zero_shot = config.retrieval = config.plots = False
  for name in _DOWNSTREAM:
    config[name].data_dir = str(downstream_data_dir)
    config[name].folds = 2
  rows = linear_probe.run(config, tmp_path)['probe_rows']
  for name in _DOWNSTREAM:
    mine = [r for r in rows if r['dataset'] == name]
    assert {r['model'] for r in mine} == {'pretrained', 'random_init', 'statistics'}, name
    # Subject-wise folds and the split papers report on (LOSO, PAMAP2's subject 106,
    # MotionSense's short trials).
    assert {r['split'] for r in mine} == {'cv2', 'literature'} and {r['budget'] for r in mine} == {
      '2/class',
      '100 %',
    }
    # 2 labelled windows of each class that the training folds have.
    two = [r for r in mine if r['budget'] == '2/class']
    assert all(2 <= r['num_train'] <= 2 * 30 for r in two), name
    assert all(r['num_eval'] > 0 for r in mine), name


def test_downstream_dataset_needs_its_data_dir(pretrained_workdir, tmp_path):
  config = linear_probe_config.get_config('datasets=pamap2,runlocal')
  config.checkpoint = str(pretrained_workdir)
  with pytest.raises(ValueError, match=r'pamap2.data_dir is not set'):
    linear_probe.run(config, tmp_path)


def test_cross_dataset_table_marks_unseen_classes():
  rows = [
    {
      'dataset': d,
      'split': 'cv5',
      'modality_set': 'imu',
      'model': m,
      'budget': b,
      'labels_per_class': lpc,
      'fraction': f,
      'macro_f1': v,
    }
    for d in ('a', 'b')
    for m, v in (('pretrained', 0.9), ('statistics', 0.8))
    for b, lpc, f in (('2/class', 2, float('nan')), ('100 %', 0, 1.0))
  ]
  table = report.cross_dataset_table(
    rows, {'a': '0 of 4 classes', 'b': '4 of 4 classes'}, 'macro_f1'
  )
  lines = table.splitlines()
  assert lines[0] == (
    '| dataset | split | modality set | model | 2/class | 100 % | unseen in pretraining |'
  )
  assert len(lines) == 2 + 4
  assert '| b | cv5 | imu | statistics | 0.800 | 0.800 | 4 of 4 classes |' in lines


def test_supervised_baseline_under_cross_validation(pretrained_workdir, tmp_path):
  """The from-scratch baseline is scored on the same folds as the probes."""
  pytest.importorskip('sktime')
  config = linear_probe_config.get_config('datasets=basic_motions,runlocal,seeds=1')
  config.checkpoint = str(pretrained_workdir)
  config.fractions = (1.0,)
  config.modality_sets = ('imu',)
  config.supervised.fractions = (1.0,)
  config.supervised.steps = 3
  config.zero_shot = config.retrieval = config.plots = config.robustness = False
  rows = linear_probe.run(config, tmp_path)['probe_rows']
  scratch = [r for r in rows if r['model'] == 'supervised']
  assert [(r['split'], r['budget'], r['num_eval']) for r in scratch] == [('cv5', '100 %', 240)]
  probe_row = next(r for r in rows if r['model'] == 'pretrained')
  assert scratch[0]['num_train'] == probe_row['num_train']  # Same folds, same labelled windows.
