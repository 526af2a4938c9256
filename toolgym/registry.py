"""Registering toolgym environments with Gymnasium, and finding the domains that ship with the package."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

import gymnasium as gym

NAMESPACE = "toolgym"


def register_env(
    name: str,
    entry_point: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    max_episode_steps: int | None = None,
) -> str:
    """Register ``toolgym/<name>`` with Gymnasium, once.

    Registering the same id again with the same entry point and kwargs is a no-op, so domains may be imported
    repeatedly (e.g. in vector-env workers).

    Args:
        name: The id without namespace, e.g. ``"Retail-v0"``.
        entry_point: ``"module:Class"`` of the env; a string keeps registration lazy and picklable.
        kwargs: Default constructor arguments, overridable in ``gym.make``.
        max_episode_steps: Optional Gymnasium time limit on top of the env's own ``max_turns``.

    Returns:
        The full id.

    Raises:
        ValueError: If the id is taken by a different entry point or kwargs.
    """
    env_id = f"{NAMESPACE}/{name}"
    existing = gym.registry.get(env_id)
    if existing is not None:
        if existing.entry_point == entry_point and dict(existing.kwargs) == dict(kwargs or {}):
            return env_id
        raise ValueError(f"{env_id} is already registered with entry point {existing.entry_point!r}")
    gym.register(
        id=env_id, entry_point=entry_point, kwargs=dict(kwargs or {}), max_episode_steps=max_episode_steps
    )
    return env_id


def discover_domains() -> list[str]:
    """Import the ``registration`` module of every domain package under ``toolgym.envs``.

    The core names no domain: each folder of ``envs/`` that has a ``registration.py`` registers its own ids.

    Returns:
        The names of the domains found.
    """
    import toolgym.envs as envs_pkg

    found = []
    for info in pkgutil.iter_modules(envs_pkg.__path__):
        if not info.ispkg:
            continue
        module = f"{envs_pkg.__name__}.{info.name}.registration"
        if importlib.util.find_spec(module) is None:
            continue
        importlib.import_module(module)
        found.append(info.name)
    return found


def discover_task_ids() -> bool:
    """Import ``toolgym.tasks.registration``, which registers an id for every task bank shipped in the package.

    Returns:
        Whether the task package was found.
    """
    module = f"{NAMESPACE}.tasks.registration"
    if importlib.util.find_spec(module) is None:
        return False
    importlib.import_module(module)
    return True


def registered_ids() -> list[str]:
    """The toolgym ids currently registered with Gymnasium.

    Returns:
        Sorted ids.
    """
    return sorted(k for k in gym.registry if k.startswith(f"{NAMESPACE}/"))
