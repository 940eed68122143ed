"""MyoGym TFDS builder (manual download: MyoGym.mat)."""
