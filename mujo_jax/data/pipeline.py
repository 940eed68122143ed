"""grain input pipelines: per-process sharding, shuffling, windows, augmentation, batching.

Data flows one way (ARCHITECTURE.md): a dataset's random-access source → grain MapDataset (shard,
shuffle, repeat, window + augment with a per-element RNG, batch) → an iterator whose state is
checkpointed with the model, so a restarted run reads exactly the batches it would have read.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import grain
import ml_collections
import numpy as np

from mujo_jax.data import augment, datasets, schema


class TrainWindow(grain.transforms.RandomMap):
  """Random window of a record + augmentations; picklable for grain worker processes."""

  def __init__(self, config: ml_collections.ConfigDict):
    self._config = config
    self._dataset = datasets.get(config.data.name)
    sites = list(config.data.imu_sites)
    self._favoured_sites = tuple(sites.index(s) for s in config.augment.single_site_favoured)
    self._favoured_share = float(config.augment.single_site_favoured_share)

  def random_map(self, record: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    config = self._config
    window = self._dataset.make_window(record, rng, config)
    if 'imu' in window:
      window['imu'] = augment.augment_imu(
        window['imu'], rng, config.augment.imu_rotation_deg, config.augment.imu_scale
      )
      window['imu_sites'] = augment.drop_sites(
        window['imu_sites'], rng, config.augment.site_dropout
      )
      window['imu_sites'] = augment.keep_one_site(
        window['imu_sites'],
        rng,
        config.augment.single_site,
        self._favoured_sites,
        self._favoured_share,
      )
    window['present'] = augment.drop_modalities(
      window['present'], rng, config.augment.modality_dropout
    )
    if schema.FOREARM_PRONATION_PRESENT in window:
      # So that the pose encoder also learns poses without the roll (real pose sources).
      rate = config.augment.get('forearm_pronation_dropout', 0.0)
      if window[schema.FOREARM_PRONATION_PRESENT] and rng.uniform() < rate:
        window[schema.FOREARM_PRONATION_PRESENT] = np.bool_(False)
        window[schema.FOREARM_PRONATION] = np.zeros_like(window[schema.FOREARM_PRONATION])
    return window


class EvalWindow(grain.transforms.Map):
  """The deterministic (centre) window of a record, no augmentation."""

  def __init__(self, config: ml_collections.ConfigDict):
    self._config = config
    self._dataset = datasets.get(config.data.name)

  def map(self, record: dict[str, Any]) -> dict[str, Any]:
    return self._dataset.make_window(record, None, self._config)


def per_process_batch_size(config: ml_collections.ConfigDict, process_count: int) -> int:
  if config.batch_size % process_count:
    raise ValueError(
      f'config.batch_size={config.batch_size} is not divisible by the {process_count} processes'
    )
  return config.batch_size // process_count


def train_dataset(
  config: ml_collections.ConfigDict, process_index: int, process_count: int
) -> grain.IterDataset:
  """Infinite, shuffled, augmented batches: this process's share of each global batch."""
  source = datasets.get(config.data.name).source(config, config.data.train_split)
  dataset = grain.MapDataset.source(source)
  # Every process orders the whole split the same way (same seed) and augments each element with
  # an RNG derived from its global index; global batch b is local batches b*P … b*P+P-1, of
  # which process p reads the p-th. The global batch is therefore the same whatever the number
  # of processes, and each process only reads and augments its own share.
  dataset = dataset.seed(config.seed).shuffle().repeat()
  dataset = dataset.random_map(TrainWindow(config))
  dataset = dataset.batch(per_process_batch_size(config, process_count), drop_remainder=True)
  dataset = dataset[process_index::process_count]
  iter_dataset = dataset.to_iter_dataset(
    grain.ReadOptions(num_threads=2, prefetch_buffer_size=config.data.prefetch_batches)
  )
  if config.data.num_workers > 0:
    # Workers send batches through their queue (pickled), not as grain's shared-memory arrays:
    # those are unlinked by a thread when the last reference dies, which never runs for the
    # batches still buffered (or held zero-copy by JAX) at interpreter exit, nor after a
    # `kill -9` (`resource_tracker: ... leaked shared_memory objects`). A batch is a few MB: the
    # extra copy costs milliseconds, off the training thread.
    iter_dataset = grain.experimental.WithOptionsIterDataset(
      iter_dataset, grain.experimental.DatasetOptions(min_shm_size=sys.maxsize)
    )
    iter_dataset = iter_dataset.mp_prefetch(
      grain.MultiprocessingOptions(num_workers=config.data.num_workers),
      worker_init_fn=exit_with_parent,
    )
  return iter_dataset


# How often a worker checks that the training process still lives: the bound on how long an
# orphaned worker outlives a killed trainer.
PARENT_POLL_S = 0.2


def exit_with_parent(worker_index: int, worker_count: int) -> None:
  """grain worker init: the worker exits when the process that spawned it dies.

  A worker is a daemon of the trainer, which ends it on a normal exit; after `kill -9` nobody
  does, and it blocks forever on its full output queue (28 minutes and ~290 MB in issue 15).
  prctl(PR_SET_PDEATHSIG) would fire when the *thread* that started the worker ends, and grain
  starts workers from a thread pool, so the worker watches its parent pid instead.
  """
  del worker_index, worker_count
  parent = os.getppid()

  def watch() -> None:
    while os.getppid() == parent:
      time.sleep(PARENT_POLL_S)
    os._exit(1)

  threading.Thread(target=watch, name='exit-with-parent', daemon=True).start()


def evenly_spaced(dataset: grain.MapDataset, max_windows: int | None) -> grain.MapDataset:
  """At most `max_windows` elements, evenly spaced: an ordered split keeps every class and
  subject represented."""
  if max_windows is not None and max_windows < len(dataset):
    dataset = dataset[:: int(np.ceil(len(dataset) / max_windows))]
  return dataset


def eval_windows(
  config: ml_collections.ConfigDict, split: str, max_windows: int | None = None
) -> grain.MapDataset:
  """Deterministic (centre) windows of `split`, in order, un-batched."""
  source = datasets.get(config.data.name).source(config, split)
  return evenly_spaced(grain.MapDataset.source(source), max_windows).map(EvalWindow(config))
