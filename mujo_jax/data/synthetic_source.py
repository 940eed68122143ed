"""The synthetic TFDS corpus as a random-access data source, built on first use.

Training must run on a fresh machine without manual downloads, so the synthetic corpus is built
(ArrayRecord files, which grain reads by index) the first time it is asked for and reused
afterwards. Reading needs no TensorFlow: `tfds.data_source` returns records as NumPy arrays.

Building on first use needs the builder class registered with TFDS, so this module imports the
builder module once, here: it is the one place under `mujo_jax/` that imports `tfds_builders`
(ARCHITECTURE.md). Everything else goes through `tfds.builder` / `tfds.data_source` by name;
FiMAD and MM-Fit are built beforehand with `tfds build`, and TFDS reads them from their files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import tensorflow_datasets as tfds

# Registers the builder with TFDS under DATASET_NAME (see the module docstring).
from tfds_builders.mujo_synthetic import mujo_synthetic_dataset_builder  # noqa: F401

DATASET_NAME = 'mujo_synthetic'
FILE_FORMAT = 'array_record'


def config_names() -> tuple[str, ...]:
  """Names of the builder configs (e.g. 'tiny', 'default')."""
  return tuple(config.name for config in tfds.builder_cls(DATASET_NAME).BUILDER_CONFIGS)


@contextlib.contextmanager
def _exclusive(lock_path: pathlib.Path) -> Iterator[None]:
  """Holds an exclusive advisory lock on `lock_path` (created if absent)."""
  lock_path.parent.mkdir(parents=True, exist_ok=True)
  with open(lock_path, 'a') as lock_file:
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock_file, fcntl.LOCK_UN)


def ensure_built(
  config_name: str = 'default', data_dir: str | os.PathLike[str] | None = None
) -> tfds.core.DatasetBuilder:
  """Returns the builder of `mujo_synthetic/<config_name>`, generating it if absent.

  A corpus already prepared in `data_dir` (by this function or by `tfds build
  tfds_builders/mujo_synthetic --config=... --file_format=array_record`) is reused as is.
  Building holds a lock file in the data directory, so that processes started together (one
  per host or device) build the corpus once and the others wait for it and reuse it.

  Args:
    config_name: a builder config name, see `config_names()`.
    data_dir: TFDS data directory; None uses TFDS's default (~/tensorflow_datasets).

  Raises:
    ValueError: for an unknown config name, or when the prepared corpus is not in
      ArrayRecord format (grain needs random access).
  """
  names = config_names()
  if config_name not in names:
    raise ValueError(f'unknown {DATASET_NAME} config {config_name!r}; expected one of {names}')

  def make_builder() -> tfds.core.DatasetBuilder:
    return tfds.builder(
      f'{DATASET_NAME}/{config_name}',
      data_dir=None if data_dir is None else os.fspath(data_dir),
      file_format=FILE_FORMAT,
    )

  builder = make_builder()
  if not builder.is_prepared():
    lock_path = pathlib.Path(builder.data_dir_root) / f'.{DATASET_NAME}_{config_name}.lock'
    with _exclusive(lock_path):
      builder = make_builder()  # Another process may have built it while we waited.
      builder.download_and_prepare()
  stored_format = builder.info.file_format
  if stored_format is not None and stored_format.value != FILE_FORMAT:
    raise ValueError(
      f'{DATASET_NAME}/{config_name} in {builder.data_dir} was built as '
      f'{stored_format.value}; rebuild it with --file_format={FILE_FORMAT}'
    )
  return builder


def data_source(
  config_name: str, split: str, data_dir: str | os.PathLike[str] | None = None
) -> Sequence[dict[str, Any]]:
  """Random-access records (dicts of NumPy arrays) of one split, building the corpus if absent.

  `text` comes back as UTF-8 bytes, `label`/`subject`/`reps` as integers.
  """
  builder = ensure_built(config_name, data_dir)
  if split not in builder.info.splits:
    raise ValueError(
      f'{DATASET_NAME}/{config_name} has no split {split!r}; '
      f'expected one of {sorted(builder.info.splits)}'
    )
  return tfds.data_source(
    f'{DATASET_NAME}/{config_name}',
    split=split,
    data_dir=builder.data_dir_root,
    download=False,
  )
