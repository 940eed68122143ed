"""TFDS builder of the synthetic MuJo corpus (see README.md)."""
