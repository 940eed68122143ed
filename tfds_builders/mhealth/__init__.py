"""MHEALTH (UCI) as TFDS: one example per subject; see README.md."""
