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


class BackwardsPairs(grain.transforms.Map):
  """Each odd row of a batch: the row before it played backwards (`augment.played_backwards`).

  Each window then meets its own motion run backwards as a negative: a real exercise whose two
  halves differ in pace (pull fast, return slow), or two exercises that are each other's reverse
  (internal and external shoulder rotation), differ mainly in direction, which no other window
  of a random batch asks the encoders to see.

  Pairs are rows (2j, 2j+1) of the local batch, which is an even slice of the global batch, so
  the global batch stays the same whatever the number of processes.

  A description tells the motion as performed ("pulls the band inwards"); run backwards it no
  longer does, so a reversed row's text is marked absent (`present`'s `text_column`): it pairs
  with no tower and is no other row's negative, where it would teach the towers to give a
  motion and its reverse one description.
  """

  def __init__(self, text_column: int | None):
    self._text_column = text_column

  def map(self, batch: dict[str, Any]) -> dict[str, Any]:
    forwards = {key: value[0::2] for key, value in batch.items()}
    backwards = augment.played_backwards(forwards, time_axis=1)
    out = {key: value.copy() for key, value in batch.items()}
    for key, value in backwards.items():
      out[key][1::2] = value
    if self._text_column is not None:
      out['present'][1::2, self._text_column] = False
    return out


class EvalWindow(grain.transforms.Map):
  """The deterministic (centre) window of a record, no augmentation."""

  def __init__(self, config: ml_collections.ConfigDict):
    self._config = config
    self._dataset = datasets.get(config.data.name)

  def map(self, record: dict[str, Any]) -> dict[str, Any]:
    return self._dataset.make_window(record, None, self._config)


def record_labels(source: Any) -> np.ndarray:
  """The `label` of every record of a random-access source, in order (one pass over it)."""
  if len(source) == 0:
    raise ValueError('data.windows_per_activity needs a non-empty training split')
  if 'label' not in source[0]:
    raise ValueError(
      f'data.windows_per_activity needs records with a `label`; this source has {sorted(source[0])}'
    )
  return np.array([source[i]['label'] for i in range(len(source))], np.int64)


class ActivityGroupedShuffle(grain.MapDataset):
  """Each epoch's order, in runs of `group_size` records of one label (distinct records).

  With a batch of G runs, each window meets `group_size - 1` windows of its own activity, by
  other subjects, tempi and ranges of motion: negatives that the contrastive loss can only tell
  apart by what differs inside an activity, which a random batch over many activities never
  asks for. Per epoch and label the records are permuted and cut into runs (a label's last
  `len % group_size` records sit that epoch out), and the runs are shuffled; the order depends
  on the dataset's seed and the epoch only, so every process sees the same global order.
  Like grain's shuffle, index `e * len + i` is element i of epoch e (give it `.repeat()`).
  """

  def __init__(self, parent: grain.MapDataset, labels: np.ndarray, group_size: int):
    super().__init__(parent)
    if self._default_seed is None:
      raise ValueError('ActivityGroupedShuffle needs a seed: give the parent `.seed(seed)`')
    labels = np.asarray(labels)
    if labels.shape != (len(parent),):
      raise ValueError(f'{labels.shape[0]} labels for {len(parent)} records')
    counts = np.unique(labels, return_counts=True)[1]
    if counts.max() < group_size:
      raise ValueError(
        f'data.windows_per_activity={group_size}: no label has that many records '
        f'(at most {counts.max()})'
      )
    self._seed = int(self._default_seed)
    self._labels = labels
    self._group_size = group_size
    self._length = int(np.sum(counts // group_size * group_size))
    self._cached: tuple[int, np.ndarray] | None = None

  def __len__(self) -> int:
    return self._length

  def __str__(self) -> str:
    return f'ActivityGroupedShuffle(group_size={self._group_size})'

  def epoch_order(self, epoch: int) -> np.ndarray:
    """Record indices of one epoch, `len(self)` of them, in runs of one label."""
    if self._cached is None or self._cached[0] != epoch:
      rng = np.random.default_rng((self._seed, epoch))
      runs = []
      for label in np.unique(self._labels):
        members = rng.permutation(np.flatnonzero(self._labels == label))
        usable = len(members) // self._group_size * self._group_size
        runs.extend(members[:usable].reshape(-1, self._group_size))
      order = np.concatenate([runs[i] for i in rng.permutation(len(runs))])
      self._cached = (epoch, order)
    return self._cached[1]

  def _index(self, index: int) -> int:
    epoch, index_in_epoch = divmod(index, self._length)
    # Like grain's shuffle: the source takes the index modulo its length.
    return int(self.epoch_order(epoch)[index_in_epoch]) + epoch * len(self._parent)

  def __getitem__(self, index):
    if isinstance(index, slice):
      return self.slice(index)
    return self._parent[self._index(index)]


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
  dataset = grain.MapDataset.source(source).seed(config.seed)
  # Every process orders the whole split the same way (same seed) and augments each element with
  # an RNG derived from its global index; global batch b is local batches b*P … b*P+P-1, of
  # which process p reads the p-th. The global batch is therefore the same whatever the number
  # of processes, and each process only reads and augments its own share.
  local_batch = per_process_batch_size(config, process_count)
  group_size = config.data.get('windows_per_activity', 1)
  if group_size > 1:
    if local_batch % group_size:
      raise ValueError(
        f'data.windows_per_activity={group_size} does not divide the per-process batch of '
        f'{local_batch} (batch_size={config.batch_size} over {process_count} processes)'
      )
    dataset = ActivityGroupedShuffle(dataset, record_labels(source), group_size)
  else:
    dataset = dataset.shuffle()
  dataset = dataset.repeat()
  dataset = dataset.random_map(TrainWindow(config))
  dataset = dataset.batch(local_batch, drop_remainder=True)
  if config.augment.get('backwards_pairs', False):
    if local_batch % 2:
      raise ValueError(f'augment.backwards_pairs needs an even local batch, got {local_batch}')
    modalities = list(config.modalities)
    text_column = modalities.index('text') if 'text' in modalities else None
    dataset = dataset.map(BackwardsPairs(text_column))
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
