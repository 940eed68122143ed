"""MuJo in JAX: multi-way contrastive pretraining of IMU, pose, video and text encoders."""

from mujo_jax import xla_flags as _xla_flags

_xla_flags.apply_defaults()  # Before any JAX backend starts: see mujo_jax/xla_flags.py.
