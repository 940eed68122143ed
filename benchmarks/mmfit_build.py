"""Times a full-size MM-Fit build and the evaluation windows read through grain.

Writes 21 workouts of realistic length with the synthetic MM-Fit writer (~35 min each: ~64k pose
frames, phone streams of ~0.45 M (210 Hz) and ~1 M (500 Hz) rows) into a temporary manual
directory, runs the real command line `tfds build tfds_builders/mmfit --file_format=array_record`
on it, and reads every evaluation window of the test split (5 s, stride 0.2 s) through grain.

Prints one JSON line per figure, `{"name": ..., "value": ..., "unit": ...}`.

  python benchmarks/mmfit_build.py                      # 21 full-size workouts
  python benchmarks/mmfit_build.py --workouts=3 --minutes=5
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import bench_util  # noqa: E402  (benchmarks/ is the script directory)
from absl import app, flags

_WORKOUTS = flags.DEFINE_integer('workouts', 21, 'Workouts w00.. to write and build.')
_MINUTES = flags.DEFINE_float('minutes', None, 'Workout length; default realistic (~35 min).')
_WORK_DIR = flags.DEFINE_string(
  'work_dir', None, 'Where to write (default: a temporary dir, deleted afterwards).'
)
_SPLIT = flags.DEFINE_string('split', 'test', 'Split whose evaluation windows are read.')
_BATCH = flags.DEFINE_integer('batch_size', 256, 'Batch size of the window reading.')


def _run(work_dir: str) -> None:
  import grain
  import numpy as np

  from mujo_jax.data import mmfit
  from mujo_jax.synthesis import mmfit_writer

  manual, data_dir = os.path.join(work_dir, 'manual'), os.path.join(work_dir, 'tfds')
  start = time.perf_counter()
  mmfit_writer.write_mmfit(manual, _WORKOUTS.value, seed=0, minutes=_MINUTES.value)
  bench_util.emit('mmfit_write_s', time.perf_counter() - start, 's', workouts=_WORKOUTS.value)
  bench_util.emit('mmfit_input_size_mb', bench_util.dir_size_bytes(manual) / 1e6, 'MB')
  frames = [
    np.load(os.path.join(manual, w, f'{w}_pose_3d.npy'), mmap_mode='r', allow_pickle=False).shape[1]
    for w in sorted(os.listdir(manual))
  ]
  bench_util.emit('mmfit_pose_frames_per_workout', float(np.mean(frames)), 'frames')

  bench_util.emit_tfds_build('mmfit', manual, data_dir)

  start = time.perf_counter()
  windows = mmfit.eval_windows(data_dir, _SPLIT.value)
  bench_util.emit(
    'mmfit_eval_windows_open_s',
    time.perf_counter() - start,
    's',
    split=_SPLIT.value,
    windows=len(windows),
  )
  batches = windows.batch(_BATCH.value).to_iter_dataset(grain.ReadOptions(num_threads=2))
  start = time.perf_counter()
  count = sum(batch['label'].shape[0] for batch in batches)
  seconds = time.perf_counter() - start
  assert count == len(windows)
  bench_util.emit(
    'mmfit_eval_windows_per_s',
    count / seconds,
    'windows/s',
    split=_SPLIT.value,
    batch_size=_BATCH.value,
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  bench_util.run_in_work_dir(_run, _WORK_DIR.value, prefix='mmfit_bench_')


if __name__ == '__main__':
  app.run(main)
