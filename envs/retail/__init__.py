"""The retail domain: τ-bench's 16 store tools, its policy, its database loader and a seeded world generator."""

from __future__ import annotations

from .env import RetailEnv, generated_world, retail_policy
from .generator import generate_world
from .loader import DataFileError, load_tau_bench
from .tools import CANCEL_REASONS, RETAIL_TOOLS

__all__ = [
    "CANCEL_REASONS",
    "RETAIL_TOOLS",
    "DataFileError",
    "RetailEnv",
    "generate_world",
    "generated_world",
    "load_tau_bench",
    "retail_policy",
]
