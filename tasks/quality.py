"""Task quality filters beyond the paper: near-duplicate removal and a difficulty band.

The CaT filter (:mod:`toolgym.tasks.validate`) proves a task feasible and fairly verified; it cannot tell that a
bank says the same thing twice, that an instruction leaves out a value its verifier insists on, or that a task is
useless for learning because the agent always (or never) solves it. Three cheap passes address that:

* :func:`dedupe` drops tasks whose instruction and verifier match an earlier task's once case, whitespace,
  punctuation, comments, docstrings and formatting are set aside (see :func:`dedup_key`).
* :func:`~toolgym.tasks.ambiguity.screen_ambiguity` (in its own module) flags tasks whose verifier compares against a string the agent can neither read in the
  instruction nor look up (see :func:`~toolgym.tasks.ambiguity.unnamed_values`) — the paper's residual false negatives.
* :func:`pass_rates` plays every task a few times with a policy, and :func:`difficulty_band` keeps those solved
  sometimes but not always: the tasks that still carry a learning signal.

Each pass returns a small frozen result with the ``kept`` tasks, ``dropped`` (task id → reason) and a JSON-able
``summary()``.
"""

from __future__ import annotations

import ast
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toolgym.policies import Policy, Sampling
from toolgym.rollout import rollout

from .env import CaTEnv
from .format import CodeAsTask

_APOSTROPHES = re.compile(r"['\u2019]")
_PUNCTUATION = re.compile(r"[^\w\s]")


def normalise_text(text: str) -> str:
    """Case-fold, drop apostrophes, turn other punctuation into spaces and collapse whitespace.

    Args:
        text: Any text.

    Returns:
        The normalised text.
    """
    # Punctuation becomes a space rather than vanishing so that "7.47" and "747" stay apart.
    return " ".join(_PUNCTUATION.sub(" ", _APOSTROPHES.sub("", text.casefold())).split())


def _normalise_code(source: str) -> str:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return "text:" + " ".join(source.split())
    for node in ast.walk(tree):
        # A bare string statement (a docstring) does nothing, so two verifiers differing only there are the same.
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            node.body = [s for s in node.body if not _is_bare_string(s)]
    return "ast:" + ast.dump(tree)


