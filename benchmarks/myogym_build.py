"""Times a full-size MyoGym build and its evaluation windows.

Writes a writer-made `MyoGym.mat` at the published size (10 persons x 30 exercises, ~77 % NULL,
buffering duplicates: ~2.0 M rows), runs the real command line
`tfds build tfds_builders/myogym --file_format=array_record` on it, and cuts every evaluation
window with `mujo_jax.data.myogym.windows` (defaults: 5 s, hop 2.5 s, 50 Hz).

Prints one JSON line per figure, `{"name": ..., "value": ..., "unit": ...}`.

  python benchmarks/myogym_build.py                  # full size
  python benchmarks/myogym_build.py --exercises=3    # quick
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import bench_util  # noqa: E402  (benchmarks/ is the script directory)
from absl import app, flags

_EXERCISES = flags.DEFINE_integer('exercises', 30, 'Exercises per person (ids 1..n).')
_WORK_DIR = flags.DEFINE_string(
  'work_dir', None, 'Where to write (default: a temporary dir, deleted afterwards).'
)


def _run(work_dir: str) -> None:
  from mujo_jax.data import myogym
  from mujo_jax.synthesis import myogym_writer

  manual, data_dir = os.path.join(work_dir, 'manual'), os.path.join(work_dir, 'tfds')
  start = time.perf_counter()
  settings = myogym_writer.PersonSettings(exercises=tuple(range(1, _EXERCISES.value + 1)))
  people = myogym_writer.write_myogym(manual, settings=settings, seed=0)
  rows = sum(len(p.raw) for p in people.values())
  duplicates = sum(int(p.duplicate.sum()) for p in people.values())
  bench_util.emit(
    'myogym_write_s', time.perf_counter() - start, 's', rows=rows, duplicates=duplicates
  )
  bench_util.emit('myogym_input_size_mb', bench_util.dir_size_bytes(manual) / 1e6, 'MB')

  bench_util.emit_tfds_build('myogym', manual, data_dir)

  for include_null in (False, True):
    start = time.perf_counter()
    out = myogym.windows(data_dir, include_null=include_null)
    bench_util.emit(
      'myogym_windows_s',
      time.perf_counter() - start,
      's',
      include_null=include_null,
      windows=len(out['label']),
      classes=len(set(out['label'].tolist())),
      counts=out['counts'],
    )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  bench_util.run_in_work_dir(_run, _WORK_DIR.value, prefix='myogym_bench_')


if __name__ == '__main__':
  app.run(main)
