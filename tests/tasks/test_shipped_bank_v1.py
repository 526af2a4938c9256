"""The shipped Retail-CaT-v1 bank: size, splits, every family in both, every task kept, and it is reproducible."""

from __future__ import annotations

import dataclasses
from collections import Counter

import gymnasium as gym
import pytest
from toolgym.tasks import CaTEnv, CodeAsTask, TaskRunner, load_bank, validate, validate_many
from toolgym.tasks.scripted import ScriptedChallenger, task_families

from toolgym.domains import get_domain

BANK = load_bank("retail-v1")
BANK_TOOLS = get_domain("retail").toolset
SCRIPTED = [t for t in BANK.tasks if t.provenance.get("author") == "scripted"]


def test_size_splits_and_families() -> None:
    assert len(BANK) == BANK.manifest["count"] >= 1000
    assert len(BANK.split("test")) == BANK.manifest["splits"]["test"] >= 200
    per_family = Counter((t.provenance["family"], t.split) for t in SCRIPTED)
    for family in task_families("retail"):
        assert per_family[(family.name, "train")] > 0 and per_family[(family.name, "test")] > 0, family.name
    write_tools = BANK.manifest["composition"]["write_tools"]
    assert set(write_tools) == {name for name, tool in BANK_TOOLS.items() if tool.writes}
    assert BANK.manifest["composition"]["read_only"] >= 200


def test_every_task_is_kept(runner: TaskRunner) -> None:
    report = validate_many(BANK.tasks, runner)
    assert report.reasons == {}
    assert len(report.kept) == len(BANK)


def test_the_scripted_part_is_reproduced_by_its_recorded_command() -> None:
    # The manifest's source names the command; running the challenger again gives the very same tasks.
    assert "--n 1200 --world-seeds 0-7 --seed 0" in BANK.manifest["source"]
    again = list(ScriptedChallenger("retail", world_seeds=range(8), seed=0).propose(1200))
    assert [t.id for t in again] == [t.id for t in SCRIPTED]


def sample() -> list[CodeAsTask]:
    """Three tasks of every family, for the slower per-task checks."""
    taken: Counter[str] = Counter()
    chosen = []
    for task in SCRIPTED:
        family = task.provenance["family"]
        if taken[family] < 3:
            taken[family] += 1
            chosen.append(task)
    return chosen


@pytest.mark.parametrize("task", sample(), ids=lambda t: f"{t.provenance['family']}-{t.id}")
def test_mutated_copies_are_rejected_at_the_right_stage(task: CodeAsTask, runner: TaskRunner) -> None:
    def mutated(**changes: object) -> CodeAsTask:
        return dataclasses.replace(task, id="", **changes)

    lenient = validate(mutated(verifier="def evaluate(state, answer):\n    return True\n"), runner)
    assert (lenient.stage, lenient.reason) == ("failures_fail", "failure_case_passes")
    no_solution = validate(mutated(solution="print('Done.')"), runner)
    assert (no_solution.stage, no_solution.reason) == ("solution_passes", "solution_fails")
    copied = validate(mutated(failure_cases=(task.solution, *task.failure_cases[1:])), runner)
    assert (copied.stage, copied.reason) == ("failures_fail", "failure_case_passes")


def test_the_registered_env_serves_both_splits() -> None:
    for split in ("train", "test"):
        env = gym.make("toolgym/Retail-CaT-v1", split=split)
        assert isinstance(env.unwrapped, CaTEnv)
        assert len(env.unwrapped.task_ids) == len(BANK.split(split))
        env.close()
