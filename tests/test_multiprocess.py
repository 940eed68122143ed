"""2 processes × 2 devices (gloo) train exactly like 1 process × 4 devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _args(workdir: Path, data_dir: str) -> list[str]:
  # Two towers keep the three processes' compiles short; what is tested is the process split.
  return [
    '--config=configs/pretrain.py:runlocal,batch_size=8,modalities=imu+text',
    f'--workdir={workdir}',
    f'--config.data.tfds_data_dir={data_dir}',
    '--config.total_steps=4',
    '--config.save_every_steps=2',
    '--config.data.num_workers=0',
  ]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path, synthetic_data_dir):
  env = dict(os.environ, JAX_PLATFORMS='cpu', JAX_DISABLE_MOST_OPTIMIZATIONS='1')
  env.pop('XLA_FLAGS', None)
  single = subprocess.run(
    [sys.executable, '-m', 'mujo_jax.main', *_args(tmp_path / 'single', synthetic_data_dir)],
    env=dict(env, XLA_FLAGS='--xla_force_host_platform_device_count=4'),
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert single.returncode == 0, single.stderr[-3000:]
  multi = subprocess.run(
    [
      'bash',
      'launch/local_multiprocess.sh',
      '2',
      '--',
      *_args(tmp_path / 'multi', synthetic_data_dir),
    ],
    env=dict(env, DEVICES_PER_PROCESS='2'),
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert multi.returncode == 0, multi.stderr[-3000:]
  a = json.loads((tmp_path / 'single/summary.json').read_text())
  b = json.loads((tmp_path / 'multi/summary.json').read_text())
  assert a['steps'] == b['steps'] == 4
  assert b['final_loss'] == pytest.approx(a['final_loss'], rel=1e-5)
  assert b['params_global_norm'] == pytest.approx(a['params_global_norm'], rel=1e-5)
  # Checkpoints were written collectively: one iterator state file per process.
  states = sorted((tmp_path / 'multi/checkpoints/4/data_iter').glob('*.json'))
  assert [p.name for p in states] == ['process_0-of-2.json', 'process_1-of-2.json']
