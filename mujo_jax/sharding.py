"""Device mesh and sharding rules (big_vision style: regex over parameter paths → spec).

The batch is split over every mesh axis (`data` and `fsdp` together), parameters and optimiser
state over `fsdp` only. With `fsdp` of size 1 everything is replicated data parallelism; the
contrastive logits are always computed over the global batch, because the loss is written on
global arrays and XLA inserts the collectives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXES = ('data', 'fsdp')
KNOWN_AXES = frozenset(BATCH_AXES)


def make_mesh(axes: Sequence[Sequence[Any]], devices: Sequence[jax.Device] | None = None) -> Mesh:
  """Builds a mesh from `(('data', -1), ('fsdp', 1))`; one size may be -1 (the rest)."""
  devices = list(jax.devices() if devices is None else devices)
  names = tuple(str(name) for name, _ in axes)
  sizes = [int(size) for _, size in axes]
  unknown = set(names) - KNOWN_AXES
  if unknown or len(set(names)) != len(names):
    raise ValueError(
      f'config.mesh axes {names}: expected distinct names among {sorted(KNOWN_AXES)}'
    )
  if sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
    raise ValueError(f'config.mesh sizes {sizes}: positive, with at most one -1')
  known = int(np.prod([s for s in sizes if s != -1]))
  if -1 in sizes:
    if len(devices) % known:
      raise ValueError(
        f'config.mesh {tuple(axes)}: {len(devices)} devices are not divisible by '
        f'the fixed axis sizes (product {known})'
      )
    sizes[sizes.index(-1)] = len(devices) // known
  if int(np.prod(sizes)) != len(devices):
    raise ValueError(
      f'config.mesh {tuple(axes)} needs {int(np.prod(sizes))} devices, have {len(devices)}'
    )
  for name in BATCH_AXES:  # Absent axes are size 1, so specs can always name both.
    if name not in names:
      names, sizes = names + (name,), sizes + [1]
  # Auto axes: XLA's sharding propagation places the intermediates (jax.make_mesh defaults to
  # explicit axes, which would make every reshape of a sharded activation spell out its sharding).
  return jax.make_mesh(
    tuple(sizes), names, devices=devices, axis_types=(jax.sharding.AxisType.Auto,) * len(names)
  )


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over every device of the mesh."""
  return NamedSharding(mesh, PartitionSpec(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def _fsdp_spec(shape: Sequence[int], fsdp_size: int) -> PartitionSpec:
  """Shards the largest axis that `fsdp_size` divides; small or indivisible leaves replicate."""
  if fsdp_size == 1 or not shape:
    return PartitionSpec()
  for axis in np.argsort(shape)[::-1]:
    if shape[axis] % fsdp_size == 0 and shape[axis] >= fsdp_size:
      spec = [None] * len(shape)
      spec[axis] = 'fsdp'
      return PartitionSpec(*spec)
  return PartitionSpec()


def tree_shardings(tree: Any, mesh: Mesh, rules: Sequence[Sequence[Any]]) -> Any:
  """Shardings for a pytree of arrays/ShapeDtypeStructs from `(regex, 'fsdp'|None)` rules.

  The first rule whose regex matches the leaf's '/'-joined key path (`params/imu/...`) wins;
  a leaf no rule matches is replicated.
  """
  compiled = [(re.compile(pattern), action) for pattern, action in rules]
  for _, action in compiled:
    if action not in ('fsdp', None, 'replicate'):
      raise ValueError(f"config.sharding_rules action {action!r}: expected 'fsdp' or None")
  fsdp_size = mesh.shape['fsdp']

  def leaf_sharding(path, leaf):
    name = '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path)
    for pattern, action in compiled:
      if pattern.fullmatch(name) or pattern.search(name):
        if action == 'fsdp':
          return NamedSharding(mesh, _fsdp_spec(getattr(leaf, 'shape', ()), fsdp_size))
        return replicated(mesh)
    return replicated(mesh)

  return jax.tree_util.tree_map_with_path(leaf_sharding, tree)


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """This process's slice of the batch → global arrays sharded along the batch axis."""
  sharding = batch_sharding(mesh)
  return {
    key: jax.make_array_from_process_local_data(sharding, value)
    for key, value in local_batch.items()
  }


def global_batch_from_full(full_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """The same full batch on every process → global arrays sharded along the batch axis."""
  sharding = batch_sharding(mesh)
  return {
    key: jax.make_array_from_callback(value.shape, sharding, lambda index, v=value: v[index])
    for key, value in full_batch.items()
  }
