"""Times a full-size PAMAP2 build and its evaluation windows.

Writes the 14 subject files at the archive's sizes (3.85 M lines, ~1.8 GB of text) with the
synthetic PAMAP2 writer into a temporary manual directory, runs the real command line
`tfds build tfds_builders/pamap2 --file_format=array_record` on it, then cuts every evaluation
window with `mujo_jax.data.pamap2.windows` (5 s, hop 2.5 s, 50 Hz).

Prints one JSON line per figure, `{"name": ..., "value": ..., "unit": ...}`.

  python benchmarks/pamap2_build.py                  # full size
  python benchmarks/pamap2_build.py --rows=20000     # every file 20k lines
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import bench_util  # noqa: E402  (benchmarks/ is the script directory)
from absl import app, flags

_ROWS = flags.DEFINE_integer('rows', None, 'Lines per file; default the archive sizes.')
_WORK_DIR = flags.DEFINE_string(
  'work_dir', None, 'Where to write (default: a temporary dir, deleted afterwards).'
)


def _run(work_dir: str) -> None:
  from mujo_jax.data import pamap2
  from mujo_jax.synthesis import pamap2_writer

  manual, data_dir = os.path.join(work_dir, 'manual'), os.path.join(work_dir, 'tfds')
  start = time.perf_counter()
  paths = pamap2_writer.write_pamap2(
    manual, seed=0, settings=pamap2_writer.WriterSettings(rows=_ROWS.value)
  )
  bench_util.emit('pamap2_write_s', time.perf_counter() - start, 's', files=len(paths))
  lines = 0
  for path in paths:
    with open(path, 'rb') as handle:
      lines += sum(chunk.count(b'\n') for chunk in iter(lambda h=handle: h.read(1 << 24), b''))
  bench_util.emit('pamap2_input_lines', lines, 'lines')
  bench_util.emit('pamap2_input_size_mb', bench_util.dir_size_bytes(manual) / 1e6, 'MB')

  bench_util.emit_tfds_build('pamap2', manual, data_dir)

  start = time.perf_counter()
  windows = pamap2.windows(data_dir)
  bench_util.emit(
    'pamap2_windows_s',
    time.perf_counter() - start,
    's',
    windows=int(windows['label'].shape[0]),
    counts=windows['counts'],
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  bench_util.run_in_work_dir(_run, _WORK_DIR.value, prefix='pamap2_bench_')


if __name__ == '__main__':
  app.run(main)
