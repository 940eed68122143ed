"""Times a full-size MHEALTH build and the evaluation windows.

Writes the ten subjects at the real size (~1.2 M rows in all, the README's protocol) with the
synthetic MHEALTH writer into a temporary manual directory, runs the real command line
`tfds build tfds_builders/mhealth --file_format=array_record` on it, and cuts the default
evaluation windows (5 s, hop 2.5 s, 50 Hz) with `mujo_jax.data.mhealth.windows`.

Prints one JSON line per figure, `{"name": ..., "value": ..., "unit": ...}`.

  python benchmarks/mhealth_build.py
  python benchmarks/mhealth_build.py --scale=0.1
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import bench_util  # noqa: E402  (benchmarks/ is the script directory)
from absl import app, flags

_SCALE = flags.DEFINE_float('scale', 1.0, 'Duration scale of the writer (1 = full size).')
_WORK_DIR = flags.DEFINE_string(
  'work_dir', None, 'Where to write (default: a temporary dir, deleted afterwards).'
)


def _run(work_dir: str) -> None:
  import numpy as np

  from mujo_jax.data import mhealth
  from mujo_jax.synthesis import mhealth_writer

  manual, data_dir = os.path.join(work_dir, 'manual'), os.path.join(work_dir, 'tfds')
  start = time.perf_counter()
  paths = mhealth_writer.write_mhealth(
    manual, seed=0, settings=mhealth_writer.SubjectSettings(scale=_SCALE.value)
  )
  bench_util.emit('mhealth_write_s', time.perf_counter() - start, 's', subjects=len(paths))
  rows = sum(sum(1 for _ in open(path)) for path in paths)
  bench_util.emit('mhealth_input_rows', rows, 'rows')
  bench_util.emit('mhealth_input_size_mb', bench_util.dir_size_bytes(manual) / 1e6, 'MB')

  bench_util.emit_tfds_build('mhealth', manual, data_dir)

  start = time.perf_counter()
  out = mhealth.windows(data_dir)
  bench_util.emit(
    'mhealth_windows_s',
    time.perf_counter() - start,
    's',
    windows=len(out['label']),
    counts=out['counts'],
    per_class=np.bincount(out['label'], minlength=len(out['class_names'])).tolist(),
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  bench_util.run_in_work_dir(_run, _WORK_DIR.value, prefix='mhealth_bench_')


if __name__ == '__main__':
  app.run(main)
