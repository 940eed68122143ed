"""FiMAD TFDS builder (manual data); see README.md here for the manual directory layout.

The builder class lives in `fimad_dataset_builder.py` (TFDS naming convention), which `tfds
build tfds_builders/fimad` imports; `mujo_jax.data.fimad` reads the built files through
`tfds.builder` and never imports the builder, so importing this package costs nothing.
"""
