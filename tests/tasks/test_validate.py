"""The CaT filter: honest tasks are kept; each kind of broken task is rejected at its stage with its reason."""

from __future__ import annotations

import dataclasses

import pytest
from task_samples import SMALL_WORLD, cancel_task, pending_order
from toolgym.tasks import STAGES, CodeAsTask, TaskRunner, validate, validate_many
from toolgym.tasks.validate import Episode

from toolgym.world import World


def test_an_honest_task_is_kept(task: CodeAsTask, runner: TaskRunner) -> None:
    report = validate(task, runner)
    assert report.passed, report
    assert (report.stage, report.reason, report.task_id) == ("kept", "ok", task.id)
    assert report.stages_passed == STAGES


def test_validate_without_a_runner_starts_and_stops_its_own_pool(task: CodeAsTask) -> None:
    assert validate(task).passed


def mutate(task: CodeAsTask, **changes: object) -> CodeAsTask:
    return dataclasses.replace(task, id="", **changes)


ALWAYS_TRUE = "def evaluate(state, answer):\n    return True\n"


@pytest.mark.parametrize(
    ("name", "changes", "stage", "reason"),
    [
        ("verifier always true", {"verifier": ALWAYS_TRUE}, "failures_fail", "failure_case_passes"),
        ("solution removed", {"solution": "pass"}, "solution_passes", "solution_fails"),
        ("solution only talks", {"solution": "print('cancelled')"}, "solution_passes", "solution_fails"),
        (
            "verifier syntax error",
            {"verifier": "def evaluate(state, answer):\n    return (\n"},
            "compiles",
            "verifier_compile_error",
        ),
        (
            "verifier imports",
            {"verifier": "import os\ndef evaluate(state, answer):\n    return True\n"},
            "compiles",
            "verifier_compile_error",
        ),
        (
            "verifier names a missing builtin",
            {"verifier": "def evaluate(state, answer):\n    return open('/etc/passwd') is None\n"},
            "verifier_runs",
            "verifier_error",
        ),
        (
            "verifier dunder",
            {"verifier": "def evaluate(state, answer):\n    return state.__class__\n"},
            "compiles",
            "verifier_compile_error",
        ),
        ("solution compile error", {"solution": "x = ().__class__"}, "compiles", "solution_compile_error"),
        (
            "verifier missing",
            {"verifier": "def check(state, answer):\n    return True\n"},
            "verifier_runs",
            "verifier_bad_result",
        ),
        (
            "verifier wrong arity",
            {"verifier": "def evaluate(state):\n    return True\n"},
            "verifier_runs",
            "verifier_bad_result",
        ),
        (
            "verifier returns text",
            {"verifier": "def evaluate(state, answer):\n    return 'yes'\n"},
            "verifier_runs",
            "verifier_bad_result",
        ),
        (
            "verifier raises",
            {"verifier": "def evaluate(state, answer):\n    return state['nope']\n"},
            "verifier_runs",
            "verifier_error",
        ),
        (
            "verifier loops",
            {"verifier": "def evaluate(state, answer):\n    while True:\n        pass\n"},
            "verifier_runs",
            "verifier_timeout",
        ),
        ("solution loops", {"solution": "while True:\n    pass"}, "solution_passes", "solution_timeout"),
        ("solution crashes", {"solution": "print(1 / 0)"}, "solution_passes", "solution_error"),
        ("unknown world", {"world": {"generator": "retail", "seed": -1}}, "verifier_runs", "world_error"),
        ("unknown domain", {"domain": "bakery"}, "verifier_runs", "world_error"),
    ],
)
def test_broken_tasks_are_rejected_at_their_stage(
    task: CodeAsTask, runner: TaskRunner, name: str, changes: dict[str, object], stage: str, reason: str
) -> None:
    report = validate(mutate(task, **changes), runner)
    assert not report.passed
    assert (report.stage, report.reason) == (stage, reason), report.detail
    assert report.detail
    assert report.stages_passed == STAGES[: STAGES.index(stage)]


