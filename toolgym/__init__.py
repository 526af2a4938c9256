"""toolgym: Gymnasium environments for multi-turn LLM tool use and self-generated Code-as-Task training.

Importing the package registers its environment ids with Gymnasium (``gym.make("toolgym/Retail-v0")``).
"""

from __future__ import annotations

from toolgym.env import ToolEnv
from toolgym.registry import discover_domains, discover_task_ids, register_env, registered_ids
from toolgym.tools import Tool, ToolError, ToolResult, Toolset, tool
from toolgym.world import World

__version__ = "0.1.0"

__all__ = [
    "Tool",
    "ToolEnv",
    "ToolError",
    "ToolResult",
    "Toolset",
    "World",
    "__version__",
    "discover_domains",
    "register_env",
    "registered_ids",
    "tool",
]

discover_domains()
discover_task_ids()
