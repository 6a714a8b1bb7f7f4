"""Baselines the paper compares against: DeepSDF's SDF-sample latent fit from a depth image (Table 2)."""
