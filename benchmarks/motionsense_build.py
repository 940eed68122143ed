"""Times a full-size MotionSense build and its evaluation windows.

Writes 24 subjects x 15 trials with the synthetic MotionSense writer at full-size trial lengths
(~1.2 M rows, the zip form as downloaded), runs the real command line
`tfds build tfds_builders/motionsense --file_format=array_record` on it, and cuts the default
evaluation windows (5 s every 2.5 s at 50 Hz) with `mujo_jax.data.motionsense.windows`.

Prints one JSON line per figure, `{"name": ..., "value": ..., "unit": ...}`.

  python benchmarks/motionsense_build.py                 # 24 subjects, full size
  python benchmarks/motionsense_build.py --subjects=3 --duration_s=10
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from absl import app, flags

_SUBJECTS = flags.DEFINE_integer('subjects', 24, 'Subjects 1..N to write and build.')
_DURATION_S = flags.DEFINE_float('duration_s', None, 'Every trial this long; default full size.')
_ARCHIVE = flags.DEFINE_bool('archive', True, 'Write the zip (else the extracted folders).')
_WORK_DIR = flags.DEFINE_string(
  'work_dir', None, 'Where to write (default: a temporary dir, deleted afterwards).'
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _emit(name: str, value: float, unit: str, **extra) -> None:
  print(
    json.dumps({'name': name, 'value': round(float(value), 3), 'unit': unit, **extra}), flush=True
  )


def _size_bytes(path: str) -> int:
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _run(work_dir: str) -> None:
  import numpy as np

  from mujo_jax.data import motionsense
  from mujo_jax.synthesis import motionsense_writer

  manual, data_dir = os.path.join(work_dir, 'manual'), os.path.join(work_dir, 'tfds')
  start = time.perf_counter()
  rows = motionsense_writer.write_motionsense(
    manual,
    subjects=range(1, _SUBJECTS.value + 1),
    duration_s=_DURATION_S.value,
    archive=_ARCHIVE.value,
  )
  _emit('motionsense_write_s', time.perf_counter() - start, 's', files=len(rows))
  _emit('motionsense_rows', sum(rows.values()), 'rows')
  _emit('motionsense_input_size_mb', _size_bytes(manual) / 1e6, 'MB')

  tfds_cli = (sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main')  # = `tfds`
  start = time.perf_counter()
  subprocess.run(
    [
      *tfds_cli,
      'build',
      os.path.join(REPO, 'tfds_builders', 'motionsense'),
      f'--manual_dir={manual}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    check=True,
    cwd=REPO,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO),
  )
  _emit('motionsense_tfds_build_s', time.perf_counter() - start, 's', cpus=os.cpu_count())
  _emit(
    'motionsense_output_size_mb', _size_bytes(os.path.join(data_dir, 'motionsense')) / 1e6, 'MB'
  )

  start = time.perf_counter()
  out = motionsense.windows(data_dir)
  _emit(
    'motionsense_windows_s',
    time.perf_counter() - start,
    's',
    windows=len(out['label']),
    per_class=np.bincount(out['label'], minlength=len(out['class_names'])).tolist(),
    test_windows=int(np.sum(out['split'] == 'test')),
    counts=out['counts'],
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if _WORK_DIR.value:
    os.makedirs(_WORK_DIR.value, exist_ok=True)
    _run(_WORK_DIR.value)
  else:
    with tempfile.TemporaryDirectory(prefix='motionsense_bench_') as work_dir:
      _run(work_dir)


if __name__ == '__main__':
  app.run(main)
