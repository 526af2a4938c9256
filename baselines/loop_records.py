"""The records of a self-improvement run: one :class:`RoundRecord` a round, gathered in a :class:`LoopResult`.

Records hold plain JSON data, so ``results.json`` is their :meth:`LoopResult.to_dict` and the plots can be drawn
from that file alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loop_settings import LoopSettings


@dataclass
class RoundRecord:
    """What one round did; round 0 only evaluates.

    Attributes:
        round: The round number.
        played_by: The model that played the round (``None`` for round 0).
        model: The model after the round: the newly trained one, or ``played_by`` when nothing was trained.
        challenge: Proposals, kept tasks, the yield of every filter step, the files written.
        rollouts: Episodes, successes, mean reward, the trajectory file.
        training: Examples, steps, the loss per step and throughput, or why nothing was trained.
        replay: The trained model on the round's own tasks, with the rollouts' seed: the train reward after
            training, to set against ``rollouts`` (``None`` when nothing was trained or ``replay_train`` is off).
        eval: Pass@1, mean reward and episodes on the held-out test tasks.
        seconds: Seconds per phase.
        stopped: Why the run ended in this round, if it did.
    """

    round: int
    model: str
    played_by: str | None = None
    challenge: dict[str, Any] | None = None
    rollouts: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    replay: dict[str, Any] | None = None
    eval: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON data.

        Returns:
            A dict.
        """
        return dataclasses.asdict(self)


@dataclass
class LoopResult:
    """A run's rounds, round 0 first.

    Attributes:
        settings: The run's settings.
        rounds: One record per round played.
        results_path: ``out/results.json``.
        stopped: Why the run ended before its last round, if it did.
        failed: The error that broke the run off, if one did.
        plots: The plot files.
    """

    settings: LoopSettings
    rounds: list[RoundRecord]
    results_path: Path
    stopped: str | None = None
    failed: str | None = None
    plots: list[Path] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``"failed"`` or ``"stopped"`` when the run ended early, ``"finished"`` once every round is recorded."""
        if self.failed is not None:
            return "failed"
        if self.stopped is not None:
            return "stopped"
        finished = len(self.rounds) == self.settings.rounds + 1 and self.rounds[-1].eval is not None
        return "finished" if finished else "running"

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON data (``results.json``).

        Returns:
            Settings, status, and every round.
        """
        return {
            "settings": self.settings.to_dict(),
            "status": self.status,
            "stopped": self.stopped,
            "failed": self.failed,
            "rounds": [r.to_dict() for r in self.rounds],
            "plots": [str(p) for p in self.plots],
        }

    def table(self) -> str:
        """Before and after: the kept tasks, the training data and the test pass@1 of every round.

        Returns:
            A text table, then the reason the run stopped, if it did.
        """
        lines = [
            f"{'round':>5} {'tasks kept':>10} {'train reward':>14} {'after training':>14} {'train examples':>14}"
            f" {'test pass@1':>11}"
        ]
        for record in self.rounds:
            kept = str(record.challenge["kept"]) if record.challenge else "–"
            reward = after = "–"
            if record.rollouts:
                reward = f"{record.rollouts['successes']}/{record.rollouts['episodes']}"
            if record.replay:
                after = f"{record.replay['successes']}/{record.replay['episodes']}"
            examples = str(record.training["examples"]) if record.training else "–"
            test = f"{record.eval['pass_at_1']:.3f}" if record.eval else "–"
            lines.append(f"{record.round:>5} {kept:>10} {reward:>14} {after:>14} {examples:>14} {test:>11}")
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        return "\n".join(lines)
