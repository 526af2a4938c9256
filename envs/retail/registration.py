"""Gymnasium ids of the retail domain."""

from __future__ import annotations

from toolgym.registry import register_env

register_env("Retail-v0", "toolgym.envs.retail.env:RetailEnv")
