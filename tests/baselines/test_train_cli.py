"""``toolgym train rft`` and ``toolgym train grpo``: flags onto settings, clean errors, short real runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from toolgym.baselines import grpo
from toolgym.baselines.cli import rft_settings
from toolgym.baselines.rft import RFTSettings

from toolgym.cli import build_parser, main
from toolgym.policies import Sampling
from toolgym.trajectories import Step, Trajectory, write_trajectories

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

ENV = "toolgym/Retail-CaT-v1"
CODE = "```python\nprint(get_order_details(order_id='#W1'))\n```"


def trajectory(task: str, reward: float) -> Trajectory:
    """A short code-action episode: no tool schemas in the prompt, so training on it is quick."""
    actions = (CODE, "The order is pending.")
    observations = ('{"status": "pending"}', "Thanks.")
    messages = [
        {"role": "system", "content": "You are a store agent."},
        {"role": "user", "content": f"What is the status of order #W1? ({task})"},
    ]
    for action, observation in zip(actions, observations, strict=True):
        messages += [{"role": "assistant", "content": action}, {"role": "user", "content": observation}]
    return Trajectory(
        env_id=ENV,
        task_id=task,
        sample=0,
        seed=0,
        messages=messages,
        steps=[Step(a, o) for a, o in zip(actions, observations, strict=True)],
        reward=reward,
        action_format="code",
        policy={"backend": "scripted"},
    )


def episodes(tmp_path: Path, *rewards: float) -> Path:
    file = tmp_path / "episodes.jsonl"
    write_trajectories(file, [trajectory(f"t{i}", r) for i, r in enumerate(rewards)])
    return file


def error_line(stderr: str) -> str:
    """The error message: loading a model may draw transformers' progress bars on stderr before it."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def rft(model_dir: Path, *flags: str) -> int:
    return main(["train", "rft", "--model", f"hf:{model_dir}", "--device", "cpu", "--quiet", *flags])


