"""The scripted challenger: a deterministic Code-as-Task generator built from a domain's task families.

A *task family* is a small program that explores a world through its tables and writes one kind of task — say,
"cancel the pending order described by its items, for a given reason" — with its instruction, verifier, example
solution and near-miss failure cases. :class:`ScriptedChallenger` cycles over a domain's families and a set of
world seeds, asking each family in turn for a task drawn from that world, and yields the new ones. Its output
goes through the same filter (:func:`~toolgym.tasks.validate.validate`) as an LLM challenger's, so it is a baseline
and a cheap source of verified tasks, not a way around the filter.

Everything is a function of the arguments: each request gets its own ``numpy`` generator seeded from the
challenger's seed, the family's name, the world seed and how many times that pair was asked before, so the same
arguments always give the same tasks in the same order, and a family's tasks do not depend on which other
families run beside it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolgym.domains import get_domain
from toolgym.world import World

from .format import CodeAsTask
from .proposal import Proposal

KINDS = ("write", "read")
CHALLENGER = "toolgym.tasks.scripted"
"""The challenger's name in each task's provenance."""
MAX_MISSES = 12
"""Requests in a row that give nothing new before a (family, world seed) pair is given up."""


@dataclass(frozen=True)
class TaskFamily:
    """One kind of task a scripted challenger can write.

    Attributes:
        name: A unique name, e.g. ``"cancel_pending_order"``.
        kind: ``"write"`` (the task changes the world) or ``"read"`` (a question; nothing may change).
        tools: The write tools its tasks' solutions call; empty for read-only families.
        description: One sentence on what its tasks ask.
        make: Given the shared, read-only world, the world spec it was built from and a generator, returns one
            task drawn from that world, or ``None`` when the world has no fitting case (after a bounded number of
            tries). It must not change the world, and must draw all its randomness from the generator.
    """

    name: str
    kind: str
    tools: tuple[str, ...]
    description: str
    make: Callable[[World, Mapping[str, Any], np.random.Generator], CodeAsTask | None]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task family {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "read") != (not self.tools):
            raise ValueError(
                f"task family {self.name!r}: write families name their write tools, read ones none"
            )


def task_families(domain: str) -> tuple[TaskFamily, ...]:
    """The scripted task families of a domain, imported on first use.

    Args:
        domain: The domain's name.

    Returns:
        Its families, in their declared order.

    Raises:
        KeyError: If the domain is not registered.
        ValueError: If the domain declares no task families, or they are not a sequence of task families with
            unique names.
    """
    where = get_domain(domain).task_families
    if not where:
        raise ValueError(
            f"domain {domain!r} has no scripted task families (its Domain.task_families is unset)"
        )
    module_name, _, attribute = where.partition(":")
    families = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(families, Sequence) or not all(isinstance(f, TaskFamily) for f in families):
        raise ValueError(f"{where} must be a sequence of TaskFamily")
    names = [f.name for f in families]
    if len(set(names)) != len(names):
        raise ValueError(f"{where} repeats a family name")
    return tuple(families)


def _name_key(name: str) -> int:
    """A stable integer for a family name (``hash`` changes between runs)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


