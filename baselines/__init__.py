"""Reinforcement-learning baselines built on TRL."""
