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
import tempfile
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

  build_s = bench_util.time_tfds_build('mhealth', manual, data_dir)
  bench_util.emit('mhealth_tfds_build_s', build_s, 's', cpus=os.cpu_count())
  bench_util.emit(
    'mhealth_output_size_mb',
    bench_util.dir_size_bytes(os.path.join(data_dir, 'mhealth')) / 1e6,
    'MB',
  )

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
  if _WORK_DIR.value:
    os.makedirs(_WORK_DIR.value, exist_ok=True)
    _run(_WORK_DIR.value)
  else:
    with tempfile.TemporaryDirectory(prefix='mhealth_bench_') as work_dir:
      _run(work_dir)


if __name__ == '__main__':
  app.run(main)
