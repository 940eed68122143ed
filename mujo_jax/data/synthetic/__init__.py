"""Command line of the synthetic data (`python -m mujo_jax.data.synthetic`); the generator
itself is `mujo_jax.synthesis`."""