def test_rft_trains_on_a_trajectory_file_and_says_how_to_evaluate(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    flags = ["--trajectories", str(episodes(tmp_path, 1.0, 1.0, 0.0)), "--epochs", "1", "--grad-accum", "1"]
    assert rft(model_dir, *flags, "--learning-rate", "1e-3", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert (out / "model" / "config.json").is_file() and (out / "rft.json").is_file()
    report = json.loads((out / "rft.json").read_text())
    assert (report["rollouts"], report["successes"], report["examples"]) == (3, 2, 2)
    assert "3 rollouts, 2 successes → 2 examples (0 too long)" in printed
    assert "2 steps · loss " in printed and "tokens/s" in printed and "s/step" in printed
    assert f"model: {out / 'model'}" in printed
    assert f"evaluate: toolgym eval --env {ENV} --policy hf:{out / 'model'} --action-format code" in printed


def test_rft_flags_map_onto_the_settings_and_the_rest_keep_their_defaults() -> None:
    flags = ["--rollouts-per-task", "3", "--top-p", "0.5", "--guided", "--first-call", "--no-keep-demos"]
    flags += ["--lora", "--out", "x", "--kw", "max_observation_chars=600", "--kw", "user=direct"]
    args = build_parser().parse_args(["train", "rft", *flags])
    settings = rft_settings(args)
    expected = RFTSettings(
        rollouts_per_task=3,
        sampling=Sampling(top_p=0.5),
        guided=True,
        first_call=True,
        keep_demos=False,
        lora=True,
        out=Path("x"),
        env_kwargs={"max_observation_chars": 600, "user": "direct"},
        progress=True,  # on by default on the command line
    )
    assert settings == expected
    plain = rft_settings(build_parser().parse_args(["train", "rft", "--quiet"]))
    assert plain == RFTSettings()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rollouts-per-task", "0"], "rollouts_per_task must be positive"),
        (["--epochs", "0"], "epochs=0"),
        (["--top-p", "2"], "top_p must be in"),
        (["--first-call"], "first_call needs guided"),
        (["--model", "openai:http://localhost:8000/v1"], "training needs a transformers model"),
        (["--model", "hf:/no/such/model", "--trajectories", "TRAJECTORIES"], "cannot load model"),
        (["--teacher", "nope:x"], "unknown policy backend"),
        (["--env", "toolgym/Nope-v0"], "unknown environment 'toolgym/Nope-v0'"),
        (["--kw", "no-equals-sign"], "--kw expects KEY=VALUE"),
        (["--trajectories", "missing.jsonl"], "missing.jsonl"),
    ],
)
def test_rft_refuses_bad_arguments_with_a_message(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    flags = [str(episodes(tmp_path, 1.0)) if f == "TRAJECTORIES" else f for f in flags]
    assert rft(model_dir, "--out", str(tmp_path / "run"), *flags) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in error_line(err)


def test_rft_without_successes_says_what_to_try(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = episodes(tmp_path, 0.0, 0.0)
    assert rft(model_dir, "--trajectories", str(file), "--out", str(tmp_path / "run")) == 2
    err = error_line(capsys.readouterr().err)
    assert err.startswith("error: no successful trajectories to train on: 0 of 2 rollouts")
    assert "rollouts per task" in err and "guided" in err


def test_rft_flags_of_the_wrong_type_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["train", "rft", "--rollouts-per-task", "many"])
    assert exited.value.code == 2 and "invalid int value: 'many'" in capsys.readouterr().err


def test_rft_rolls_out_a_tiny_model_and_trains(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    flags = ["--max-tasks", "1", "--rollouts-per-task", "2", "--max-turns", "2", "--keep", "all"]
    flags += ["--temperature", "1", "--max-new-tokens", "8", "--max-length", "16384", "--epochs", "1"]
    assert rft(model_dir, *flags, "--grad-accum", "1", "--out", str(out)) == 0
    assert "2 rollouts, 0 successes" in capsys.readouterr().out
    assert len((out / "trajectories.jsonl").read_text().splitlines()) == 2
    assert (out / "model" / "config.json").is_file()


def dry_run(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, object]:
    assert main(["train", "grpo", *flags, "--dry-run"]) == 0
    settings: dict[str, object] = json.loads(capsys.readouterr().out)
    return settings


def test_grpo_flags_become_overrides_and_a_later_set_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model: tiny\nmax_steps: 9\nseed: 3\n", encoding="utf-8")
    flags = ["--config", str(config), "--env", "toolgym/Retail-CaT-v0", "--out", "runs/x", "--max-steps", "3"]
    flags += [
        "--learning-rate",
        "1e-4",
        "--max-tasks",
        "2",
        "--num-generations",
        "4",
        "--action-format",
        "code",
    ]
    settings = dry_run(capsys, *flags, "--set", "max_steps=5", "--set", "lora=true")
    assert settings["model"] == "tiny" and settings["seed"] == 3  # from the file
    assert settings["env_id"] == "toolgym/Retail-CaT-v0" and settings["output_dir"] == "runs/x"
    assert (
        settings["learning_rate"] == 1e-4 and settings["max_tasks"] == 2 and settings["num_generations"] == 4
    )
    assert settings["action_format"] == "code" and settings["lora"] is True
    assert settings["max_steps"] == 5  # --set comes after the flags
    assert dry_run(capsys, "--model", "on", "--split", "2024")["model"] == "on"  # strings stay strings
    assert dry_run(capsys, "--config", "smollm2_cpu_grpo")["output_dir"] == "runs/grpo-smollm2-cpu"


def test_the_module_command_line_takes_the_same_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert grpo.main(["--max-steps", "4", "--set", "seed=2", "--dry-run"]) == 0
    settings = json.loads(capsys.readouterr().out)
    assert (settings["max_steps"], settings["seed"]) == (4, 2)
    with pytest.raises(SystemExit) as exited:  # its errors stay argparse's usage errors
        grpo.main(["--max-steps", "4", "--set", "nope=1", "--dry-run"])
    assert exited.value.code == 2 and "unknown setting 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "nope=1"], "unknown setting 'nope' in overrides"),
        (["--set", "max_steps=three"], "setting 'max_steps' in overrides must be int"),
        (["--config", "no/such/config.yaml"], "no/such/config.yaml"),
        (["--config", "BROKEN"], "run.yaml is not valid YAML"),
        (["--set", "tools=[a"], "override 'tools=[a' is not valid YAML"),
        (["--env", "toolgym/Nope-v0", "--model", "tiny"], "unknown environment 'toolgym/Nope-v0'"),
    ],
)
def test_grpo_refuses_bad_settings_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    broken = tmp_path / "run.yaml"
    broken.write_text("model: [unclosed\n", encoding="utf-8")
    flags = [str(broken) if f == "BROKEN" else f for f in flags]
    assert main(["train", "grpo", *flags]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in error_line(err)


def test_grpo_trains_a_tiny_model_for_a_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grpo"
    flags = ["--model", "tiny", "--max-tasks", "2", "--max-steps", "1", "--out", str(out)]
    flags += ["--set", "system_prompt=false", "--set", "tools=[get_order_details]"]
    assert main(["train", "grpo", *flags, "--set", "max_completion_length=32"]) == 0
    printed = capsys.readouterr().out
    assert "1 steps (tools path, hermes format) · rewards per step: 0.00" in printed
    assert "tokens/s" in printed and f"model: {out / 'model'}" in printed
    assert (out / "model" / "config.json").is_file() and (out / "result.json").is_file()


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("rft", ["--rollouts-per-task", "--trajectories", "--no-keep-demos", "--kw", "--quiet", "--top-p"]),
        ("grpo", ["--config", "--set", "--dry-run", "--env", "--out", "--max-steps", "--num-generations"]),
    ],
)
def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str], command: str, flags: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["train", command, "--help"])
    printed = capsys.readouterr().out
    assert exited.value.code == 0 and all(flag in printed for flag in flags)
