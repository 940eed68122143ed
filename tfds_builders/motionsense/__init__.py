"""MotionSense TFDS builder (`tfds build tfds_builders/motionsense --manual_dir=...`)."""
