"""Registry of pretraining datasets: each gives a random-access source and a window function.

A dataset module exposes
  `source(config, split)` → a random-access source (len, getitem → dict of numpy), and
  `make_window(record, rng, config)` → one un-batched window in the batch schema
      (ARCHITECTURE.md) with `present`; `rng=None` means the deterministic evaluation window.
The pipeline (pipeline.py) adds shuffling, sharding, augmentation and batching on top.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import ml_collections
import numpy as np

from mujo_jax.data import augment, schema, synthetic_source, windows
from mujo_jax.facts import activities
from mujo_jax.facts.tokenizer import ByteTokenizer
from mujo_jax.synthesis import corpus

# name → module implementing `source` and `make_window`.
_MODULES = {
  'synthetic': 'mujo_jax.data.datasets',
  'fimad': 'mujo_jax.data.fimad',
}


def get(name: str) -> ModuleType:
  if name not in _MODULES:
    raise ValueError(f'config.data.name={name!r}: expected one of {sorted(_MODULES)}')
  return importlib.import_module(_MODULES[name])


def timed_rates(config: ml_collections.ConfigDict) -> dict[str, float]:
  """Sampling rate of each timed stream of a synthetic record (what `make_window` crops)."""
  return {
    'imu': config.data.imu_rate_hz,
    'pose': config.data.pose_fps,
    'video': config.data.video_fps,
    # The wearables corpora store the forearms' roll at the pose frames.
    'forearm_pronation': config.data.pose_fps,
  }


# ---------------------------------------------------------------- the synthetic corpus


def corpus_config(config: ml_collections.ConfigDict) -> corpus.CorpusConfig:
  """What the synthetic builder config `data.builder_config` stores (sites, classes, video)."""
  name = config.data.builder_config
  if name not in corpus.CONFIGS:
    raise ValueError(
      f'config.data.builder_config={name!r}: expected one of {sorted(corpus.CONFIGS)}'
    )
  return corpus.CONFIGS[name]


def text_vocabulary(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The activity names a pretraining config's texts describe: the recorded `data.activities`
  when the config has it (training writes it, so a checkpoint keeps what it was trained on),
  else those of the current corpus code (older checkpoints)."""
  recorded = config.data.get('activities', None)
  if recorded is not None:
    return tuple(recorded)
  if config.data.name == 'synthetic':
    return tuple(corpus_config(config).activities)
  return activities.ACTIVITIES


def source(config: ml_collections.ConfigDict, split: str) -> Any:
  """The synthetic corpus, built with TFDS on first use when absent."""
  stored = corpus_config(config)
  if 'video' in config.modalities and not stored.video:
    raise ValueError(
      f'config.modalities has video, but the synthetic corpus '
      f'{config.data.builder_config!r} stores none: drop video from modalities'
    )
  _site_indices(stored.imu_sites, tuple(config.data.imu_sites))
  if schema.uses_forearm_pronation(config) and stored.vocabulary != 'wearables':
    raise ValueError(
      f'config.model.pose_forearm_roll=True, but the synthetic corpus '
      f'{config.data.builder_config!r} stores no forearm pronation (only the wearables corpora '
      'do): set it False'
    )
  return synthetic_source.data_source(config.data.builder_config, split, config.data.tfds_data_dir)


def _site_indices(stored_sites: tuple[str, ...], wanted_sites: tuple[str, ...]) -> np.ndarray:
  missing = [s for s in wanted_sites if s not in stored_sites]
  if missing:
    raise ValueError(
      f'config.data.imu_sites asks for {missing}, which the corpus does not '
      f'have; it has {list(stored_sites)}'
    )
  return np.array([stored_sites.index(s) for s in wanted_sites])


def make_window(
  record: dict[str, Any], rng: np.random.Generator | None, config: ml_collections.ConfigDict
) -> dict[str, np.ndarray]:
  """A 5 s window (random start in training, centred in evaluation) of a synthetic clip."""
  rates = timed_rates(config)
  if rng is None:
    window = windows.centre_window(record, config.window_s, rates)
  else:
    window = windows.random_window(record, config.window_s, rates, rng)
  sites = _site_indices(corpus_config(config).imu_sites, tuple(config.data.imu_sites))
  out = {'label': np.int32(record['label'])}
  if 'imu' in config.modalities:
    out['imu'] = np.asarray(window['imu'][:, sites], np.float32)
    out['imu_sites'] = np.asarray(window['imu_sites'][sites], bool)
  if 'pose' in config.modalities:
    out['pose'] = np.asarray(window['pose'], np.float32)
    out.update(
      schema.forearm_pronation_fields(config, window.get('forearm_pronation'), out['pose'].shape[0])
    )
  if 'video' in config.modalities:
    out['video'] = np.asarray(window['video'], np.uint8)
  if 'text' in config.modalities:
    text = record['text']
    out['text'] = ByteTokenizer(config.model.text_max_len).encode(
      text.decode('utf-8') if isinstance(text, bytes) else str(text)
    )
  out['present'] = augment.modality_presence(config.modalities, config.modalities)
  return out
