"""Checkpoint I/O of a pretraining run: one module that the trainer and evaluation both use.

A workdir holds `config.json` (the resolved pretraining config, written before the first step)
and `checkpoints/<step>/{state,data_iter}` (orbax). The trainer saves through
`checkpoint_manager`; evaluation, `Embedder` and tests restore through `load_pretrained`, which
rebuilds the config from `config.json` and validates it again, so a checkpoint is always read
by the architecture it was trained with.

Faults of the workdir are handled here too: one run at a time (`lock_workdir`), a write and room
for the checkpoints before the first step (`prepare_workdir`, `check_free_space`), and a corrupt
latest checkpoint set aside for the newest valid one (`restore_newest_valid`).
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from flax import traverse_util
from jax.experimental import multihost_utils

from mujo_jax import config_validation

CONFIG_FILE = 'config.json'
CHECKPOINTS_DIR = 'checkpoints'
ITEMS = ('state', 'data_iter')
LOCK_FILE = '.lock'
# Checkpoints that failed to restore are moved here (not deleted: they may be worth a look),
# so that orbax neither lists them nor refuses to save their step again.
CORRUPT_DIR = 'corrupt_checkpoints'


class WorkdirError(ValueError):
  """A workdir that cannot be used as it is: locked, unwritable, full, or no valid checkpoint.

  A ValueError so that `main` reports it as the one line it is (the path and what is wrong).
  """


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
    # A run killed during a save leaves `<step>.orbax-checkpoint-tmp`: never listed as a step,
    # and removed when the next run starts.
    cleanup_tmp_directories=True,
  )
  return ocp.CheckpointManager(
    Path(workdir).absolute() / CHECKPOINTS_DIR, options=options, item_names=ITEMS
  )


# ---------------------------------------------------------------- workdir faults


def lock_workdir(workdir: Path) -> TextIO:
  """Takes the workdir's lock for this run (process 0); keep the returned file open.

  flock, not a pid file: the kernel drops the lock when its holder dies, so a run killed with
  `kill -9` never blocks its own restart, and two live runs can never both hold it.
  """
  path = Path(workdir) / LOCK_FILE
  handle = open(path, 'a+')  # Held open (and locked) for the whole run.
  try:
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    handle.seek(0)
    holder = handle.read().strip() or 'another process'
    handle.close()
    raise WorkdirError(
      f'workdir {workdir} is in use by {holder} (lock {path}): wait for that run to end, '
      f'or give another --workdir'
    ) from None
  handle.seek(0)
  handle.truncate()
  handle.write(f'pid {os.getpid()} on {socket.gethostname()}\n')
  handle.flush()
  return handle


def prepare_workdir(workdir: Path) -> None:
  """Creates the workdir and proves that it takes a write, before anything else is done."""
  probe = Path(workdir) / f'.write-probe-{os.getpid()}'
  try:
    Path(workdir).mkdir(parents=True, exist_ok=True)
    with open(probe, 'wb') as handle:
      handle.write(b'\0' * 4096)
      handle.flush()
      os.fsync(handle.fileno())
  except OSError as error:
    raise WorkdirError(
      f'workdir {workdir} is not writable: {error.strerror or error} ({error.filename or probe})'
    ) from error
  finally:
    probe.unlink(missing_ok=True)


def check_free_space(workdir: Path, needed_bytes: int) -> None:
  """Fails before the first step, not at a save, if the disk cannot take the checkpoints."""
  free = shutil.disk_usage(workdir).free
  if free < needed_bytes:
    raise WorkdirError(
      f'workdir {workdir} has {free / 2**20:.0f} MiB free: expected at least '
      f'{needed_bytes / 2**20:.0f} MiB for the checkpoints this run keeps'
    )


def disk_error(error: BaseException) -> OSError | None:
  """The OSError of room or permission behind a failed save (not a bug), if that is what it is."""
  codes = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
  while error is not None:
    if isinstance(error, OSError) and error.errno in codes:
      return error
    error = error.__cause__ or error.__context__
  return None


def restore_newest_valid(
  manager: ocp.CheckpointManager, workdir: Path, args: Callable[[], ocp.args.Composite]
) -> tuple[int | None, Any]:
  """Restores the newest checkpoint that reads back; sets the broken newer ones aside.

  `args()` builds fresh restore arguments for each try. Returns `(None, None)` only when the
  workdir has no checkpoint at all: a workdir with checkpoints of which none is valid is an
  error, never a silent restart from step 0.
  """
  corrupt, problems = [], []
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      restored = manager.restore(step, args=args())
    except Exception as error:  # Any failure to read back: corrupt.
      reason = f'{type(error).__name__}: {_first_line(error)}'
      corrupt.append(step)
      problems.append(f'step {step} ({reason})')
      logging.warning(
        'checkpoint %s is corrupt or partial (%s): falling back to the one before',
        manager.directory / str(step),
        reason,
      )
      continue
    _set_aside(manager, workdir, corrupt)
    return step, restored
  if problems:
    raise WorkdirError(f'no valid checkpoint in {manager.directory}: ' + '; '.join(problems))
  return None, None


def _set_aside(manager: ocp.CheckpointManager, workdir: Path, steps: list[int]) -> None:
  """Moves corrupt steps out of the checkpoint directory, so that orbax neither lists them nor
  refuses to save their step number again, and re-lists it."""
  if not steps:
    return
  if jax.process_index() == 0:
    corrupt = Path(workdir) / CORRUPT_DIR
    corrupt.mkdir(exist_ok=True)
    for step in steps:
      target = corrupt / f'{step}-{int(time.time())}'
      os.replace(Path(manager.directory) / str(step), target)
      logging.warning('moved the corrupt checkpoint of step %d to %s', step, target)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices('mujo_jax.checkpoint.set_aside')
  manager.reload()


def _first_line(error: BaseException) -> str:
  lines = str(error).strip().splitlines()
  return lines[0][:300] if lines else repr(error)


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
  """Host parameters and config of a pretraining workdir's latest (or given) checkpoint.

  A directory of exported weights (`export_weights`: config.json + params.npz, no
  checkpoints/) loads too, so evaluation and `Embedder.from_checkpoint` take a shipped or
  handed-over model the same way; it holds one step, so `step` must be None.
  """
  workdir = Path(workdir).expanduser().absolute()  # orbax refuses relative paths.
  if not (workdir / CHECKPOINTS_DIR).exists() and (workdir / WEIGHTS_FILE).exists():
    if step is not None:
      raise ValueError(
        f'{workdir} holds exported weights (one step, no {CHECKPOINTS_DIR}/): step={step} '
        'cannot be chosen; pass None'
      )
    return load_exported(workdir)
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


def warm_start_params(params: Any, source: Pretrained) -> tuple[Any, list[str], list[str]]:
  """`params` with each leaf that `source` holds at the same path replaced by `source`'s value.

  Returns (params, paths kept at their initialisation, paths of `source` the model lacks).
  The values are placed in each leaf's sharding (a multi-process run included); a leaf whose
  shape differs from `source`'s raises, naming the path and both shapes.
  """
  flat = traverse_util.flatten_dict(params, sep='/')
  given = traverse_util.flatten_dict(source.params, sep='/')
  mismatched = [
    f'{key} {np.shape(given[key])} (model {tuple(flat[key].shape)})'
    for key in flat
    if key in given and np.shape(given[key]) != tuple(flat[key].shape)
  ]
  if mismatched:
    raise ValueError(
      f'init_from={source.workdir}: parameters of another shape: {", ".join(mismatched)}'
    )

  def placed(key: str, leaf: jax.Array) -> jax.Array:
    value = np.asarray(given[key], leaf.dtype)
    return jax.make_array_from_callback(leaf.shape, leaf.sharding, lambda index: value[index])

  started = {key: placed(key, leaf) if key in given else leaf for key, leaf in flat.items()}
  kept = sorted(key for key in flat if key not in given)
  unused = sorted(key for key in given if key not in flat)
  return traverse_util.unflatten_dict(started, sep='/'), kept, unused


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
