"""Evaluation metrics: pass@k, pass^k, and summaries of a run's trajectories.

``pass@k`` (Chen et al., 2021) is the chance that at least one of k samples solves a task; ``pass^k`` (τ-bench)
is the chance that all k do, a measure of reliability. Both are estimated without bias from n ≥ k samples with c
successes, by drawing k of the n without replacement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from toolgym.trajectories import Trajectory

ACTION_TYPES = ("tool_call", "code", "message", "malformed")
"""The action types the env reports in ``info["action_type"]``; any other (or none) counts as ``"other"``."""

VALID_ACTION_TYPES = ("tool_call", "code", "message")


def _check(n: int, c: int, k: int) -> None:
    if n < 0 or c < 0 or k < 0:
        raise ValueError(f"n, c and k must be non-negative, got n={n}, c={c}, k={k}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if c > n:
        raise ValueError(f"c={c} successes cannot exceed n={n} samples")
    if k > n:
        raise ValueError(f"k={k} cannot exceed the n={n} samples")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator: ``1 - C(n-c, k) / C(n, k)``.

    Args:
        n: Samples of the task.
        c: How many of them succeeded.
        k: Samples drawn.

    Returns:
        The chance that at least one of k samples, drawn without replacement, succeeds.

    Raises:
        ValueError: For negative values, ``k < 1``, ``c > n`` or ``k > n``.
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) telescopes to ∏_{i=n-c+1}^{n} (1 - k/i): no factorials, no overflow for large n.
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def pass_hat_k(n: int, c: int, k: int) -> float:
    """τ-bench's pass^k: ``C(c, k) / C(n, k)``.

    Args:
        n: Samples of the task.
        c: How many of them succeeded.
        k: Samples drawn.

    Returns:
        The chance that all of k samples, drawn without replacement, succeed.

    Raises:
        ValueError: For negative values, ``k < 1``, ``c > n`` or ``k > n``.
    """
    _check(n, c, k)
    if c < k:
        return 0.0
    # C(c, k) / C(n, k) = ∏_{i=0}^{k-1} (c-i)/(n-i), again without big integers.
    both = 1.0
    for i in range(k):
        both *= (c - i) / (n - i)
    return both


def default_ks(samples: int) -> list[int]:
    """The k values worth reporting when every task has at least ``samples`` samples.

    Args:
        samples: The fewest samples of any task.

    Returns:
        Every k up to 8, beyond that powers of two and ``samples`` itself; empty for 0 samples.
    """
    if samples <= 8:
        return list(range(1, samples + 1))
    ks = [2**p for p in range(samples.bit_length()) if 2**p <= samples]
    return ks if ks[-1] == samples else [*ks, samples]


@dataclass(frozen=True)
class TaskResult:
    """The samples of one task.

    Attributes:
        task_id: The task (``None`` for free play).
        n: How many episodes played it.
        successes: How many earned the full reward.
        mean_reward: Their mean reward.
    """

    task_id: str | None
    n: int
    successes: int
    mean_reward: float

    def pass_at(self, k: int) -> float:
        """pass@k of this task (see :func:`pass_at_k`)."""
        return pass_at_k(self.n, self.successes, k)

    def pass_hat(self, k: int) -> float:
        """pass^k of this task (see :func:`pass_hat_k`)."""
        return pass_hat_k(self.n, self.successes, k)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _label(task_id: str | None) -> str:
    return "(free play)" if task_id is None else task_id


@dataclass(frozen=True)
class EvalResults:
    """What a run of episodes achieved; build it with :meth:`from_trajectories` or :func:`summarize`.

    Episodes that could not be played (``Trajectory.error``) count as failed samples of their task, so a crashing
    policy is not rewarded with a smaller denominator; ``errored`` says how many there were.

    Attributes:
        tasks: Per-task results, sorted by task id (free play last).
        episodes: Episodes in all.
        terminated: Episodes that ended on their own.
        truncated: Episodes cut at the turn limit.
        errored: Episodes that could not be played.
        mean_reward: Mean final reward over episodes.
        mean_turns: Mean agent turns per episode.
        steps: Agent turns in all.
        action_counts: Turns per action type (``tool_call``, ``code``, ``message``, ``malformed``, ``other``).
        error_steps: Turns whose info reports an error (malformed actions, failed tools or code).
    """

    tasks: tuple[TaskResult, ...]
    episodes: int
    terminated: int
    truncated: int
    errored: int
    mean_reward: float
    mean_turns: float
    steps: int
    action_counts: dict[str, int]
    error_steps: int

    @classmethod
    def from_trajectories(cls, trajectories: Iterable[Trajectory]) -> EvalResults:
        """Summarize trajectories, read once, so a generator over a JSONL file will do."""
        rewards: dict[str | None, list[float]] = defaultdict(list)
        wins: dict[str | None, int] = defaultdict(int)
        counts = dict.fromkeys((*ACTION_TYPES, "other"), 0)
        episodes = terminated = truncated = errored = steps = error_steps = 0
        all_rewards: list[float] = []
        for trajectory in trajectories:
            episodes += 1
            terminated += trajectory.terminated
            truncated += trajectory.truncated
            errored += trajectory.error is not None
            rewards[trajectory.task_id].append(trajectory.reward)
            wins[trajectory.task_id] += trajectory.success
            all_rewards.append(trajectory.reward)
            for step in trajectory.steps:
                steps += 1
                kind = step.info.get("action_type")
                counts[kind if kind in ACTION_TYPES else "other"] += 1
                error_steps += step.info.get("error") is not None
        tasks = tuple(
            TaskResult(task_id, len(values), wins[task_id], _mean(values))
            for task_id, values in sorted(rewards.items(), key=lambda item: (item[0] is None, item[0] or ""))
        )
        return cls(
            tasks=tasks,
            episodes=episodes,
            terminated=terminated,
            truncated=truncated,
            errored=errored,
            mean_reward=_mean(all_rewards),
            mean_turns=steps / episodes if episodes else 0.0,
            steps=steps,
            action_counts=counts,
            error_steps=error_steps,
        )

    @property
    def min_samples(self) -> int:
        """The fewest samples of any task (0 without episodes)."""
        return min((t.n for t in self.tasks), default=0)

    @property
    def action_shares(self) -> dict[str, float]:
        """The share of turns per action type (all 0.0 without turns)."""
        return {kind: count / self.steps if self.steps else 0.0 for kind, count in self.action_counts.items()}

    @property
    def valid_action_rate(self) -> float:
        """The share of turns the env understood: tool calls, code and messages (0.0 without turns)."""
        valid = sum(self.action_counts.get(kind, 0) for kind in VALID_ACTION_TYPES)
        return valid / self.steps if self.steps else 0.0

    def _tasks_for(self, k: int) -> tuple[TaskResult, ...]:
        if not self.tasks:
            raise ValueError("no episodes to score")
        short = [t for t in self.tasks if t.n < k]
        if short:
            names = ", ".join(f"{_label(t.task_id)} ({t.n})" for t in short[:10])
            more = f" and {len(short) - 10} more" if len(short) > 10 else ""
            raise ValueError(f"k={k} needs at least {k} samples of every task; too few for: {names}{more}")
        return self.tasks

    def pass_at(self, k: int) -> float:
        """pass@k averaged over tasks; ValueError without episodes or naming the tasks with fewer than k samples."""
        return _mean([t.pass_at(k) for t in self._tasks_for(k)])

    def pass_hat(self, k: int) -> float:
        """pass^k averaged over tasks; ValueError without episodes or naming the tasks with fewer than k samples."""
        return _mean([t.pass_hat(k) for t in self._tasks_for(k)])

    def to_dict(self, ks: Sequence[int] | None = None) -> dict[str, Any]:
        """The summary as JSON data.

        Args:
            ks: The k values of ``pass@k`` and ``pass^k`` (default: :func:`default_ks` of the fewest samples).

        Returns:
            A fresh dict; ``pass_at`` and ``pass_hat`` map each k (as a string, as JSON keys must be) to its value.

        Raises:
            ValueError: For a k that some task has too few samples for.
        """
        chosen = list(default_ks(self.min_samples) if ks is None else ks)
        return {
            "episodes": self.episodes,
            "tasks": len(self.tasks),
            "terminated": self.terminated,
            "truncated": self.truncated,
            "errored": self.errored,
            "mean_reward": self.mean_reward,
            "mean_turns": self.mean_turns,
            "steps": self.steps,
            "action_counts": dict(self.action_counts),
            "action_shares": self.action_shares,
            "valid_action_rate": self.valid_action_rate,
            "error_steps": self.error_steps,
            "pass_at": {str(k): self.pass_at(k) for k in chosen},
            "pass_hat": {str(k): self.pass_hat(k) for k in chosen},
            "per_task": [
                {"task_id": t.task_id, "n": t.n, "successes": t.successes, "mean_reward": t.mean_reward}
                for t in self.tasks
            ],
        }

    def table(self, ks: Sequence[int] | None = None, *, per_task: bool = False) -> str:
        """A plain-text summary table.

        Args:
            ks: The k values to show (default: :func:`default_ks` of the fewest samples).
            per_task: Also list every task's samples, successes and mean reward.

        Returns:
            The table, lines joined by newlines, without a trailing newline.

        Raises:
            ValueError: For a k that some task has too few samples for.
        """
        counts = sorted({t.n for t in self.tasks})
        per = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}" if counts else "0"
        rows = [
            ("episodes", f"{self.episodes} ({len(self.tasks)} tasks × {per} samples)"),
            ("terminated", str(self.terminated)),
            ("truncated", str(self.truncated)),
            ("errored", str(self.errored)),
            ("mean reward", f"{self.mean_reward:.3f}"),
            ("mean turns", f"{self.mean_turns:.2f}"),
            ("turns", str(self.steps)),
        ]
        shares = self.action_shares
        rows += [
            (f"  {kind}", f"{self.action_counts[kind]} ({shares[kind]:.1%})") for kind in self.action_counts
        ]
        rows += [
            ("valid actions", f"{self.valid_action_rate:.1%}"),
            ("turns with errors", str(self.error_steps)),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        chosen = list(default_ks(self.min_samples) if ks is None else ks)
        if chosen:
            lines += ["", f"{'k':>4}  {'pass@k':>7}  {'pass^k':>7}"]
            lines += [f"{k:>4}  {self.pass_at(k):>7.3f}  {self.pass_hat(k):>7.3f}" for k in chosen]
        if per_task and self.tasks:
            name_width = max(4, *(len(_label(t.task_id)) for t in self.tasks))
            lines += ["", f"{'task':<{name_width}}  {'n':>4}  {'wins':>4}  {'reward':>6}"]
            lines += [
                f"{_label(t.task_id):<{name_width}}  {t.n:>4}  {t.successes:>4}  {t.mean_reward:>6.3f}"
                for t in self.tasks
            ]
        return "\n".join(lines)


def summarize(trajectories: Iterable[Trajectory]) -> EvalResults:
    """Summarize trajectories (read once); the same as :meth:`EvalResults.from_trajectories`."""
    return EvalResults.from_trajectories(trajectories)
