"""Checkpoint I/O of a pretraining run: one module that the trainer and evaluation both use.

A workdir holds `config.json` (the resolved pretraining config, written before the first step)
and `checkpoints/<step>/{state,data_iter}` (orbax). The trainer saves through
`checkpoint_manager`; evaluation, `Embedder` and tests restore through `load_pretrained`, which
rebuilds the config from `config.json` and validates it again, so a checkpoint is always read
by the architecture it was trained with.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from flax import traverse_util

from mujo_jax import config_validation

CONFIG_FILE = 'config.json'
CHECKPOINTS_DIR = 'checkpoints'
ITEMS = ('state', 'data_iter')


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pretrained:
  """A restored checkpoint: the resolved pretraining config, host parameters and the step."""

  config: ml_collections.ConfigDict
  params: Any
  step: int
  workdir: str


def save_config(workdir: Path, config: ml_collections.ConfigDict) -> Path:
  """Writes the resolved config beside the checkpoints (process 0 only)."""
  path = workdir / CONFIG_FILE
  path.write_text(config.to_json_best_effort(indent=2))
  return path


def checkpoint_manager(workdir: Path, config: ml_collections.ConfigDict) -> ocp.CheckpointManager:
  """The manager the trainer saves with: async, `keep_checkpoints` kept, every N steps."""
  options = ocp.CheckpointManagerOptions(
    max_to_keep=config.keep_checkpoints,
    save_interval_steps=config.save_every_steps,
    enable_async_checkpointing=True,
    create=True,
  )
  return ocp.CheckpointManager(
    Path(workdir).absolute() / CHECKPOINTS_DIR, options=options, item_names=ITEMS
  )


def _lists_to_tuples(value: Any) -> Any:
  """JSON turns tuples into lists; the config (and flax module fields) expect tuples."""
  if isinstance(value, dict):
    return {k: _lists_to_tuples(v) for k, v in value.items()}
  if isinstance(value, list):
    return tuple(_lists_to_tuples(v) for v in value)
  return value


def config_from_json(config_dict: Mapping[str, Any]) -> ml_collections.ConfigDict:
  """The pretraining config saved as `W/config.json`, validated and resolved again."""
  config = ml_collections.ConfigDict(_lists_to_tuples(dict(config_dict)))
  return config_validation.resolve_pretrain_config(config)


def load_config(workdir: str | Path) -> ml_collections.ConfigDict:
  path = Path(workdir).expanduser().absolute() / CONFIG_FILE
  if not path.exists():
    raise FileNotFoundError(
      f'{path} not found: expected a pretraining workdir written by '
      f'`mujo_jax.main --config=configs/pretrain.py`'
    )
  return config_from_json(json.loads(path.read_text()))


def load_pretrained(workdir: str | Path, step: int | None = None) -> Pretrained:
  """Host parameters and config of a pretraining workdir's latest (or given) checkpoint."""
  workdir = Path(workdir).expanduser().absolute()  # orbax refuses relative paths.
  config = load_config(workdir)
  with ocp.CheckpointManager(workdir / CHECKPOINTS_DIR, item_names=ITEMS) as manager:
    step = manager.latest_step() if step is None else step
    if step is None or step not in manager.all_steps():
      raise FileNotFoundError(
        f'no checkpoint at step {step} in {workdir / CHECKPOINTS_DIR}; '
        f'available: {manager.all_steps()}'
      )
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  params = jax.tree.map(np.asarray, restored['state']['params'])
  return Pretrained(config=config, params=params, step=int(step), workdir=str(workdir))


def init_key(config: ml_collections.ConfigDict) -> jax.Array:
  """The key a run of `config` initialises its parameters from.

  The trainer's step-0 state and every random-init baseline of evaluation use it, so that
  "random init" always means the run's own initial weights.
  """
  return jax.random.key(config.seed)


# ---------------------------------------------------------------- exported weights
# A pretrained model shipped inside the package (or handed to users) is two files: the resolved
# config as JSON and the parameters as an `.npz` of named arrays, read with
# `allow_pickle=False`: loading weights never executes code, and needs neither orbax nor the
# optimiser state.

WEIGHTS_FILE = 'params.npz'


def export_weights(pretrained: Pretrained, directory: str | Path) -> Path:
  """Writes `config.json` and `params.npz` (float32, compressed) of `pretrained`."""
  directory = Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  save_config(directory, pretrained.config)
  flat = traverse_util.flatten_dict(jax.device_get(pretrained.params), sep='/')
  np.savez_compressed(
    directory / WEIGHTS_FILE, **{key: np.asarray(value, np.float32) for key, value in flat.items()}
  )
  return directory


def load_exported(directory: str | Path) -> Pretrained:
  """The model `export_weights` wrote, as a `Pretrained` (step from the config's run)."""
  directory = Path(directory)
  path = directory / WEIGHTS_FILE
  if not path.exists():
    raise FileNotFoundError(
      f'{path} not found: expected exported weights (config.json + '
      f'{WEIGHTS_FILE}, written by checkpoint.export_weights)'
    )
  config = load_config(directory)
  try:
    with np.load(path, allow_pickle=False) as arrays:
      params = traverse_util.unflatten_dict({k: arrays[k] for k in arrays.files}, sep='/')
  except ValueError as error:  # An object array: refused, since unpickling would run code.
    raise ValueError(f'{path}: {error} (weights must be plain numeric arrays)') from None
  return Pretrained(
    config=config, params=params, step=int(config.total_steps), workdir=str(directory)
  )