class ScriptedChallenger:
    """Writes tasks from a domain's task families, round-robin over families and world seeds.

    Args:
        domain: The domain's name; it must have task families and a world generator.
        families: Names of the families to use (default: all, in declared order).
        world_seeds: Seeds of the generated worlds tasks are drawn from.
        seed: The challenger's seed; another seed gives other tasks.

    Raises:
        KeyError: If the domain is not registered.
        ValueError: For a domain without families or generator, an unknown or repeated family name, no world
            seeds, or a negative seed.
    """

    name = "scripted"

    def __init__(
        self,
        domain: str,
        *,
        families: Sequence[str] | None = None,
        world_seeds: Sequence[int] = range(8),
        seed: int = 0,
    ) -> None:
        self.domain = domain
        spec_of = get_domain(domain).world_spec
        if spec_of is None:
            raise ValueError(f"domain {domain!r} has no world generator to draw worlds from")
        self._spec_of = spec_of
        available = task_families(domain)
        by_name = {f.name: f for f in available}
        if families is None:
            chosen = list(available)
        else:
            if isinstance(families, str):
                raise ValueError("families must be a sequence of names, not one string")
            unknown = [n for n in families if n not in by_name]
            if unknown:
                raise ValueError(
                    f"unknown task families {unknown} for {domain!r}; choose from {sorted(by_name)}"
                )
            if len(set(families)) != len(families):
                raise ValueError(f"task families listed twice: {list(families)}")
            chosen = [by_name[n] for n in families]
        if not chosen:
            raise ValueError("no task family to draw from")
        self.families: tuple[TaskFamily, ...] = tuple(chosen)
        seeds = list(world_seeds)
        if not seeds:
            raise ValueError("world_seeds names no seed")
        for s in [*seeds, seed]:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds must be non-negative integers, got {s!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"world seeds listed twice: {seeds}")
        self.world_seeds: tuple[int, ...] = tuple(seeds)
        self.seed = seed

    def settings(self) -> dict[str, Any]:
        """The challenger's settings, for reports.

        Returns:
            JSON data: the domain, family names, world seeds and seed.
        """
        return {
            "domain": self.domain,
            "families": [f.name for f in self.families],
            "world_seeds": list(self.world_seeds),
            "seed": self.seed,
        }

    def _rng(self, family: TaskFamily, world_seed: int, attempt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, _name_key(family.name), world_seed, attempt])

    def proposals(self, n: int) -> Iterator[Proposal]:
        """The tasks of :meth:`propose` as proposals, the form the challenge pipeline filters.

        Args:
            n: The most tasks to yield.

        Yields:
            One usable proposal per task.
        """
        return (Proposal(task=task, reason="ok") for task in self.propose(n))

    def propose(self, n: int) -> Iterator[CodeAsTask]:
        """Write up to ``n`` new tasks.

        Requests go round-robin over families, then world seeds (family 1 on world 1, family 2 on world 1, …,
        family 1 on world 2, …). A task whose id or verifier was already yielded is skipped: the same check with
        other words is no new task. A (family, world seed) pair that gives nothing new :data:`MAX_MISSES` times
        in a row is dropped; the generator stops when every pair is dropped.

        Args:
            n: The most tasks to yield.

        Yields:
            New tasks, each with ``split=None`` and its provenance.

        Raises:
            ValueError: If ``n`` is negative.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        domain = get_domain(self.domain)
        specs = {s: self._spec_of(s) for s in self.world_seeds}
        worlds: dict[int, World] = {}
        slots = [(f, s) for s in self.world_seeds for f in self.families]
        asked = [0] * len(slots)
        misses = [0] * len(slots)
        live = list(range(len(slots)))
        seen_ids: set[str] = set()
        seen_checks: set[str] = set()
        made = 0
        while made < n and live:
            still: list[int] = []
            for slot in live:
                family, world_seed = slots[slot]
                if world_seed not in worlds:
                    worlds[world_seed] = domain.build_world(specs[world_seed])
                rng = self._rng(family, world_seed, asked[slot])
                asked[slot] += 1
                task = family.make(worlds[world_seed], specs[world_seed], rng)
                if task is None or task.id in seen_ids or task.verifier in seen_checks:
                    misses[slot] += 1
                    if misses[slot] < MAX_MISSES:
                        still.append(slot)
                    continue
                misses[slot] = 0
                still.append(slot)
                seen_ids.add(task.id)
                seen_checks.add(task.verifier)
                made += 1
                provenance = {
                    "author": "scripted",
                    "challenger": CHALLENGER,
                    "family": family.name,
                    "seed": self.seed,
                    "world_seed": world_seed,
                }
                yield dataclasses.replace(task, split=None, provenance=provenance)
                if made >= n:
                    return
            live = still
