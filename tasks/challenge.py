"""From proposals to a bank: the CaT filter, then the quality screens, with the yield of every step recorded.

Steps, in order: proposals that parse as tasks → the filter's stages (:data:`~toolgym.tasks.validate.STAGES`) →
near-duplicate removal → the ambiguity screen (optional) → the difficulty band (optional). The result keeps
every proposal's fate, so a run's report says how many tasks survived each step and why the others did not.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ambiguity import screen_ambiguity
from .bank import atomic_write
from .format import CodeAsTask
from .proposal import Proposal
from .quality import dedupe, difficulty_band, pass_rates
from .validate import STAGES, TaskRunner, YieldReport, validate_many


@dataclass(frozen=True)
class Band:
    """Keep only tasks an executor solves sometimes: pass rate in ``(low, high)``.

    Attributes:
        policy: The executor (a policy object or spec).
        low: Lower bound of the pass rate (exclusive).
        high: Upper bound (exclusive).
        samples: Episodes per task used to estimate it.
        env_kwargs: Env arguments for those episodes (action format, turns, …).
    """

    policy: Any
    low: float = 0.0
    high: float = 1.0
    samples: int = 4
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ChallengeResult:
    """What a challenge run produced.

    Attributes:
        proposals: Every proposal, in order.
        validation: The filter's report on the proposals that parsed.
        kept: The tasks that survived every step.
        dropped: Why each task that passed the filter was dropped later (id → reason).
        steps: Tasks left after each step, in order (``proposed``, ``parsed``, the filter's stages, …).
        seconds: Time spent in each phase (``propose``, ``validate``, ``screen``).
        settings: The challenger's settings, for the report.
        pass_rates: Executor pass rates, when a difficulty band was applied.
    """

    proposals: list[Proposal]
    validation: YieldReport
    kept: list[CodeAsTask]
    dropped: dict[str, str]
    steps: dict[str, int]
    seconds: dict[str, float]
    settings: dict[str, Any]
    pass_rates: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        """The yield of every step, like the paper's 47.7 % → 9.5 % → 5.2 %.

        Returns:
            A text table, then the most common reasons proposals were lost.
        """
        total = self.steps.get("proposed", 0) or 1
        lines = [f"{'step':<17} {'tasks':>6} {'yield':>7}"]
        lines += [f"{k:<17} {v:>6} {v / total:>7.1%}" for k, v in self.steps.items()]
        reasons = self.reasons()
        if reasons:
            lines.append("lost: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common(8)))
        return "\n".join(lines)

    def reasons(self) -> Counter[str]:
        """How often each reason for losing a proposal occurred, over all steps."""
        counts = Counter(p.reason for p in self.proposals if not p.usable)
        counts.update(self.validation.reasons)
        counts.update(reason.split(":", 1)[0] for reason in self.dropped.values())
        return counts

    def report(self) -> dict[str, Any]:
        """The run as JSON data (written beside the bank).

        Returns:
            Settings, steps, reasons, timings and each proposal's fate.
        """
        by_id = {r.task_id: r for r in self.validation.reports}
        fates = []
        for proposal in self.proposals:
            if proposal.task is None:
                fates.append({"task": None, "reason": proposal.reason, "detail": proposal.detail})
                continue
            check = by_id[proposal.task.id]
            reason = check.reason if not check.passed else self.dropped.get(proposal.task.id, "kept")
            fates.append({"task": proposal.task.id, "reason": reason, "detail": check.detail})
        return {
            "settings": self.settings,
            "steps": self.steps,
            "reasons": dict(self.reasons().most_common()),
            "seconds": self.seconds,
            "pass_rates": self.pass_rates,
            "proposals": fates,
        }


def run_challenge(
    proposals: Iterable[Proposal],
    *,
    runner: TaskRunner | None = None,
    screen: bool = True,
    band: Band | None = None,
    settings: Mapping[str, Any] | None = None,
    on_validated: Callable[[int], None] | None = None,
) -> ChallengeResult:
    """Filter proposals into a set of kept tasks.

    Args:
        proposals: The challenger's output (consumed here; generation happens as it is iterated).
        runner: Where the filter runs code (a private sandbox pool when ``None``).
        screen: Apply the ambiguity screen.
        band: Apply a difficulty band with an executor policy.
        settings: The challenger's settings, copied into the report.
        on_validated: Called with the number of tasks validated so far (progress display).

    Returns:
        The result; nothing is written.
    """
    started = time.perf_counter()
    batch = list(proposals)
    propose_s = time.perf_counter() - started
    parsed = [p.task for p in batch if p.task is not None]
    # Two proposals may be the very same task; validating once is enough and keeps the report's ids unique.
    unique = list({t.id: t for t in parsed}.values())
    started = time.perf_counter()
    validation = validate_many(unique, runner)
    validate_s = time.perf_counter() - started
    if on_validated is not None:
        on_validated(validation.total)
    passed = set(validation.kept)
    survivors = [t for t in unique if t.id in passed]
    steps = {"proposed": len(batch), "parsed": len(parsed)}
    steps.update({stage: validation.survived(stage) for stage in STAGES})
    dropped: dict[str, str] = {}

    started = time.perf_counter()
    deduped = dedupe(survivors)
    for task_id, kept_id in deduped.duplicate_of.items():
        dropped[task_id] = f"near_duplicate: of {kept_id}"
    survivors = list(deduped.kept)
    steps["unique"] = len(survivors)
    if screen and survivors:
        ambiguity = screen_ambiguity(survivors)
        for task_id, values in ambiguity.flagged.items():
            dropped[task_id] = "ambiguous: the instruction never gives " + ", ".join(map(repr, values))
        survivors = list(ambiguity.kept)
        steps["unambiguous"] = len(survivors)
    rates: dict[str, float] = {}
    if band is not None and survivors:
        rates = pass_rates(survivors, band.policy, samples=band.samples, env_kwargs=dict(band.env_kwargs))
        banded = difficulty_band(survivors, rates, band.low, band.high)
        for task_id in {t.id for t in survivors} - {t.id for t in banded.kept}:
            dropped[task_id] = f"outside_band: pass rate {rates[task_id]:.2f}"
        survivors = list(banded.kept)
        steps["in_band"] = len(survivors)
    steps["kept"] = len(survivors)
    return ChallengeResult(
        proposals=batch,
        validation=validation,
        kept=survivors,
        dropped=dropped,
        steps=steps,
        seconds={"propose": propose_s, "validate": validate_s, "screen": time.perf_counter() - started},
        settings=dict(settings or {}),
        pass_rates=rates,
    )


def write_challenge(result: ChallengeResult, out: str | Path) -> tuple[Path, Path, Path]:
    """Write the kept tasks, the report and every proposal (raw text included) next to each other.

    Args:
        result: The run.
        out: The tasks file, e.g. ``banks/my-retail.jsonl``.

    Returns:
        The tasks file, ``<stem>.report.json`` and ``<stem>.proposals.jsonl``.
    """
    tasks_path = Path(out)
    tasks_path.parent.mkdir(parents=True, exist_ok=True)
    stem = tasks_path.with_suffix("")
    report_path = stem.with_name(stem.name + ".report.json")
    proposals_path = stem.with_name(stem.name + ".proposals.jsonl")
    atomic_write(tasks_path, "".join(t.to_json() + "\n" for t in result.kept).encode())
    report = json.dumps(result.report(), indent=2, ensure_ascii=False) + "\n"
    atomic_write(report_path, report.encode())
    lines = []
    for proposal in result.proposals:
        record = {
            "reason": proposal.reason,
            "detail": proposal.detail,
            "task": proposal.task.to_dict() if proposal.task is not None else None,
            "raw": proposal.raw,
            "exploration": proposal.exploration,
        }
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    atomic_write(proposals_path, "".join(lines).encode())
    return tasks_path, report_path, proposals_path
