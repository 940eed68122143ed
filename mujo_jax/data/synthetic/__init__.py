"""Procedural synthetic parallel corpus: motion -> pose, IMU, video and text of one clip."""
