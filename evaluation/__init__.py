"""Evaluation-only material, kept apart from `train/` so that no training code can reach it."""
