"""Training batches in runs of one activity (`data.windows_per_activity`) and with each window
also played backwards (`augment.backwards_pairs`)."""

from __future__ import annotations

import collections

import grain
import numpy as np
import pytest

from mujo_jax import config_validation
from mujo_jax.data import augment, pipeline
from mujo_jax.facts import virtual_imu
from mujo_jax.synthesis import corpus

# Uneven classes: 10, 7 and 3 records (label 2 has fewer than a run).
LABELS = np.array([0] * 10 + [1] * 7 + [2] * 3)
RECORDS = [{'label': int(label), 'index': i} for i, label in enumerate(LABELS)]


def _grouped(seed: int, group_size: int = 4) -> grain.MapDataset:
  dataset = grain.MapDataset.source(RECORDS).seed(seed)
  return pipeline.ActivityGroupedShuffle(dataset, LABELS, group_size).repeat()


def _epoch(dataset: grain.MapDataset, epoch: int, length: int) -> list[int]:
  return [dataset[epoch * length + i]['index'] for i in range(length)]


def test_runs_hold_one_label_and_each_epoch_visits_distinct_records():
  dataset = _grouped(seed=3)
  length = 8 + 4  # floor(10/4)*4 + floor(7/4)*4; label 2 (3 records) never makes a run.
  epochs = [_epoch(dataset, e, length) for e in range(3)]
  for order in epochs:
    runs = np.asarray(order).reshape(-1, 4)
    assert all(len(set(LABELS[run])) == 1 for run in runs)
    assert len(set(order)) == length  # No record twice in an epoch.
    assert collections.Counter(LABELS[order].tolist()) == {0: 8, 1: 4}
  # Each epoch draws its own order, and which records sit out changes with it.
  assert epochs[0] != epochs[1] and epochs[1] != epochs[2]
  assert len(set().union(*map(set, epochs))) > length
  # The order is the seed's and the epoch's only: rebuilt, same; another seed, another order.
  assert _epoch(_grouped(seed=3), 1, length) == epochs[1]
  assert _epoch(_grouped(seed=4), 1, length) != epochs[1]


def test_grouping_needs_a_seed_and_enough_records():
  with pytest.raises(ValueError, match='seed'):
    pipeline.ActivityGroupedShuffle(grain.MapDataset.source(RECORDS), LABELS, 4)
  with pytest.raises(ValueError, match='windows_per_activity=11: no label has that many'):
    pipeline.ActivityGroupedShuffle(grain.MapDataset.source(RECORDS).seed(0), LABELS, 11)
  with pytest.raises(ValueError, match='needs records with a `label`'):
    pipeline.record_labels([{'imu': np.zeros(3)}])


def test_config_rejects_a_run_length_that_does_not_divide_the_batch(tiny_config):
  tiny_config.data.windows_per_activity = 3  # batch_size 8
  with pytest.raises(ValueError, match='windows_per_activity=3 does not divide batch_size=8'):
    config_validation.resolve_pretrain_config(tiny_config)
  tiny_config.data.windows_per_activity = 0
  with pytest.raises(ValueError, match=r'windows_per_activity=0: expected an integer >= 1'):
    config_validation.resolve_pretrain_config(tiny_config)


def test_training_batches_come_in_runs_and_processes_share_the_global_order(tiny_config):
  tiny_config.data.num_workers = 0
  tiny_config.data.windows_per_activity = 4
  config = config_validation.resolve_pretrain_config(tiny_config)
  one = iter(pipeline.train_dataset(config, 0, 1))
  halves = [iter(pipeline.train_dataset(config, p, 2)) for p in range(2)]
  # 6 train clips per class in the tiny corpus: one run of 4 per class, 44 records an epoch,
  # so these 56 windows cross an epoch boundary.
  for _ in range(7):
    batch = next(one)
    labels = batch['label'].reshape(-1, 4)
    assert (labels == labels[:, :1]).all(), batch['label']
    local = [next(half) for half in halves]
    for key in ('label', 'imu'):
      np.testing.assert_array_equal(np.concatenate([part[key] for part in local]), batch[key])
  # The plain shuffle (11 classes) does not make such runs: the runs are the sampler's doing.
  tiny_config.data.windows_per_activity = 1
  plain = iter(pipeline.train_dataset(config_validation.resolve_pretrain_config(tiny_config), 0, 1))
  labels = np.stack([next(plain)['label'].reshape(-1, 4) for _ in range(7)])
  assert not (labels == labels[..., :1]).all()


