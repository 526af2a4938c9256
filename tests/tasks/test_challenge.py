"""The challenge pipeline: proposals → filter → dedup → ambiguity screen → band, its report, files and command."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from task_samples import cancel_task
from toolgym.tasks import TaskRunner, read_tasks, validate
from toolgym.tasks.challenge import Band, run_challenge, write_challenge
from toolgym.tasks.proposal import Proposal
from toolgym.tasks.stats import bank_stats, format_stats

from toolgym.policies.base import Conversation
from toolgym.world import World


def proposals(world: World) -> list[Proposal]:
    honest = cancel_task(world)
    reworded = cancel_task(world, instruction=honest.instruction.upper() + "!!")  # a near-duplicate
    lenient = cancel_task(world, verifier="def evaluate(state, answer):\n    return True\n")
    vague = cancel_task(world, instruction="Cancel my order, I'm " + honest.instruction.split("(")[1][:-70])
    vague_but_named = cancel_task(
        world, instruction=honest.instruction.replace("I no longer need it", "because")
    )
    return [
        Proposal(task=honest),
        Proposal(task=None, reason="too_few_failure_cases", detail="2 failure cases", raw="<instruction>…"),
        Proposal(task=reworded),
        Proposal(task=lenient),
        Proposal(task=honest),  # the same task twice is validated once
        Proposal(task=vague_but_named),
        Proposal(task=vague),
    ]


def test_every_step_is_counted_and_explained(small_world: World, runner: TaskRunner) -> None:
    batch = proposals(small_world)
    result = run_challenge(batch, runner=runner, settings={"challenger": "test"})
    assert [t.id for t in result.kept] == [batch[0].task.id]  # type: ignore[union-attr]
    steps = result.steps
    assert (steps["proposed"], steps["parsed"]) == (7, 6)
    assert steps["compiles"] == 5  # the repeated task is validated once
    assert steps["failures_fail"] == 4 and steps["deterministic"] == 4
    assert steps["unique"] == 3 and steps["unambiguous"] == 1 and steps["kept"] == 1
    assert result.dropped[batch[2].task.id].startswith("near_duplicate: of " + batch[0].task.id)  # type: ignore[union-attr]
    assert "'no longer needed'" in result.dropped[batch[5].task.id]  # type: ignore[union-attr]
    reasons = result.reasons()
    assert reasons["too_few_failure_cases"] == 1 and reasons["failure_case_passes"] == 1
    assert reasons["near_duplicate"] == 1 and reasons["ambiguous"] == 2
    table = result.table()
    assert "proposed" in table and "14.3%" in table and "lost:" in table


def test_the_screen_and_band_are_optional(small_world: World, runner: TaskRunner) -> None:
    result = run_challenge(proposals(small_world), runner=runner, screen=False)
    assert "unambiguous" not in result.steps and result.steps["kept"] == 3


class Replayer:
    """Runs a task's solution as a code action, then repeats what it printed, for the tasks it knows."""

    name = "scripted:replayer"
    action_format = "code"

    def __init__(self, solutions: dict[str, str]) -> None:
        self.solutions = solutions

    def generate(
        self, conversations: Sequence[Conversation], tools: Any = None, sampling: Any = None, **_: Any
    ) -> list[str]:
        out = []
        for conversation in conversations:
            code = self.solutions.get(conversation[1]["content"])
            if code is None:
                out.append("I cannot help with that.")
            elif len(conversation) == 2:
                out.append(f"```python\n{code}\n```")
            else:
                out.append(str(conversation[-1]["content"]))
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


def test_the_band_keeps_tasks_solved_sometimes(small_world: World, runner: TaskRunner) -> None:
    base = cancel_task(small_world)
    other = cancel_task(small_world, instruction=base.instruction.replace("Tell me", "Then tell me"))
    policy = Replayer({base.instruction: base.solution})
    band = Band(policy, low=0.5, high=1.0, samples=2, env_kwargs={"max_turns": 2})
    result = run_challenge([Proposal(task=base), Proposal(task=other)], runner=runner, band=band)
    assert result.pass_rates == {base.id: 1.0, other.id: 0.0}
    assert result.kept == [] and result.steps["in_band"] == 0
    assert result.dropped[base.id] == "outside_band: pass rate 1.00"
    wide = dataclasses.replace(band, high=1.0, low=0.0)
    assert run_challenge([Proposal(task=base)], runner=runner, band=wide).kept == []  # exclusive bounds


