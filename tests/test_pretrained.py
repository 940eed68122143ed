"""The model shipped inside the package: loads with no arguments, embeds users' recordings."""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax import pretrained
from mujo_jax.inference import Embedder


def test_shipped_model_loads_with_no_arguments_and_embeds_a_still_watch():
  assert pretrained.DEFAULT in pretrained.available()
  embedder = Embedder.from_pretrained()
  assert embedder.modalities == ('imu', 'pose', 'text')
  still = np.zeros((500, 1, 6), np.float32)
  still[:, 0, 2] = 9.81
  z = embedder.embed_imu(still, rate_hz=100, sites=('left_wrist',))
  assert z.shape == (embedder.embed_dim,) and np.isclose(np.linalg.norm(z), 1.0, atol=1e-5)
  with pytest.raises(FileNotFoundError, match='available'):
    Embedder.from_pretrained('no_such_model')


def test_shipped_model_aligns_text_with_motion():
  """Text of an activity sits closer to IMU of that activity than to IMU of a still one."""
  from mujo_jax.synthesis import corpus

  embedder = Embedder.from_pretrained()
  subject = corpus.get_subject(0, 250)
  clips = {
    name: corpus.make_wearable_clip(np.random.default_rng(1), name, subject)
    for name in ('running', 'standing')
  }
  sites = ('left_wrist',)
  imu = {
    name: embedder.embed_imu(clip['imu'][:, :1], rate_hz=50, sites=sites)
    for name, clip in clips.items()
  }
  text = embedder.embed_text(['a person running', 'a person standing still'])
  assert text[0] @ imu['running'] > text[0] @ imu['standing']
  assert text[1] @ imu['standing'] > text[1] @ imu['running']
