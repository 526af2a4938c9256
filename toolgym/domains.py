"""The registry of tool domains: what the task machinery needs to know about a domain without importing it by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from toolgym.tools import Toolset
from toolgym.world import World


class WorldSpecError(ValueError):
    """A task's ``world`` field does not describe a world its domain can build."""


@dataclass(frozen=True)
class Domain:
    """A tool domain as tasks see it.

    Attributes:
        name: The domain's name, e.g. ``"retail"``.
        toolset: Its tools.
        policy: Returns the policy text shown to agents.
        build_world: Builds the world a task's ``world`` field describes (e.g. ``{"generator": "retail",
            "seed": 3}``); the result is shared and must be forked before it is changed. Raises
            :class:`WorldSpecError` for a spec it cannot build.
        world_spec: The ``world`` field of a generated world with a given seed (``None`` when the domain has no
            generator); challengers draw their worlds through it.
        free_play_env: The Gymnasium id of the domain's task-free env, where challengers explore.
        task_families: ``"module:attribute"`` of the domain's scripted task families (a sequence of
            :class:`toolgym.tasks.scripted.TaskFamily`), imported only when a scripted challenger needs them.
    """

    name: str
    toolset: Toolset
    policy: Callable[[], str]
    build_world: Callable[[Mapping[str, Any]], World]
    world_spec: Callable[[int], dict[str, Any]] | None = None
    free_play_env: str | None = None
    task_families: str | None = None


_DOMAINS: dict[str, Domain] = {}


def register_domain(domain: Domain) -> Domain:
    """Make a domain available to tasks; registering the same name again replaces nothing and is a no-op.

    Args:
        domain: The domain.

    Returns:
        The registered domain (the first one registered under that name).
    """
    return _DOMAINS.setdefault(domain.name, domain)


def get_domain(name: str) -> Domain:
    """Look up a registered domain.

    Args:
        name: The domain's name.

    Returns:
        The domain.

    Raises:
        KeyError: If no domain has that name.
    """
    try:
        return _DOMAINS[name]
    except KeyError:
        raise KeyError(f"unknown domain {name!r}; registered domains: {sorted(_DOMAINS)}") from None


def available_domains() -> list[str]:
    """Names of the registered domains.

    Returns:
        Sorted names.
    """
    return sorted(_DOMAINS)
