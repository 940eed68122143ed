"""MuJo in JAX: multi-way contrastive pretraining of IMU, pose, video and text encoders."""
