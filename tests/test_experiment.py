"""Experiments: configs, the runner's skipping and selection, the report and its statistics."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from configs.experiments import modalities, strategies
from mujo_jax import experiment, train
from mujo_jax.eval import experiment_report, linear_probe

ROOT = Path(__file__).resolve().parents[1]
TINY_MEMBERS = 'joint_clip+round_robin_siglip'


# ---------------------------------------------------------------- configs


def test_strategies_config_has_every_strategy_with_both_losses():
  config = strategies.get_config()
  assert config.job == 'experiment'
  assert len(config.members) == 16  # 4 strategies + anchored on 4 modalities, × 2 losses.
  for name in ('joint', 'round_robin', 'random_pair', 'uncertainty', 'anchored_video'):
    for loss in ('clip', 'siglip'):
      assert f'{name}_{loss}' in config.members
  assert config.members.anchored_pose_siglip.pretrain == (
    'size=small,strategy=anchored,anchor=pose,loss=siglip'
  )
  assert config.seeds == (0, 1, 2)
  assert strategies.get_config('runlocal').seeds == (0,)
  assert strategies.get_config('runlocal,seeds=3').seeds == (0, 1, 2)
  assert config.eval.datasets == ('synthetic',)
  assert strategies.get_config('datasets=synthetic+basic_motions').eval.datasets == (
    'synthetic',
    'basic_motions',
  )


def test_small_scale_is_the_small_model_two_seeds_and_the_real_data_sets():
  config = strategies.get_config('small')
  assert len(config.members) == 16 and config.seeds == (0, 1)
  assert config.eval.datasets == ('synthetic', 'basic_motions', 'deepmimic')
  assert not config.eval.baselines.supervised and not config.fast_compile
  pretrain = experiment.member_pretrain_config(config, 'uncertainty_siglip', seed=1)
  assert pretrain.model.size == 'tiny' and pretrain.data.builder_config == 'default'
  assert pretrain.total_steps == 300 and pretrain.batch_size == 32 and pretrain.seed == 1
  assert pretrain.data.num_workers == 0 and pretrain.data.imu_rate_hz == 50.0  # Merged, kept.
  linear_probe.check_settings(experiment.member_eval_config(config, Path('/w')))
  # Its keys stay overridable, and it is one scale: not combined with runlocal.
  assert strategies.get_config('small,seeds=3,steps=50').seeds == (0, 1, 2)
  assert strategies.get_config('small,steps=50').total_steps == 50
  with pytest.raises(ValueError, match='choose one'):
    strategies.get_config('small,runlocal')
  assert strategies.get_config('runlocal').fast_compile


def test_compile_settings_cache_programs_then_restore_jax(tmp_path):
  cache = tmp_path / 'jax_cache'
  with experiment.compile_settings(cache):
    assert jax.config.values['jax_compilation_cache_dir'] == str(cache)
    jax.jit(lambda x: jnp.sin(x) * 3.25 + 7.5)(jnp.arange(5.0))  # A program of its own.
  assert any(cache.iterdir())  # Stored: the next member or seed reads it instead of compiling.
  assert jax.config.values['jax_compilation_cache_dir'] is None
  assert jax.config.values['jax_persistent_cache_min_compile_time_secs'] == 1.0


def test_modalities_config_is_every_subset_with_imu():
  config = modalities.get_config('loss=siglip')
  assert sorted(config.members) == sorted(
    [
      'imu_pose',
      'imu_text',
      'imu_video',
      'imu_pose_text',
      'imu_pose_video',
      'imu_text_video',
      'imu_pose_text_video',
    ]
  )
  assert config.members.imu_text.pretrain == 'size=small,modalities=imu+text,loss=siglip'


def test_member_configs_resolve():
  config = strategies.get_config('runlocal,steps=3')
  for name in config.members:
    pretrain = experiment.member_pretrain_config(config, name, seed=2)
    assert pretrain.seed == 2 and pretrain.total_steps == 3 and pretrain.model.size == 'tiny'
    assert not pretrain.evals
  anchored = experiment.member_pretrain_config(config, 'anchored_text_clip', 0)
  assert anchored.multitask.strategy == 'anchored' and anchored.multitask.anchor == 'text'
  evaluation = experiment.member_eval_config(config, Path('/w/members/m/seed0'))
  linear_probe.check_settings(evaluation)
  assert evaluation.job == 'linear_probe' and evaluation.checkpoint == '/w/members/m/seed0'


# ---------------------------------------------------------------- the runner, with fakes


class Fakes:
  """Pretraining and evaluation that write the files the runner checks, and count calls."""

  def __init__(self):
    self.calls: list[tuple[str, str]] = []

  def pretrain(self, config, workdir):
    workdir = Path(workdir)
    self.calls.append(('pretrain', str(workdir)))
    workdir.mkdir(parents=True, exist_ok=True)
    summary = {'steps': config.total_steps, 'wall_seconds': 1.5, 'final_loss': 1.0}
    (workdir / 'summary.json').write_text(json.dumps(summary))

  def evaluate(self, config, workdir):
    workdir = Path(workdir)
    self.calls.append(('eval', str(workdir)))
    workdir.mkdir(parents=True, exist_ok=True)
    assert (Path(config.checkpoint) / 'summary.json').exists()
    _write_probe_csv(workdir / 'probe_results.csv', {0: 0.5})


def _write_probe_csv(path: Path, f1_by_probe_seed: dict[int, float], budgets=(0.2, 1.0)):
  with path.open('w', newline='') as handle:
    writer = csv.DictWriter(
      handle,
      fieldnames=['dataset', 'split', 'modality_set', 'budget', 'fraction', 'labels_per_class']
      + ['seed', 'model', 'macro_f1'],
    )
    writer.writeheader()
    for fraction in budgets:
      for seed, f1 in f1_by_probe_seed.items():
        writer.writerow(
          {
            'dataset': 'synthetic',
            'split': 'test',
            'modality_set': 'imu',
            'budget': f'{100 * fraction:g} %',
            'fraction': fraction,
            'labels_per_class': 0,
            'seed': seed,
            'model': 'pretrained',
            'macro_f1': f1 * fraction,
          }
        )


def _tiny_config(**updates):
  config = strategies.get_config(f'runlocal,members={TINY_MEMBERS}+uncertainty_clip')
  for key, value in updates.items():
    config[key] = value
  return config


def test_member_index_runs_only_that_member(tmp_path):
  fakes = Fakes()
  done = experiment.run(
    _tiny_config(member=1), tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate
  )
  name = experiment.member_names(_tiny_config())[1]
  assert [kind for kind, _ in fakes.calls] == ['pretrain', 'eval']
  assert all(f'/members/{name}/seed0' in path for _, path in fakes.calls)
  assert 'report' not in done  # A job-array member leaves the report to the report step.
  with pytest.raises(ValueError, match='member=3'):
    experiment.run(_tiny_config(member=3), tmp_path, pretrain=fakes.pretrain)
  experiment.run(_tiny_config(report_only=True), tmp_path, pretrain=fakes.pretrain)
  text = (tmp_path / 'report.md').read_text()
  assert 'Not finished' in text and 'joint_clip/seed0 (pretraining not finished)' in text
  # CI's report step: a missing member fails it, after the report is written.
  (tmp_path / 'report.md').unlink()
  with pytest.raises(ValueError, match='2 member runs have not finished: joint_clip/seed0'):
    experiment.run(
      _tiny_config(report_only=True, require_complete=True), tmp_path, pretrain=fakes.pretrain
    )
  assert (tmp_path / 'report.md').exists()
  experiment.run(
    _tiny_config(require_complete=True), tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate
  )


def test_rerun_skips_finished_steps(tmp_path):
  fakes = Fakes()
  config = _tiny_config()
  experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate)
  assert len(fakes.calls) == 6
  fakes.calls.clear()
  experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate)
  assert fakes.calls == []
  # A member killed between pretraining and evaluation gets its evaluation only.
  shutil.rmtree(tmp_path / 'members/joint_clip/seed0/eval')
  experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate)
  assert [kind for kind, _ in fakes.calls] == ['eval']


def test_print_commands_prints_one_line_per_member(tmp_path, capsys):
  config = _tiny_config(print_commands=True)
  fakes = Fakes()
  argv = ['--config=configs/experiments/strategies.py:runlocal', f'--workdir={tmp_path}']
  experiment.run(config, tmp_path, pretrain=fakes.pretrain, argv=[*argv, '--config.print_commands'])
  lines = capsys.readouterr().out.strip().splitlines()
  assert fakes.calls == []
  assert len(lines) == len(config.members) + 1
  for index, line in enumerate(lines[:-1]):
    assert line.startswith('python -m mujo_jax.main --config=configs/experiments/strategies.py')
    assert line.endswith(f'--config.member={index}') and '--config.print_commands' not in line
  assert lines[-1].endswith('--config.report_only=True')


def test_print_commands_through_main(tmp_path):
  env = {**os.environ, 'PYTHONPATH': str(ROOT), 'JAX_PLATFORMS': 'cpu'}
  out = subprocess.run(
    [
      sys.executable,
      '-m',
      'mujo_jax.main',
      '--config=configs/experiments/modalities.py:runlocal',
      f'--workdir={tmp_path}',
      '--config.print_commands=True',
    ],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=120,
    check=True,
  )
  lines = [line for line in out.stdout.splitlines() if line.startswith('python -m')]
  assert len(lines) == 7 + 1
  assert lines[3].endswith('--config.member=3')


# ---------------------------------------------------------------- statistics and the report


def test_compare_flags_a_difference_larger_than_the_seed_spread():
  best = {0: 0.80, 1: 0.82, 2: 0.81}
  far = {0: 0.60, 1: 0.63, 2: 0.61}
  near = {0: 0.79, 1: 0.83, 2: 0.80}  # Differences +0.01, -0.01, +0.01.
  result = experiment_report.compare(best, far)
  assert result['test'] == 'paired t-test' and result['significant']
  result = experiment_report.compare(best, near)
  assert result['test'] == 'paired t-test' and not result['significant']
  # Two seeds: the paired bootstrap interval.
  two = experiment_report.compare({0: 0.8, 1: 0.82}, {0: 0.6, 1: 0.61})
  assert two['test'] == 'paired bootstrap' and two['significant'] and two['low'] > 0
  mixed = experiment_report.compare({0: 0.8, 1: 0.82}, {0: 0.81, 1: 0.80})
  assert not mixed['significant'] and mixed['low'] < 0 < mixed['high']
  one = experiment_report.compare({0: 0.9}, {0: 0.1})
  assert one['test'] == 'none' and not one['significant']


def test_report_marks_only_differences_beyond_the_seed_spread(tmp_path):
  # Per pretraining seed, the 100 % macro F1 of three members; `near` is within the spread.
  members = {
    'best': [0.80, 0.82, 0.81],
    'far': [0.60, 0.63, 0.61],
    'near': [0.79, 0.83, 0.80],
  }
  for member, values in members.items():
    for seed, value in enumerate(values):
      directory = experiment_report.member_dir(tmp_path, member, seed)
      (directory / 'eval').mkdir(parents=True)
      # Two probe seeds per pretraining seed, averaged by the report.
      _write_probe_csv(directory / 'eval' / 'probe_results.csv', {0: value - 0.01, 1: value + 0.01})
      (directory / 'eval' / experiment_report.EVAL_DONE).write_text('{"seconds": 1.0}')
      summary = {'steps': 10, 'wall_seconds': 2.0 + seed, 'final_loss': 1.0}
      (directory / 'summary.json').write_text(json.dumps(summary))
  path = experiment_report.write(tmp_path, list(members), (0, 1, 2))
  text = path.read_text()
  rows = {line.split(' | ')[0].strip('| '): line for line in text.splitlines() if '±' in line}
  assert '**0.810 ± 0.008**' in rows['best']
  assert '†' in rows['far'] and '†' not in rows['near'] and '†' not in rows['best']
  assert 'paired t-test' in text
  with (tmp_path / 'report_statistics.csv').open() as handle:
    flagged = {
      (r['column'], r['member']) for r in csv.DictReader(handle) if r['significant'] == 'True'
    }
  assert flagged == {('synthetic/test 20 %', 'far'), ('synthetic/test 100 %', 'far')}
  assert (tmp_path / 'report_heatmap.png').stat().st_size > 0
  assert (tmp_path / 'report_f1_vs_budget_synthetic_test.png').stat().st_size > 0
  with (tmp_path / 'report_cost.csv').open() as handle:
    cost = {r['member']: r for r in csv.DictReader(handle)}
  assert float(cost['far']['pretrain_seconds_total']) == pytest.approx(9.0)


class Clock:
  """`time.time` of the runner, moved by hand: the tests below set what each start cost."""

  def __init__(self, now: float = 1000.0):
    self.now = now

  def time(self) -> float:
    return self.now


class Killed(Exception):
  """Stands for the kill of a run: the stage stops where it is, nothing after runs."""


def test_cost_sums_every_start_of_a_resumed_run(tmp_path, monkeypatch):
  clock = Clock()
  monkeypatch.setattr(experiment, 'time', clock)
  config = _tiny_config(member=0)
  name = experiment.member_names(config)[0]
  directory = experiment_report.member_dir(tmp_path, name, 0)
  fakes = Fakes()

  def killed_after_30_s(config, workdir):
    clock.now += 30
    raise Killed  # Before its summary.

  def resumed_for_20_s(config, workdir):
    clock.now += 20
    fakes.pretrain(config, workdir)  # Its summary's wall_seconds: this start only.

  with pytest.raises(Killed):
    experiment.run(config, tmp_path, pretrain=killed_after_30_s, evaluate=fakes.evaluate)
  clock.now = 2000.0
  experiment.run(config, tmp_path, pretrain=resumed_for_20_s, evaluate=fakes.evaluate)
  starts = json.loads((directory / experiment_report.WALL_TIME).read_text())['pretrain']
  assert starts == [[1000.0, 1030.0], [2000.0, 2020.0]]
  experiment.run(_tiny_config(report_only=True), tmp_path, pretrain=fakes.pretrain)
  with (tmp_path / 'report_cost.csv').open() as handle:
    cost = {r['member']: r for r in csv.DictReader(handle)}
  assert float(cost[name]['pretrain_seconds_total']) == pytest.approx(50.0)
  assert 'summed over every start' in (tmp_path / 'report.md').read_text()


def test_a_start_killed_outright_counts_up_to_its_last_heartbeat(tmp_path):
  # SIGKILL: no exception handler runs; only the heartbeat has moved the start's end.
  script = (
    'import sys, time\n'
    'from pathlib import Path\n'
    'from mujo_jax import experiment\n'
    'experiment.HEARTBEAT_S = 0.05\n'
    'directory = Path(sys.argv[1])\n'
    "experiment._timed(directory, 'pretrain', directory, lambda: time.sleep(600))\n"
  )
  process = subprocess.Popen([sys.executable, '-c', script, str(tmp_path)], cwd=ROOT)
  record = tmp_path / experiment_report.WALL_TIME
  deadline = time.time() + 120
  while time.time() < deadline and not record.exists():
    time.sleep(0.1)
  time.sleep(1.0)
  process.kill()
  process.wait()
  ((start, end),) = json.loads(record.read_text())['pretrain']
  assert end - start >= 0.5  # It ran a second after its first record; beats every 0.05 s.
  assert experiment_report.stage_seconds(tmp_path, 'pretrain') == pytest.approx(end - start)


def test_killed_evaluation_is_redone_and_its_tables_are_not_reported(tmp_path):
  fakes = Fakes()
  config = _tiny_config(member=0)
  name = experiment.member_names(config)[0]

  def killed_between_tables(config, workdir):
    fakes.evaluate(config, workdir)  # probe_results.csv is written ...
    raise Killed  # ... retrieval.csv never is.

  with pytest.raises(Killed):
    experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=killed_between_tables)
  experiment.run(_tiny_config(report_only=True), tmp_path, pretrain=fakes.pretrain)
  text = (tmp_path / 'report.md').read_text()
  assert f'{name}/seed0 (evaluation not finished)' in text
  assert f'| {name} |' not in _f1_tables(text)  # No half-evaluated row.
  fakes.calls.clear()
  done = experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate)
  assert done[f'{name}/seed0'] == {'pretrain': 'skipped', 'eval': 'ran'}
  experiment.run(_tiny_config(report_only=True), tmp_path, pretrain=fakes.pretrain)
  assert f'| {name} |' in _f1_tables((tmp_path / 'report.md').read_text())


def _f1_tables(report_text: str) -> str:
  return report_text.split('## Linear-probe')[1].split('## Statistical')[0]


def test_summary_cut_short_by_a_kill_pretrains_again(tmp_path):
  fakes = Fakes()
  config = _tiny_config(member=0)
  experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate)
  summary = experiment_report.member_dir(tmp_path, experiment.member_names(config)[0], 0)
  (summary / 'summary.json').write_text('{"steps": 1')  # The trainer's write, cut short.
  fakes.calls.clear()
  experiment.run(config, tmp_path, pretrain=fakes.pretrain, evaluate=fakes.evaluate)
  assert [kind for kind, _ in fakes.calls] == ['pretrain']


# ---------------------------------------------------------------- the tiny experiment, for real


@pytest.fixture(scope='module')
def tiny_experiment(synthetic_data_dir, tmp_path_factory):
  """Two tiny members × one seed × 4 steps, pretrained and evaluated once for the module."""
  workdir = tmp_path_factory.mktemp('experiment')
  config = strategies.get_config(f'runlocal,steps=4,members={TINY_MEMBERS}')
  config.tfds_data_dir = synthetic_data_dir
  config.pretrain_overrides.batch_size = 8
  start = time.time()
  done = experiment.run(config, workdir, pretrain=train.train_and_evaluate)
  print(f'tiny experiment: {time.time() - start:.0f} s')
  return config, workdir, done


@pytest.mark.slow
def test_tiny_experiment_runs_end_to_end(tiny_experiment):
  config, workdir, done = tiny_experiment
  assert all(done[f'{m}/seed0'] == {'pretrain': 'ran', 'eval': 'ran'} for m in config.members)
  text = (workdir / 'report.md').read_text()
  for member in config.members:
    assert f'| {member} |' in _f1_tables(text)
    summary = json.loads((workdir / f'members/{member}/seed0/summary.json').read_text())
    assert summary['steps'] == 4
  assert 'Cross-modal retrieval R@1' in text and 'imu→text' in text
  assert 'Training cost' in text and 'Missing-modality robustness' in text
  assert (workdir / 'report_f1.csv').exists() and (workdir / 'report_heatmap.png').exists()
  assert any((workdir / 'jax_cache').iterdir())  # The members' shared compiled programs.


@pytest.mark.slow
def test_tiny_experiment_rerun_redoes_nothing_then_only_the_deleted_member(tiny_experiment):
  config, workdir, _ = tiny_experiment
  outputs = sorted(workdir.glob('members/*/seed0/**/*'))
  mtimes = {p: p.stat().st_mtime_ns for p in outputs if p.is_file()}
  done = experiment.run(config, workdir, pretrain=train.train_and_evaluate)
  assert all(
    done[f'{m}/seed0'] == {'pretrain': 'skipped', 'eval': 'skipped'} for m in config.members
  )
  assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
  first, second = experiment.member_names(config)
  (workdir / f'members/{first}/seed0/summary.json').unlink()
  done = experiment.run(config, workdir, pretrain=train.train_and_evaluate)
  assert done[f'{first}/seed0'] == {'pretrain': 'ran', 'eval': 'skipped'}
  assert done[f'{second}/seed0'] == {'pretrain': 'skipped', 'eval': 'skipped'}
  # The re-run resumed from the member's final checkpoint: no step was trained again.
  summary = json.loads((workdir / f'members/{first}/seed0/summary.json').read_text())
  assert summary['steps'] == 4


def test_slurm_array_runs_the_task_member_then_the_report(tmp_path):
  fake = tmp_path / 'python'
  fake.write_text('#!/usr/bin/env bash\necho "$@"\n')
  fake.chmod(0o755)
  env = {**os.environ, 'PATH': f'{tmp_path}:{os.environ["PATH"]}'}
  env.pop('SLURM_ARRAY_TASK_ID', None)
  script = str(ROOT / 'launch' / 'slurm_array.sbatch')
  args = ['--config=configs/experiments/strategies.py', '--workdir=W']

  def launched(**extra):
    return subprocess.run(
      ['bash', script, *args], env={**env, **extra}, capture_output=True, text=True, check=True
    ).stdout.strip()

  assert launched(SLURM_ARRAY_TASK_ID='3') == f'-m mujo_jax.main {" ".join(args)} --config.member=3'
  assert launched() == f'-m mujo_jax.main {" ".join(args)} --config.report_only=True'
