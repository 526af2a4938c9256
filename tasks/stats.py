"""What a set of tasks holds: counts per tool and family, solution lengths, duplicates, splits and authors."""

from __future__ import annotations

import ast
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from toolgym.domains import get_domain

from .bank import authors, split_of, tools_called
from .format import SPLITS, CodeAsTask
from .quality import dedupe


def _calls(source: str) -> int:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return 0
    return sum(isinstance(node, ast.Call) for node in ast.walk(tree))


def _spread(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def skill_of(task: CodeAsTask) -> str:
    """The skill a task exercises: its scripted family, else the write tools its solution calls, else ``read``.

    Args:
        task: The task.

    Returns:
        E.g. ``"cancel_by_items"``, ``"cancel_pending_order"``, ``"read"``.
    """
    if task.family is not None:
        return task.family
    toolset = get_domain(task.domain).toolset
    writes = sorted(n for n in tools_called(task.solution) if n in toolset and toolset[n].writes)
    return "+".join(writes) or "read"


def bank_stats(tasks: Sequence[CodeAsTask], *, yields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Describe a set of tasks.

    Args:
        tasks: The tasks (splits unset are derived from their ids, as banks do).
        yields: Stage counts of the filter run that produced them, when known (a manifest's ``validation``).

    Returns:
        JSON data: ``count``, ``domains``, ``splits``, ``authors``, ``tools`` (tasks whose solution calls each
        tool), ``skills`` (tasks per skill and split), ``solution`` (lines and calls: min, median, max),
        ``instruction_chars``, ``duplicates`` (near-duplicate pairs), and ``yields`` when given.
    """
    tools: Counter[str] = Counter()
    skills: dict[str, Counter[str]] = {}
    for task in tasks:
        tools.update(tools_called(task.solution) & set(get_domain(task.domain).toolset))
        split = task.split or split_of(task.id)
        skills.setdefault(skill_of(task), Counter())[split] += 1
    duplicates = dedupe(tasks)
    stats: dict[str, Any] = {
        "count": len(tasks),
        "domains": dict(Counter(t.domain for t in tasks)),
        "splits": {s: sum((t.split or split_of(t.id)) == s for t in tasks) for s in SPLITS},
        "authors": authors(tasks),
        "tools": dict(tools.most_common()),
        "skills": {k: {s: v[s] for s in SPLITS} for k, v in sorted(skills.items())},
        "solution": {
            "lines": _spread([len(t.solution.strip().splitlines()) for t in tasks]),
            "calls": _spread([_calls(t.solution) for t in tasks]),
        },
        "instruction_chars": _spread([len(t.instruction) for t in tasks]),
        "duplicates": dict(duplicates.duplicate_of),
    }
    if yields:
        stats["yields"] = dict(yields)
    return stats


def format_stats(stats: Mapping[str, Any]) -> str:
    """The statistics as a text report.

    Args:
        stats: What :func:`bank_stats` returned.

    Returns:
        Several short tables.
    """
    splits = stats["splits"]
    lines = [
        f"{stats['count']} tasks · " + ", ".join(f"{k} {v}" for k, v in splits.items()),
        "authors: " + ", ".join(f"{k} {v}" for k, v in stats["authors"].items()),
        "",
        f"{'skill':<34} " + " ".join(f"{s:>6}" for s in SPLITS),
    ]
    lines += [f"{k:<34} " + " ".join(f"{v[s]:>6}" for s in SPLITS) for k, v in stats["skills"].items()]
    lines += ["", f"{'tool':<34} {'tasks':>6}"]
    lines += [f"{k:<34} {v:>6}" for k, v in stats["tools"].items()]
    sol = stats["solution"]
    lines += [
        "",
        "solution lines  min {min} · median {median} · max {max}".format(**sol["lines"]),
        "solution calls  min {min} · median {median} · max {max}".format(**sol["calls"]),
        "instruction chars  min {min} · median {median} · max {max}".format(**stats["instruction_chars"]),
        f"near-duplicates: {len(stats['duplicates'])}",
    ]
    if stats.get("yields"):
        lines += ["", f"{'stage':<17} {'kept':>6}"]
        lines += [f"{k:<17} {v:>6}" for k, v in stats["yields"].items()]
    return "\n".join(lines)