def test_files_hold_the_kept_tasks_the_report_and_every_proposal(
    small_world: World, runner: TaskRunner, tmp_path: Path
) -> None:
    batch = proposals(small_world)
    result = run_challenge(batch, runner=runner)
    tasks, report, every = write_challenge(result, tmp_path / "out" / "mine.jsonl")
    assert report.name == "mine.report.json" and every.name == "mine.proposals.jsonl"
    kept = read_tasks(tasks)
    assert [t.id for t in kept] == [t.id for t in result.kept]
    assert all(validate(t, runner).passed for t in kept)  # reloaded tasks pass again
    data = json.loads(report.read_text())
    assert data["steps"]["kept"] == 1 and len(data["proposals"]) == 7
    fates = [p["reason"] for p in data["proposals"]]
    assert fates[:4] == [
        "kept",
        "too_few_failure_cases",
        "near_duplicate: of " + batch[0].task.id,
        "failure_case_passes",
    ]  # type: ignore[union-attr]
    lines = [json.loads(line) for line in every.read_text().splitlines()]
    assert lines[1]["raw"] == "<instruction>…" and lines[1]["task"] is None


def test_stats_describe_skills_tools_lengths_and_duplicates(small_world: World) -> None:
    base = cancel_task(small_world)
    twin = cancel_task(small_world, instruction=base.instruction.lower())
    tagged = dataclasses.replace(base, id="", provenance={"author": "scripted", "family": "cancel_by_id"})
    stats = bank_stats([base, twin, tagged], yields={"compiles": 3})
    assert stats["count"] == 3 and stats["authors"] == {"test": 2, "scripted": 1}
    assert set(stats["skills"]) == {"cancel_pending_order", "cancel_by_id"}
    assert stats["tools"]["cancel_pending_order"] == 3
    assert stats["duplicates"] == {twin.id: base.id, tagged.id: base.id}
    assert stats["solution"]["lines"]["median"] == 3
    text = format_stats(stats)
    assert "cancel_by_id" in text and "near-duplicates: 2" in text and "compiles" in text


def test_empty_inputs_give_an_empty_result(runner: TaskRunner) -> None:
    result = run_challenge([], runner=runner)
    assert result.kept == [] and result.steps["proposed"] == 0
    assert bank_stats([])["count"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["challenge", "--out", "x.jsonl"], "either --policy"),
        (["challenge", "--out", "x.jsonl", "--scripted", "--policy", "hf:default"], "either --policy"),
        (["challenge", "--out", "x.jsonl", "--scripted", "--domain", "nowhere"], "unknown domain"),
        (["challenge", "--out", "x.jsonl", "--scripted", "--n", "0"], "--n must be positive"),
        (["challenge", "--out", "x.jsonl", "--scripted", "--families", "nope"], "nope"),
    ],
)
def test_the_command_refuses_bad_arguments(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolgym.cli import main

    argv = [a if a != "x.jsonl" else str(tmp_path / a) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_the_scripted_command_writes_a_bank_that_registers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolgym.cli import main

    monkeypatch.setenv("TOOLGYM_HOME", str(tmp_path / "home"))
    out = tmp_path / "scripted.jsonl"
    assert main(["challenge", "--scripted", "--n", "12", "--world-seeds", "0-1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "proposed" in printed and "deterministic" in printed and str(out) in printed
    kept = read_tasks(out)
    assert kept and all(t.provenance["author"] == "scripted" for t in kept)
    assert main(["bank", "stats", str(out)]) == 0
    assert "solution lines" in capsys.readouterr().out
    assert main(["bank", "register", str(out), "--id", "toolgym/MineScripted-CaT-v0", "--no-validate"]) == 0
    import gymnasium as gym

    env = gym.make("toolgym/MineScripted-CaT-v0", split="all")
    assert sorted(env.unwrapped.task_ids) == sorted(t.id for t in kept)
    env.close()
    del gym.registry["toolgym/MineScripted-CaT-v0"]


def test_stats_of_a_shipped_bank_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    from toolgym.cli import main

    assert main(["bank", "stats", "retail-v0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("36 tasks · train 26, test 10") and "deterministic" in out
    assert main(["bank", "stats", "no-such-bank.jsonl"]) == 2
    assert "no-such-bank.jsonl" in capsys.readouterr().err
