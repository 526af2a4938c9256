"""In-context demonstrations: worked episodes built from validated bank solutions, shown to a policy as earlier turns.

A demonstration replays a task's example solution in the env's action format: with ``code`` it is the solution's
code block, what it printed, and the answer; with a tool-call format it is each tool call the solution made, one per
turn, with the tool's (shortened) result, then the answer. Demonstrations come from the bank's train split and never
from the task being attempted; those most like it (by the words of the instructions) come first, the shortest among
equals, within a budget that fits a small model's context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from toolgym.actions import ToolCall, get_format
from toolgym.code_actions import run_code_action
from toolgym.domains import get_domain
from toolgym.sandbox import SandboxPool

from .format import CodeAsTask

MAX_OBSERVATION_CHARS = 400
DEFAULT_BUDGET_CHARS = 6000
"""About 1,500 tokens of demonstrations: room for two or three short episodes beside a 3,000-token opening."""

_CACHE: dict[tuple[str, str], list[dict[str, Any]]] = {}


def _clip(text: str) -> str:
    if len(text) <= MAX_OBSERVATION_CHARS:
        return text
    return f"{text[:MAX_OBSERVATION_CHARS]}… [{len(text) - MAX_OBSERVATION_CHARS} more characters]"


def demonstration(task: CodeAsTask, action_format: str, pool: SandboxPool) -> list[dict[str, Any]]:
    """One worked episode of ``task`` in ``action_format``, as chat messages (cached per task and format).

    Args:
        task: A validated task.
        action_format: The env's action format.
        pool: Where to run the solution.

    Returns:
        The user's instruction, the agent's actions with their results, and the agent's answer.
    """
    key = (task.id, action_format)
    if key in _CACHE:
        return _CACHE[key]
    domain = get_domain(task.domain)
    run = run_code_action(pool, domain.toolset, domain.build_world(task.world).fork(), task.solution)
    answer = run.result.output.strip() or "Done."
    messages: list[dict[str, Any]] = [{"role": "user", "content": task.instruction}]
    if action_format == "code":
        messages.append({"role": "assistant", "content": f"```python\n{task.solution.rstrip()}\n```"})
        messages.append({"role": "tool", "content": _clip(run.observation)})
    else:
        fmt = get_format(action_format)
        replay = domain.build_world(task.world).fork()
        for call in run.calls:
            result = domain.toolset.call(replay, call["name"], call["arguments"])
            messages.append(
                {"role": "assistant", "content": fmt.render(ToolCall(call["name"], call["arguments"]))}
            )
            messages.append({"role": "tool", "content": _clip(result.observation)})
    messages.append({"role": "assistant", "content": answer})
    _CACHE[key] = messages
    return messages


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) - _COMMON


_COMMON = frozenset(
    [
        "i",
        "im",
        "my",
        "me",
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "for",
        "from",
        "with",
        "on",
        "it",
        "is",
        "be",
        "that",
        "this",
        "please",
    ]
)


def similarity(a: str, b: str) -> float:
    """How alike two instructions are: the Jaccard overlap of their words (common words left out).

    Args:
        a: One instruction.
        b: The other.

    Returns:
        A number in [0, 1].
    """
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def select_demonstrations(
    tasks: Sequence[CodeAsTask],
    k: int,
    action_format: str,
    pool: SandboxPool,
    *,
    exclude: str | None = None,
    like: str | None = None,
    budget_chars: int = DEFAULT_BUDGET_CHARS,
) -> list[dict[str, Any]]:
    """Up to ``k`` demonstrations within a size budget, never of the task ``exclude``.

    With ``like`` (the instruction being attempted), the tasks most alike come first — a return is shown returns,
    an address change address changes; otherwise, and among equals, the shortest come first.

    Args:
        tasks: Candidate tasks (a bank's train split).
        k: How many demonstrations at most.
        action_format: The env's action format.
        pool: Where to run solutions.
        exclude: The id of the task being attempted.
        like: The instruction being attempted.
        budget_chars: Most characters of demonstration text in all.

    Returns:
        The messages of the chosen demonstrations, one episode after another.
    """
    if k <= 0:
        return []
    candidates = [t for t in tasks if t.id != exclude]
    episodes = [(t, demonstration(t, action_format, pool)) for t in candidates]
    episodes.sort(
        key=lambda pair: (
            -similarity(like, pair[0].instruction) if like else 0.0,
            sum(len(m["content"]) for m in pair[1]),
        )
    )
    chosen: list[dict[str, Any]] = []
    used = 0
    for _task, episode in episodes[:k]:
        size = sum(len(m["content"]) for m in episode)
        if used + size > budget_chars:
            break
        chosen.extend(episode)
        used += size
    return chosen
