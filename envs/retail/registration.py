"""Gymnasium ids and the task-facing description of the retail domain."""

from __future__ import annotations

from toolgym.domains import Domain, register_domain
from toolgym.registry import register_env

from .env import build_world, retail_policy
from .tools import RETAIL_TOOLS

register_domain(
    Domain(
        "retail",
        RETAIL_TOOLS,
        retail_policy,
        build_world,
        world_spec=lambda seed: {"generator": "retail", "seed": seed},
        free_play_env="toolgym/Retail-v0",
        task_families="toolgym.envs.retail.task_families:FAMILIES",
    )
)
register_env("Retail-v0", "toolgym.envs.retail.env:RetailEnv")
