"""Shared fixtures: the tiny synthetic corpus, built once per test session into a tmp dir."""

from __future__ import annotations

import jax
import pytest
from absl import flags

# grain's worker processes read absl flags; under pytest nobody parses them.
flags.FLAGS.mark_as_parsed()

# Compile time dominates the tiny models of the tests; XLA's optimisations buy nothing there.
jax.config.update('jax_disable_most_optimizations', True)


@pytest.fixture(scope='session')
def synthetic_data_dir(tmp_path_factory) -> str:
  """TFDS data_dir holding `mujo_synthetic/tiny`, built by the code path training uses."""
  from mujo_jax.data import synthetic_source

  data_dir = str(tmp_path_factory.mktemp('tfds'))
  synthetic_source.ensure_built('tiny', data_dir)
  return data_dir


@pytest.fixture()
def tiny_config(synthetic_data_dir):
  """A tiny pretraining config on the tiny corpus (reads in-process, few steps)."""
  from configs import pretrain

  config = pretrain.get_config('runlocal,batch_size=8')
  config.data.tfds_data_dir = synthetic_data_dir
  return config
