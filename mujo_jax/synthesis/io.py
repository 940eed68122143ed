"""File-system helpers shared by the synthetic corpus writers."""

from __future__ import annotations

import os
import pathlib
import shutil


def ensure_empty_out_dir(path: str | os.PathLike[str], overwrite: bool) -> pathlib.Path:
  """Makes `path` an empty directory to write a dataset into, refusing to clobber data.

  A writer that silently mixed new files into an old dataset (or deleted one) would produce a
  corpus nobody asked for, so a non-empty directory is an error unless `overwrite` says that
  its contents may go.

  Args:
    path: the output directory; created (with parents) when absent.
    overwrite: when the directory exists and is not empty, delete its contents instead of
      raising.

  Returns:
    The directory as a `pathlib.Path`.

  Raises:
    FileExistsError: `path` is a non-empty directory and `overwrite` is False, or `path` is an
      existing file.
  """
  out_dir = pathlib.Path(path)
  if out_dir.exists() and not out_dir.is_dir():
    raise FileExistsError(f'output path {out_dir} exists and is not a directory')
  if out_dir.is_dir() and any(out_dir.iterdir()):
    if not overwrite:
      raise FileExistsError(
        f'output directory {out_dir} is not empty; pass --overwrite (overwrite=True) '
        'to replace its contents'
      )
    for child in out_dir.iterdir():
      if child.is_dir() and not child.is_symlink():
        shutil.rmtree(child)
      else:
        child.unlink()
  out_dir.mkdir(parents=True, exist_ok=True)
  return out_dir