def test_played_backwards_is_what_the_sensors_record_of_the_reversed_motion():
  clip = corpus.make_wearable_clip(
    np.random.default_rng(0), 'shoulder_internal_rotation', corpus.get_subject(0, 3)
  )
  sites = ('left_wrist', 'right_wrist', 'chest')
  imu = virtual_imu.from_pose(clip['pose'], corpus.POSE_FPS, sites)
  reversed_imu = virtual_imu.from_pose(clip['pose'][::-1], corpus.POSE_FPS, sites)
  window = {'imu': imu, 'pose': clip['pose'], 'label': np.int32(3)}
  backwards = augment.played_backwards(window)
  inner = slice(15, -15)  # The derivative filter's edges are not symmetric in time.
  got, want = backwards['imu'][inner], reversed_imu[inner]
  np.testing.assert_allclose(got[:, 2], want[:, 2], atol=1e-4)  # The chest, exactly.
  # A watch's frame is the forearm's twist-free frame carried along the motion, so the reversed
  # clip's watches sit rolled by a fraction of a degree: equal lengths, components within 0.1.
  for sensor in augment.ACC_CHANNELS, augment.GYRO_CHANNELS:
    np.testing.assert_allclose(
      np.linalg.norm(got[..., sensor], axis=-1), np.linalg.norm(want[..., sensor], axis=-1),
      atol=1e-4,
    )  # fmt: skip
  np.testing.assert_allclose(got, want, atol=0.1)
  np.testing.assert_array_equal(backwards['pose'], clip['pose'][::-1])
  assert backwards['label'] == 3
  # Not an identity up to tolerance: the gyro is large and its sign matters.
  assert np.abs(imu[inner, :, 3:]).max() > 0.5
  assert np.abs(np.flip(imu, 0)[inner] - reversed_imu[inner]).max() > 0.5
  np.testing.assert_array_equal(augment.played_backwards(backwards)['imu'], imu)


def test_backwards_pairs_fill_every_other_row_whatever_the_process_count(tiny_config):
  tiny_config.data.num_workers = 0
  tiny_config.augment.backwards_pairs = True
  tiny_config.augment.modality_dropout = 0.0  # Every forward row keeps its text.
  config = config_validation.resolve_pretrain_config(tiny_config)
  batch = next(iter(pipeline.train_dataset(config, 0, 1)))
  expected = augment.played_backwards({k: v[0::2] for k, v in batch.items()}, time_axis=1)
  # A reversed window's description no longer tells its motion: its text is absent.
  text = list(config.modalities).index('text')
  assert batch['present'][0::2, text].all() and not batch['present'][1::2, text].any()
  expected['present'] = expected['present'].copy()
  expected['present'][:, text] = False
  for key, value in batch.items():
    np.testing.assert_array_equal(value[1::2], expected[key], err_msg=key)
  assert set(augment.TIMED_KEYS) & set(batch) >= {'imu', 'pose'}
  assert not np.array_equal(batch['imu'][0], batch['imu'][2])  # Pairs of distinct windows.
  local = [next(iter(pipeline.train_dataset(config, p, 2))) for p in range(2)]
  for key in ('imu', 'pose', 'label'):
    np.testing.assert_array_equal(np.concatenate([part[key] for part in local]), batch[key])
  tiny_config.batch_size = 7
  with pytest.raises(ValueError, match='backwards_pairs needs an even batch_size, got 7'):
    config_validation.resolve_pretrain_config(tiny_config)
