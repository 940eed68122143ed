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

import os
import time
from collections.abc import Sequence

import bench_util  # noqa: E402  (benchmarks/ is the script directory)
from absl import app, flags

_SUBJECTS = flags.DEFINE_integer('subjects', 24, 'Subjects 1..N to write and build.')
_DURATION_S = flags.DEFINE_float('duration_s', None, 'Every trial this long; default full size.')
_ARCHIVE = flags.DEFINE_bool('archive', True, 'Write the zip (else the extracted folders).')
_WORK_DIR = flags.DEFINE_string(
  'work_dir', None, 'Where to write (default: a temporary dir, deleted afterwards).'
)


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
  bench_util.emit('motionsense_write_s', time.perf_counter() - start, 's', files=len(rows))
  bench_util.emit('motionsense_rows', sum(rows.values()), 'rows')
  bench_util.emit('motionsense_input_size_mb', bench_util.dir_size_bytes(manual) / 1e6, 'MB')

  bench_util.emit_tfds_build('motionsense', manual, data_dir)

  start = time.perf_counter()
  out = motionsense.windows(data_dir)
  bench_util.emit(
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
  bench_util.run_in_work_dir(_run, _WORK_DIR.value, prefix='motionsense_bench_')


if __name__ == '__main__':
  app.run(main)
