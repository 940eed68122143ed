"""FiMAD TFDS builder (manual data); see README.md here for the manual directory layout.

The builder class lives in `fimad_dataset_builder.py` (TFDS naming convention), imported by
`mujo_jax.data.fimad` when a source is opened, so importing this package costs nothing.
"""
