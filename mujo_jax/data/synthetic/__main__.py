"""Writes synthetic data: MM-Fit or FiMAD on-disk layouts, or the TFDS synthetic corpus.

  python -m mujo_jax.data.synthetic --format=mmfit --out=DIR --workouts=21 [--overwrite]
  python -m mujo_jax.data.synthetic --format=fimad --out=DIR --clips=40 \
      --split_file=PATH/train_val_split.json [--overwrite]
  python -m mujo_jax.data.synthetic --format=tfds --config=tiny --data_dir=DIR

Everything written is a function of --seed.
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

from mujo_jax.data import synthetic_source
from mujo_jax.synthesis import fimad_writer, mmfit_writer

FORMATS = ('mmfit', 'fimad', 'tfds')

_FORMAT = flags.DEFINE_enum('format', None, FORMATS, 'What to write.')
_OUT = flags.DEFINE_string('out', None, 'Output directory (mmfit, fimad).')
_OVERWRITE = flags.DEFINE_bool(
  'overwrite', False, 'Replace the contents of a non-empty --out directory.'
)
_SEED = flags.DEFINE_integer('seed', 0, 'Random seed of everything written (mmfit, fimad).')
_WORKOUTS = flags.DEFINE_integer('workouts', 21, 'Workouts w00..wNN to write (mmfit).')
_CLIPS = flags.DEFINE_integer('clips', 40, 'Clips to write (fimad).')
_SPLIT_FILE = flags.DEFINE_string(
  'split_file', None, "The authors' train_val_split.json whose clip ids are used (fimad)."
)
_CONFIG = flags.DEFINE_string('config', 'tiny', 'Builder config of the TFDS corpus (tfds).')
_DATA_DIR = flags.DEFINE_string(
  'data_dir', None, 'TFDS data directory (tfds); default: ~/tensorflow_datasets.'
)


def _require(flag: flags.FlagHolder, fmt: str) -> None:
  if flag.value is None:
    raise app.UsageError(f'--format={fmt} needs --{flag.name}')


def main(argv: Sequence[str]) -> None:
  try:
    _write(argv)
  except FileExistsError as error:  # A non-empty --out without --overwrite: no traceback.
    raise SystemExit(f'error: {error}') from None


def _write(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fmt = _FORMAT.value
  if fmt is None:
    raise app.UsageError(f'--format is required (one of {", ".join(FORMATS)})')
  if fmt == 'mmfit':
    _require(_OUT, fmt)
    # Positional, in the documented order (out_dir, num_workouts, seed, overwrite).
    mmfit_writer.write_mmfit(_OUT.value, _WORKOUTS.value, _SEED.value, _OVERWRITE.value)
    print(f'wrote {_WORKOUTS.value} MM-Fit workouts to {_OUT.value}')
  elif fmt == 'fimad':
    _require(_OUT, fmt)
    _require(_SPLIT_FILE, fmt)
    # Positional, in the documented order (out_dir, num_clips, split_file, seed, overwrite).
    written = fimad_writer.write_fimad(
      _OUT.value, _CLIPS.value, _SPLIT_FILE.value, _SEED.value, _OVERWRITE.value
    )
    counts = {split: len(ids) for split, ids in (written or {}).items()}
    print(f'wrote {_CLIPS.value} FiMAD clips to {_OUT.value} {counts}')
  else:
    if _CONFIG.value not in synthetic_source.config_names():
      raise app.UsageError(
        f'--config={_CONFIG.value!r}: expected one of {synthetic_source.config_names()}'
      )
    builder = synthetic_source.ensure_built(_CONFIG.value, _DATA_DIR.value)
    splits = {name: info.num_examples for name, info in builder.info.splits.items()}
    print(f'{builder.info.full_name} ready in {builder.data_dir}: {splits}')


if __name__ == '__main__':
  app.run(main)