def _is_bare_string(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def dedup_key(task: CodeAsTask) -> str:
    """The key two near-duplicate tasks share: a hash of the domain, normalised instruction and normalised verifier.

    The key ignores case, whitespace and punctuation in the instruction (numbers and ids count) and formatting,
    comments and docstrings in the verifier. It depends on the Python version's ``ast`` dump, so compare keys
    within one run; do not store them.

    Args:
        task: The task.

    Returns:
        64 hex digits.
    """
    parts = (task.domain, normalise_text(task.instruction), _normalise_code(task.verifier))
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class FilterResult:
    """What a filter kept and why it dropped the rest.

    Attributes:
        total: Tasks considered.
        kept: Tasks kept, in input order.
        dropped: Each dropped task's id → why.
    """

    total: int
    kept: list[CodeAsTask]
    dropped: dict[str, str]

    def summary(self) -> dict[str, Any]:
        """Counts as JSON data: ``{"total", "kept", "dropped"}`` and the filter's own."""
        return {"total": self.total, "kept": len(self.kept), "dropped": self.total - len(self.kept)}


@dataclass(frozen=True)
class DedupResult(FilterResult):
    """What :func:`dedupe` kept: the first task of each key.

    Attributes:
        duplicate_of: Each dropped task's id → the id of the kept task it repeats.
    """

    duplicate_of: dict[str, str]


def dedupe(tasks: Iterable[CodeAsTask]) -> DedupResult:
    """Drop near-duplicate tasks, keeping the first of each :func:`dedup_key`.

    Args:
        tasks: The tasks, in order of preference.

    Returns:
        The kept tasks and, for each dropped one, the kept task it repeats. A task listed twice maps to itself.
    """
    first: dict[str, str] = {}
    kept: list[CodeAsTask] = []
    duplicate_of: dict[str, str] = {}
    total = 0
    for task in tasks:
        total += 1
        key = dedup_key(task)
        if key in first:
            duplicate_of[task.id] = first[key]
        else:
            first[key] = task.id
            kept.append(task)
    dropped = {tid: f"duplicate of {kid}" for tid, kid in duplicate_of.items()}
    return DedupResult(total, kept, dropped, duplicate_of)


# --- difficulty ----------------------------------------------------------------------------------------------------


def pass_rates(
    tasks: Iterable[CodeAsTask],
    policy: Policy | str,
    *,
    samples: int = 4,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 16,
    sampling: Sampling | None = None,
    guided: bool = False,
) -> dict[str, float]:
    """Play each task ``samples`` times and measure how often the policy solves it.

    Episodes run through :func:`toolgym.rollout.rollout` on a :class:`~toolgym.tasks.CaTEnv` serving exactly
    these tasks (a task listed twice is played once).

    Args:
        tasks: Tasks of one domain.
        policy: A policy or a spec for :func:`~toolgym.policies.load_policy`.
        samples: Episodes per task.
        seed: Base seed of resets and sampling.
        env_kwargs: More arguments for :class:`~toolgym.tasks.CaTEnv` (``max_turns``, ``action_format``, …; not
            ``split``).
        batch_size: Most episodes live at once.
        sampling: Sampling settings.
        guided: Constrain every turn to the env's action grammar.

    Returns:
        Task id → the share of its episodes that earned the full reward, in task order.

    Raises:
        ValueError: Without tasks, for ``samples`` or ``batch_size`` below 1, for ``split`` in ``env_kwargs``,
            or for tasks of several domains.
    """
    batch = list({t.id: t for t in tasks}.values())
    if not batch:
        raise ValueError("pass_rates needs at least one task")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    kwargs = dict(env_kwargs or {})
    if "split" in kwargs:
        raise ValueError("env_kwargs may not set 'split': pass_rates plays every task it is given")

    def quality_env() -> CaTEnv:
        return CaTEnv(batch, split="all", **kwargs)

    results = rollout(
        policy,
        quality_env,
        tasks=[t.id for t in batch],
        samples=samples,
        seed=seed,
        sampling=sampling,
        batch_size=batch_size,
        guided=guided,
    )
    wins = {r.task_id: r.successes / r.n for r in results.summary().tasks if r.n}
    return {t.id: wins.get(t.id, 0.0) for t in batch}


@dataclass(frozen=True)
class BandResult(FilterResult):
    """What :func:`difficulty_band` kept; ``dropped`` reasons start ``too hard``, ``too easy`` or ``unmeasured``.

    Attributes:
        rates: The pass rates of the tasks considered.
        low: The band's lower bound.
        high: The band's upper bound.
        inclusive: Whether the bounds themselves lie in the band.
    """

    rates: dict[str, float]
    low: float
    high: float
    inclusive: bool

    def summary(self) -> dict[str, Any]:
        """Counts and the band as JSON data: total, kept, dropped, too_hard, too_easy, unmeasured, low, high, inclusive."""
        kinds = [reason.split(":", 1)[0].replace(" ", "_") for reason in self.dropped.values()]
        counts = {kind: kinds.count(kind) for kind in ("too_hard", "too_easy", "unmeasured")}
        band = {"low": self.low, "high": self.high, "inclusive": self.inclusive}
        return {**super().summary(), **counts, **band}


def difficulty_band(
    tasks: Iterable[CodeAsTask],
    rates: Mapping[str, float],
    low: float = 0.0,
    high: float = 1.0,
    *,
    inclusive: bool = False,
) -> BandResult:
    """Keep the tasks the policy solves sometimes but not always: ``low < rate < high`` (``<=`` with ``inclusive``).

    The defaults drop tasks never solved (no reward to learn from) and tasks always solved (nothing left to learn).

    Args:
        tasks: The tasks.
        rates: Task id → pass rate, e.g. from :func:`pass_rates`; a task without one is dropped as unmeasured.
        low: Lower bound, in [0, 1].
        high: Upper bound, in [low, 1].
        inclusive: Keep tasks whose rate equals a bound.

    Returns:
        The kept tasks and why the others went.

    Raises:
        ValueError: Unless ``0 <= low <= high <= 1``, or for a rate outside [0, 1].
    """
    if not (0.0 <= low <= high <= 1.0):
        raise ValueError(f"the band needs 0 <= low <= high <= 1, got low={low}, high={high}")
    kept: list[CodeAsTask] = []
    dropped: dict[str, str] = {}
    used: dict[str, float] = {}
    total = 0
    for task in tasks:
        total += 1
        rate = rates.get(task.id)
        if rate is None:
            dropped[task.id] = "unmeasured: no pass rate"
            continue
        if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 1.0):
            raise ValueError(f"pass rate of {task.id} must lie in [0, 1], got {rate!r}")
        used[task.id] = float(rate)
        above = rate >= low if inclusive else rate > low
        below = rate <= high if inclusive else rate < high
        if above and below:
            kept.append(task)
        elif not above:
            dropped[task.id] = f"too hard: pass rate {rate:.3f} {'<' if inclusive else '<='} {low:.3f}"
        else:
            dropped[task.id] = f"too easy: pass rate {rate:.3f} {'>' if inclusive else '>='} {high:.3f}"
    return BandResult(total, kept, dropped, used, low, high, inclusive)
