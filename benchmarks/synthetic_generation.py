"""Times the synthetic corpus: one clip, the renderer, and building the `tiny`/`default` configs.

Prints one JSON line per figure, `{"name": ..., "value": ..., "unit": ...}`. Builds go into a
temporary data_dir through `synthetic_source.ensure_built` (the path training uses), so the
figure includes TFDS serialisation and ArrayRecord writing.

  python benchmarks/synthetic_generation.py                  # tiny and default
  python benchmarks/synthetic_generation.py --configs=tiny
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time
from collections.abc import Sequence

import numpy as np
from absl import app, flags

_CONFIGS = flags.DEFINE_list('configs', ['tiny', 'default'], 'Builder configs to time.')
_CLIP_REPEATS = flags.DEFINE_integer('clip_repeats', 44, 'Clips timed for the per-clip figure.')


def _emit(name: str, value: float, unit: str, **extra) -> None:
  print(json.dumps({'name': name, 'value': round(value, 4), 'unit': unit, **extra}), flush=True)


def _time_clips(repeats: int) -> None:
  from mujo_jax.facts import activities
  from mujo_jax.synthesis import corpus, render

  rng = np.random.default_rng(0)
  corpus.make_clip(rng, 'squats', corpus.get_subject(0, 0))  # Warm caches and imports.
  start = time.perf_counter()
  clips = []
  for index in range(repeats):
    activity = activities.ACTIVITIES[index % len(activities.ACTIVITIES)]
    clips.append(corpus.make_clip(rng, activity, corpus.get_subject(0, index % 8)))
  _emit(
    'synthetic_make_clip_ms',
    1e3 * (time.perf_counter() - start) / repeats,
    'ms/clip',
    clip_s=corpus.CLIP_S,
  )
  pose_px = clips[0]['pose_2d'][::3] * corpus.VIDEO_SIZE
  start = time.perf_counter()
  for _ in range(50):
    render.render(pose_px, corpus.VIDEO_SIZE)
  _emit(
    'synthetic_render_clip_ms',
    1e3 * (time.perf_counter() - start) / 50,
    'ms/clip',
    frames=int(pose_px.shape[0]),
    size=corpus.VIDEO_SIZE,
  )


def main(argv: Sequence[str]) -> None:
  del argv
  from mujo_jax.data import synthetic_source
  from mujo_jax.synthesis import corpus

  _emit('cpu_count', float(os.cpu_count() or 0), 'cores')
  _time_clips(_CLIP_REPEATS.value)
  for config_name in _CONFIGS.value:
    cfg = corpus.CONFIGS[config_name]
    with tempfile.TemporaryDirectory() as data_dir:
      start = time.perf_counter()
      builder = synthetic_source.ensure_built(config_name, data_dir)
      seconds = time.perf_counter() - start
      size_mb = (
        sum(os.path.getsize(p) for p in pathlib.Path(builder.data_dir).iterdir() if p.is_file())
        / 2**20
      )
    _emit(
      f'synthetic_build_{config_name}_s',
      seconds,
      's',
      clips=int(sum(cfg.num_clips.values())),
      disk_mb=round(size_mb, 1),
    )


if __name__ == '__main__':
  app.run(main)
