"""The self-improvement loop: rounds, bookkeeping, results.json, plots, the commands and the demo's settings."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from toolgym.baselines import loop, loop_cli
from toolgym.baselines.loop import DEMO, LoopResult, LoopSettings, eval_task_ids, plot_results, run_loop
from toolgym.tasks import load_bank, read_tasks

from toolgym.cli import build_parser, main
from toolgym.policies import Sampling
from toolgym.policies.base import Conversation, ToolSchemas
from toolgym.trajectories import read_trajectories

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

PNG = b"\x89PNG\r\n\x1a\n"
FAMILY = "gift_card_balance"  # one look-up questions: quick to validate, short solutions


class Solver:
    """Plays each task's example solution as a code action, then answers with what it printed.

    It knows the shipped bank's tasks and those the loop's challenger wrote under ``root``; with ``solve=False`` it
    answers at once without looking, and fails.
    """

    name = "scripted:solver"
    action_format = "code"

    def __init__(self, root: Path, *, solve: bool = True) -> None:
        self.root, self.solve = root, solve
        self.solutions = {t.instruction: t.solution for t in load_bank("retail-v1").tasks}

    def _solution(self, instruction: str) -> str:
        if instruction not in self.solutions:
            for file in self.root.glob("round-*/tasks.jsonl"):
                self.solutions.update({t.instruction: t.solution for t in read_tasks(file)})
        return self.solutions[instruction]

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
        **extra: Any,
    ) -> list[str]:
        out = []
        for conversation in conversations:
            if not self.solve:
                out.append("I cannot tell.")
            elif len(conversation) == 2:
                out.append(f"```python\n{self._solution(str(conversation[1]['content']))}\n```")
            else:
                out.append(str(conversation[-1]["content"]).strip() or "Done.")
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


class Babbler(Solver):
    """A challenger that never writes a task: every turn is the same short message."""

    action_format = "hermes"

    def generate(self, conversations: Sequence[Conversation], *args: Any, **extra: Any) -> list[str]:
        return ["Nothing to report." for _ in conversations]


def settings(out: Path, model_dir: Path, **changes: Any) -> LoopSettings:
    base: dict[str, Any] = {
        "model": f"hf:{model_dir}",
        "rounds": 2,
        "families": (FAMILY,),
        "tasks_per_round": 2,
        "rollouts_per_task": 1,
        "eval_tasks": 2,
        "eval_samples": 2,
        "max_turns": 3,
        "action_format": "code",
        "max_length": 16_384,  # the retail prompt takes 8-10k tokens of the tiny tokenizer
        "epochs": 1.0,
        "grad_accum": 1,
        "device": "cpu",
        "out": out,
    }
    return LoopSettings(**{**base, **changes})


def play_with(monkeypatch: pytest.MonkeyPatch, policy: Solver) -> list[str]:
    """Every policy the loop loads is ``policy``; returns the specs it asked for."""
    asked: list[str] = []

    def load(spec: str, device: str | None = None) -> Solver:
        asked.append(spec)
        return policy

    monkeypatch.setattr(loop, "load_player", load)
    return asked


def check_results(path: Path) -> dict[str, Any]:
    results = json.loads(path.read_text())
    for record in results["rounds"]:
        if record["rollouts"]:
            assert 0 <= record["rollouts"]["successes"] <= record["rollouts"]["episodes"]
        if record["eval"]:
            assert 0.0 <= record["eval"]["pass_at_1"] <= 1.0
    return dict(results)


def test_two_rounds_train_evaluate_and_write_results_and_plots(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    asked = play_with(monkeypatch, Solver(out))
    seen: list[tuple[str, int, str]] = []

    def on_event(phase: str, number: int, info: dict[str, Any]) -> None:
        seen.append((phase, number, str(info.get("state"))))
        if info.get("state") == "end":  # the results are valid JSON after every phase
            results = check_results(out / "results.json")
            last = (phase, number) == ("eval", 2)
            assert results["status"] == ("finished" if last else "running")
            assert results["rounds"][-1]["round"] == number

    result = run_loop(settings(out, model_dir), on_event=on_event)
    assert [r.round for r in result.rounds] == [0, 1, 2] and result.status == "finished"
    assert [(p, n) for p, n, s in seen if s == "end"] == [("eval", 0)] + [
        (p, n) for n in (1, 2) for p in ("challenge", "rollouts", "train", "replay", "eval")
    ]
    assert any(p == "step" for p, _, _ in seen)
    results = check_results(out / "results.json")
    assert results["status"] == "finished" and results["settings"]["families"] == [FAMILY]
    start, first, second = results["rounds"]
    assert start["eval"]["episodes"] == 2 * 2 and start["eval"]["pass_at_1"] == 1.0
    for record in (first, second):
        number = record["round"]
        assert (out / f"round-{number}" / "tasks.jsonl").is_file()
        assert (out / f"round-{number}" / "tasks.report.json").is_file()
        assert record["challenge"]["world_seed"] == 100 + number and record["challenge"]["kept"] == 2
        assert record["rollouts"]["successes"] == record["rollouts"]["episodes"] == 2
        training = record["training"]
        assert training["trained"] and training["steps"] == len(training["losses"]) >= 1
        assert training["examples"] >= 1 and training["tokens_per_s"] > 0
        assert record["eval"]["episodes"] == 2 * 2 and "same_model_as_round" not in record["eval"]
        assert set(record["seconds"]) == {"challenge", "rollouts", "train", "replay", "eval"}
        # The trained model replays the very episodes it trained on: same tasks, same seed, own file.
        assert record["replay"]["episodes"] == record["rollouts"]["episodes"]
        assert record["replay"]["trajectories"] == str(out / f"round-{number}" / "replay.jsonl")
        replayed = read_trajectories(out / f"round-{number}" / "replay.jsonl")
        rolled = read_trajectories(out / f"round-{number}" / "trajectories.jsonl")
        assert [(t.task_id, t.seed) for t in replayed] == [(t.task_id, t.seed) for t in rolled]
        assert (out / f"round-{number}" / "model" / "config.json").is_file()
    assert first["played_by"] == f"hf:{model_dir}" and first["model"] == f"hf:{out / 'round-1' / 'model'}"
    assert second["played_by"] == first["model"] and second["model"] == f"hf:{out / 'round-2' / 'model'}"
    assert asked[0] == f"hf:{model_dir}" and first["model"] in asked and second["model"] in asked
    # The challenger writes other tasks each round: its worlds differ from each other and from the banks'.
    tasks = [read_tasks(out / f"round-{n}" / "tasks.jsonl") for n in (1, 2)]
    assert {t.id for t in tasks[0]}.isdisjoint(t.id for t in tasks[1])
    assert all(t.split == "train" for t in tasks[0] + tasks[1])

    plots = [out / "pass_at_1.png", out / "training.png"]
    assert result.plots == plots and results["plots"] == [str(p) for p in plots]
    for plot in plots:
        assert plot.read_bytes().startswith(PNG)
        plot.unlink()
    assert plot_results(out / "results.json") == plots and all(p.read_bytes().startswith(PNG) for p in plots)
    table = result.table().splitlines()
    assert "test pass@1" in table[0] and len(table) == 4
    assert "after training" in table[0]
    assert table[2].split() == ["1", "2", "2/2", "2/2", str(first["training"]["examples"]), "1.000"]


def test_a_round_without_successes_trains_nothing_and_keeps_the_model(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    asked = play_with(monkeypatch, Solver(out, solve=False))
    result = run_loop(settings(out, model_dir, rollouts_per_task=2))
    assert result.status == "finished" and len(result.rounds) == 3
    for record in result.rounds[1:]:
        assert record.training is not None and not record.training["trained"]
        assert "no successful rollouts: 0 of 4" in record.training["reason"]
        assert record.model == record.played_by == f"hf:{model_dir}"
        assert record.eval is not None and record.eval["same_model_as_round"] == 0
        assert not (out / f"round-{record.round}" / "model").exists()
        assert record.replay is None and "replay" not in record.seconds  # nothing trained, nothing to replay
    assert set(asked) == {f"hf:{model_dir}"}  # loaded once, shared by every phase
    assert len(asked) == 1
    results = check_results(out / "results.json")
    assert results["rounds"][2]["eval"]["pass_at_1"] == results["rounds"][0]["eval"]["pass_at_1"] == 0.0
    assert "0/4" in result.table() and (out / "training.png").read_bytes().startswith(PNG)


def test_training_data_that_does_not_fit_is_recorded_not_raised(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    play_with(monkeypatch, Solver(out))
    result = run_loop(settings(out, model_dir, rounds=1, eval_tasks=1, eval_samples=1, max_length=8))
    training = result.rounds[1].training
    assert (
        training is not None and not training["trained"] and "longer than max_length=8" in training["reason"]
    )
    assert result.rounds[1].model == f"hf:{model_dir}" and result.status == "finished"


def test_a_run_that_breaks_off_leaves_valid_results_saying_why(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    play_with(monkeypatch, Solver(out))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(loop, "run_rft", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_loop(settings(out, model_dir, rounds=1, eval_tasks=1, eval_samples=1))
    results = check_results(out / "results.json")
    assert results["status"] == "failed" and results["failed"] == "RuntimeError: disk full"
    assert results["rounds"][1]["rollouts"]["successes"] == 2 and results["rounds"][1]["training"] is None


def test_a_challenger_that_keeps_nothing_stops_the_loop_with_a_reason(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    play_with(monkeypatch, Babbler(out))
    run = settings(
        out, model_dir, challenger="self", families=None, eval_tasks=1, eval_samples=1, action_format=None
    )
    result = run_loop(run)
    assert result.status == "stopped" and len(result.rounds) == 2
    stopped = result.rounds[1]
    assert result.stopped == stopped.stopped and "the challenger kept none of its 2 proposals" in str(
        result.stopped
    )
    assert stopped.challenge is not None and stopped.challenge["kept"] == 0 and stopped.rollouts is None
    results = check_results(out / "results.json")
    assert results["status"] == "stopped" and results["stopped"] == result.stopped
    assert results["rounds"][1]["challenge"]["proposed"] == 2
    report = json.loads((out / "round-1" / "tasks.report.json").read_text())
    assert report["settings"]["policy"] == f"hf:{model_dir}"  # the current model challenged itself
    assert (out / "round-1" / "tasks.jsonl").read_text() == ""
    assert result.table().splitlines()[-1].startswith("stopped: round 1")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rounds": 0}, "rounds must be positive"),
        ({"tasks_per_round": 0}, "tasks_per_round must be positive"),
        ({"eval_samples": 0}, "eval_samples must be positive"),
        ({"challenger": "gpt"}, "challenger must be 'scripted', 'self' or a policy spec"),
        ({"challenger": "self", "families": ("order_status",)}, "families only apply to the scripted"),
        ({"families": ("no_such_family",)}, "unknown task families ['no_such_family']"),
        ({"eval_families": "order_status,nope"}, "eval_families: unknown task families ['nope']"),
        ({"domain": "nowhere"}, "unknown domain 'nowhere'"),
        ({"model": "openai:http://localhost:8000/v1"}, "training needs a transformers model"),
        ({"first_call": True}, "first_call needs guided"),
        ({"demos": -1}, "demos must be >= 0"),
        ({"max_turns": 0}, "max_turns must be positive"),
        ({"epochs": 0}, "epochs=0"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        LoopSettings(**changes)


def test_the_demo_settings_validate_and_stay_small() -> None:
    again = dataclasses.replace(DEMO)  # re-runs the checks
    assert again == DEMO and DEMO.model == "hf:default" and DEMO.device == "cpu"
    assert (DEMO.rounds, DEMO.challenger, DEMO.guided, DEMO.demos) == (1, "scripted", True, 2)
    assert DEMO.action_format == "hermes" and DEMO.replay_train
    # The turn budget fits the family: every worked gift-card episode takes at most max_turns assistant turns.
    env = gym.make(DEMO.env, split="test", action_format="hermes")
    ids = eval_task_ids(DEMO)
    assert len(ids) == DEMO.eval_tasks
    env.reset(options={"task_id": ids[0]})
    shown = env.unwrapped.demonstrations(DEMO.demos)
    env.close()
    starts = [i for i, m in enumerate(shown) if m["role"] == "user"] + [len(shown)]
    turns = [sum(m["role"] == "assistant" for m in shown[a:b]) for a, b in itertools.pairwise(starts)]
    assert len(turns) == DEMO.demos and max(turns) <= DEMO.max_turns
    from toolgym.tasks.scripted import task_families

    kinds = {f.name: f.kind for f in task_families("retail")}
    assert DEMO.families and all(kinds[f] == "read" for f in DEMO.families)
    episodes = DEMO.eval_tasks * DEMO.eval_samples * 2 + DEMO.tasks_per_round * DEMO.rollouts_per_task
    assert episodes <= 24  # a few minutes of CPU generation


def test_self_improve_flags_map_onto_the_settings() -> None:
    flags = [
        *("--families", "order_status,gift_card_balance", "--no-guided", "--temperature", "0.2"),
        "--no-replay-train",
        "--no-keep-demos",
    ]
    args = build_parser().parse_args(["self-improve", *flags, "--rounds", "3", "--out", "x", "--quiet"])
    made = loop_cli.loop_settings(args)
    assert made == LoopSettings(
        families=("order_status", "gift_card_balance"),
        guided=False,
        replay_train=False,
        keep_demos=False,
        sampling=Sampling(temperature=0.2),
        rounds=3,
        out=Path("x"),
    )
    assert loop_cli.loop_settings(build_parser().parse_args(["self-improve"])).progress


def test_self_improve_runs_a_tiny_round_from_the_command_line(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    flags = ["--model", f"hf:{model_dir}", "--rounds", "1", "--families", FAMILY, "--tasks-per-round", "2"]
    flags += ["--rollouts-per-task", "1", "--eval-tasks", "1", "--max-turns", "1", "--max-new-tokens", "4"]
    assert main(["self-improve", *flags, "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "[round 1] challenge: 2 of 2 proposals kept" in printed
        and "[round 1] train: nothing trained" in printed
    )
    assert "test pass@1" in printed and f"results: {out / 'results.json'}" in printed
    assert f"plots: {out / 'pass_at_1.png'}, {out / 'training.png'}" in printed
    assert f"rollouts {out / 'round-1' / 'trajectories.jsonl'}" in printed
    assert (out / "round-1" / "trajectories.jsonl").is_file() and (out / "round-0" / "eval.jsonl").is_file()


def test_self_improve_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["self-improve", "--rounds", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: rounds must be positive") and "Traceback" not in err
    assert main(["self-improve", "--model", "hf:/no/such/model", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "/no/such/model" in err and "Traceback" not in err


def test_demo_runs_the_demo_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as help_exit:
        main(["demo", "--help"])
    assert help_exit.value.code == 0 and "DEMO" in capsys.readouterr().out
    ran: list[LoopSettings] = []

    def fake_run(settings: LoopSettings, **kwargs: Any) -> LoopResult:
        ran.append(settings)
        record = loop.RoundRecord(round=0, model=settings.model, eval={"pass_at_1": 0.5, "trajectories": "e"})
        return LoopResult(settings, [record], settings.out / "results.json", plots=[settings.out / "p.png"])

    monkeypatch.setattr(loop_cli, "run_loop", fake_run)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    assert ran == [dataclasses.replace(DEMO, out=tmp_path / "demo")]
    printed = capsys.readouterr().out
    assert "0.500" in printed and f"results: {tmp_path / 'demo' / 'results.json'}" in printed


@pytest.mark.parametrize(
    ("examples", "steps", "expected"),
    [
        (1, 2, "train: 1 example, 2 steps, loss 0.900 → 0.500"),
        (3, 1, "train: 3 examples, 1 step, loss 0.900 → 0.500"),
    ],
)
def test_the_train_line_counts_in_words(examples: int, steps: int, expected: str) -> None:
    info = {"trained": True, "examples": examples, "steps": steps, "losses": [0.9, 0.5], "tokens_per_s": 97.2}
    assert loop_cli._describe("train", info) == f"{expected}, 97 tokens/s"