def test_a_failure_case_equal_to_the_solution_is_rejected(task: CodeAsTask, runner: TaskRunner) -> None:
    cases = (task.failure_cases[0], task.solution, task.failure_cases[2])
    report = validate(mutate(task, failure_cases=cases), runner)
    assert (report.stage, report.reason) == ("failures_fail", "failure_case_passes")
    assert "failure case 1" in report.detail


def test_a_broken_failure_case_is_rejected_but_a_refused_tool_call_is_fine(
    task: CodeAsTask, runner: TaskRunner, small_world: World
) -> None:
    broken = mutate(task, failure_cases=(*task.failure_cases[:2], "print(undefined_name)"))
    report = validate(broken, runner)
    assert (report.stage, report.reason) == ("failures_fail", "failure_case_broken")
    assert "NameError" in report.detail
    refused = mutate(
        task,
        failure_cases=(
            *task.failure_cases[:2],
            "cancel_pending_order(order_id='#W0', reason='no longer needed')",
        ),
    )
    assert validate(refused, runner).passed


def test_a_verifier_that_accepts_doing_nothing_is_rejected(
    task: CodeAsTask, runner: TaskRunner, small_world: World
) -> None:
    order_id, _, _ = pending_order(small_world)
    lenient = (
        "def evaluate(state, answer):\n"
        f"    order = state['orders']['{order_id}']\n"
        "    if order['status'] == 'pending':\n"
        "        return answer == ''\n"
        "    return order['cancel_reason'] == 'no longer needed' and 'cancelled' in answer.lower()\n"
    )
    report = validate(mutate(task, verifier=lenient), runner)
    assert (report.stage, report.reason) == ("noop_fails", "noop_passes")


def test_a_task_that_gives_different_results_twice_is_rejected(
    task: CodeAsTask, runner: TaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_play = TaskRunner.play
    answers = iter(["first", "second"])

    def play(self: TaskRunner, t: CodeAsTask, source: str, **kw: object) -> Episode:
        episode = real_play(self, t, source, **kw)  # type: ignore[arg-type]
        if source == t.solution:
            run = dataclasses.replace(episode.run.result, output=next(answers))
            episode.run.result = run
        return episode

    monkeypatch.setattr(TaskRunner, "play", play)
    report = validate(task, runner)
    assert (report.stage, report.reason) == ("deterministic", "nondeterministic")


def test_batch_validation_reports_the_yield_of_each_stage(task: CodeAsTask, runner: TaskRunner) -> None:
    batch = [
        task,
        mutate(task, instruction="another wording"),
        mutate(task, verifier=ALWAYS_TRUE),
        mutate(task, solution="pass"),
        mutate(task, verifier="def evaluate(state, answer):\n    return (\n"),
    ]
    report = validate_many(batch, runner)
    assert report.total == 5
    assert [r.task_id for r in report.reports] == [t.id for t in batch]
    assert report.kept == [batch[0].id, batch[1].id]
    counts = [report.survived(s) for s in STAGES]
    assert counts == [4, 4, 3, 2, 2, 2]
    assert report.yields()["compiles"] == pytest.approx(0.8)
    assert report.reasons == {"failure_case_passes": 1, "solution_fails": 1, "verifier_compile_error": 1}
    table = report.table()
    assert "solution_passes" in table and "60.0%" in table and "failure_case_passes 1" in table


def test_an_empty_batch_has_zero_yields(runner: TaskRunner) -> None:
    report = validate_many([], runner)
    assert report.total == 0 and set(report.yields().values()) == {0.0}


def test_judge_and_play_run_scripts_on_fresh_worlds(task: CodeAsTask, runner: TaskRunner) -> None:
    first = runner.play(task, task.solution)
    second = runner.play(task, task.solution)
    assert first.verdict.value is True and second.verdict.value is True
    assert first.world is not second.world
    assert "cancelled" in first.answer
    untouched = runner.play(task, "")
    assert untouched.verdict.value is False and untouched.world.changed == {}
    assert SMALL_WORLD["seed"] == task.world["seed"]


def test_cancel_task_factory_accepts_overrides(small_world: World) -> None:
    assert cancel_task(small_world, instruction="x").instruction == "x"
