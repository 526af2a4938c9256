"""Every task of the shipped Retail bank passes the filter, and mutated copies of each are rejected at their stage."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from toolgym.tasks import CaTEnv, CodeAsTask, TaskRunner, load_bank, validate, validate_many

BANK = load_bank("retail-v0")


def test_every_shipped_task_is_kept(runner: TaskRunner) -> None:
    report = validate_many(BANK.tasks, runner)
    assert report.reasons == {}
    assert len(report.kept) == len(BANK) == BANK.manifest["count"]


def mutated(task: CodeAsTask, **changes: object) -> CodeAsTask:
    return dataclasses.replace(task, id="", **changes)


@pytest.mark.parametrize("task", BANK.tasks, ids=lambda t: t.id)
def test_mutated_copies_are_rejected_at_the_right_stage(task: CodeAsTask, runner: TaskRunner) -> None:
    lenient = validate(mutated(task, verifier="def evaluate(state, answer):\n    return True\n"), runner)
    assert (lenient.stage, lenient.reason) == ("failures_fail", "failure_case_passes")
    no_solution = validate(mutated(task, solution="print('Done.')"), runner)
    assert (no_solution.stage, no_solution.reason) == ("solution_passes", "solution_fails")
    copied = validate(mutated(task, failure_cases=(task.solution, *task.failure_cases[1:])), runner)
    assert (copied.stage, copied.reason) == ("failures_fail", "failure_case_passes")


def test_the_registered_env_passes_gymnasiums_checks() -> None:
    env = gym.make("toolgym/Retail-CaT-v0", split="train")
    assert isinstance(env.unwrapped, CaTEnv)
    check_env(env.unwrapped, skip_render_check=True)
    assert len(env.unwrapped.task_ids) == len(BANK.split("train"))
    env.close()
