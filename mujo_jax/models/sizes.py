"""Model size presets: `tiny` for tests, `small` for the CPU demo, `base` for GPU/TPU.

Every encoder tower uses the same transformer shape; `embed_dim` is the shared joint space.
Dropout is off for `tiny`/`small` (the CPU step stays cheap; CLIP-style pretraining rarely uses
it) and 0.1 for `base`; `config.model.dropout_rate` overrides it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSize:
  width: int
  depth: int
  num_heads: int
  mlp_dim: int
  embed_dim: int
  dropout_rate: float


SIZES: dict[str, ModelSize] = {
  'tiny': ModelSize(width=32, depth=1, num_heads=2, mlp_dim=64, embed_dim=32, dropout_rate=0.0),
  'small': ModelSize(width=128, depth=2, num_heads=4, mlp_dim=256, embed_dim=128, dropout_rate=0.0),
  'base': ModelSize(width=512, depth=6, num_heads=8, mlp_dim=2048, embed_dim=512, dropout_rate=0.1),
}


def get_size(name: str) -> ModelSize:
  """The preset called `name`, or a ValueError listing the presets."""
  if name not in SIZES:
    raise ValueError(f'model.size={name!r}: expected one of {sorted(SIZES)}')
  return SIZES[name]
