"""Pretrained weights shipped inside the package (see MODEL_CARD.md at the repository root).

Each model is a folder `<name>/` holding `config.json` (the resolved pretraining config) and
`params.npz` (the parameters, read without pickle), written by `checkpoint.export_weights`.
`Embedder.from_pretrained()` loads `DEFAULT`.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

DEFAULT = 'wearables_small'


def available() -> tuple[str, ...]:
  """Names of the shipped models."""
  root = importlib.resources.files(__name__)
  return tuple(
    sorted(p.name for p in root.iterdir() if p.is_dir() and (p / 'config.json').is_file())
  )


def path(name: str = DEFAULT) -> Path:
  """The folder of shipped model `name`; a clear error names the ones that exist."""
  folder = Path(str(importlib.resources.files(__name__) / name))
  if not (folder / 'config.json').is_file():
    raise FileNotFoundError(
      f'no shipped model {name!r} in {folder.parent}; available: {available()}'
    )
  return folder
