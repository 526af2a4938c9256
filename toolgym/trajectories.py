"""Trajectories: one finished episode as JSON data, and JSONL files of them.

A trajectory records what the policy saw and wrote, what the env answered, the reward, and enough provenance (policy,
sampling, library and bank versions, timings) to compare runs later. Files are written line by line, so a run that
stops halfway leaves every finished episode readable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class TrajectoryFileError(ValueError):
    """A trajectory file line that is not a valid trajectory; the message names the file and line."""


@dataclass
class Step:
    """One agent turn.

    Attributes:
        action: The policy's raw text.
        observation: What the env answered.
        reward: The step's reward.
        info: The env's step info (action type, tool, arguments, tool calls, error).
    """

    action: str
    observation: str
    reward: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trajectory:
    """One episode.

    Attributes:
        env_id: The Gymnasium id.
        task_id: The task played (``None`` for free play).
        sample: Which sample of this task (0, 1, …) in the run.
        seed: The reset seed.
        messages: The conversation as the policy saw it, system prompt first.
        steps: Every agent turn.
        reward: The episode's final reward.
        terminated: Whether the episode ended (rather than hit the turn limit).
        truncated: Whether it hit the turn limit.
        action_format: The env's action format.
        policy: The policy's description (backend, model, sampling).
        timings: Seconds spent generating, in the env, and in all.
        versions: Library and task-bank versions.
        guided: Whether decoding was constrained to valid actions.
        error: Why the episode could not be played, if it could not.
    """

    env_id: str
    task_id: str | None
    sample: int
    seed: int | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    action_format: str = ""
    policy: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    guided: bool = False
    error: str | None = None

    @property
    def success(self) -> bool:
        """Whether the episode earned the full reward."""
        return self.reward >= 1.0

    def to_dict(self) -> dict[str, Any]:
        """The trajectory as JSON data.

        Returns:
            A fresh dict.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        """Rebuild a trajectory from :meth:`to_dict` output.

        Args:
            data: The JSON data.

        Returns:
            The trajectory.

        Raises:
            TypeError: For missing or unknown fields.
        """
        fields = dict(data)
        fields["steps"] = [Step(**s) for s in fields.get("steps", [])]
        return cls(**fields)


def write_trajectories(path: str | Path, trajectories: Iterable[Trajectory], *, append: bool = False) -> int:
    """Write trajectories as JSONL, one per line, flushing each.

    Args:
        path: The file (its folder is created).
        trajectories: What to write.
        append: Add to an existing file instead of replacing it.

    Returns:
        How many were written.
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with file.open("a" if append else "w", encoding="utf-8") as out:
        for trajectory in trajectories:
            out.write(json.dumps(trajectory.to_dict(), ensure_ascii=False) + "\n")
            out.flush()
            count += 1
    return count


def read_trajectories(path: str | Path) -> Iterator[Trajectory]:
    """Read a JSONL file of trajectories (blank lines skipped).

    Args:
        path: The file.

    Yields:
        Each trajectory in file order.

    Raises:
        TrajectoryFileError: For a line that is not JSON or not a trajectory, naming the file and line.
    """
    file = Path(path)
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise TypeError(f"expected a JSON object, got {type(data).__name__}")
                yield Trajectory.from_dict(data)
            except (json.JSONDecodeError, TypeError) as exc:
                raise TrajectoryFileError(f"{file}, line {number}: not a trajectory: {exc}") from None
