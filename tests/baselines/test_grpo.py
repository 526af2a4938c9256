"""The GRPO baseline: settings from YAML with overrides, the command line, and short runs with a tiny model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from toolgym.baselines.grpo import (
    CONFIG_DIR,
    GRPOSettings,
    SettingsError,
    load_settings,
    main,
    resolve_action_format,
    train_grpo,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "model: tiny\nmax_steps: 3\nlearning_rate: 1e-4\ntools: [think]\n")
    settings = load_settings(
        path, ["max_steps=5", "lora=true", "max_observation_chars=null", "output_dir=out/x"]
    )
    assert settings.model == "tiny" and settings.tools == ["think"] and settings.learning_rate == 1e-4
    assert settings.max_steps == 5 and settings.lora is True and settings.max_observation_chars is None
    assert settings.output_dir == "out/x"
    assert load_settings(None, {"temperature": 1}).temperature == 1.0  # an int where a float goes is fine
    assert load_settings() == GRPOSettings()


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("max_step: 3\n", None, "unknown setting 'max_step' in .*run.yaml; did you mean 'max_steps'"),
        ("", ["banana=1"], "unknown setting 'banana' in overrides"),
        ("max_steps: three\n", None, "setting 'max_steps' .* must be int, got 'three'"),
        ("", ["lora=maybe"], "setting 'lora' in overrides must be bool"),
        ("", ["tools=[1, 2]"], "setting 'tools'"),
        ("- a\n- b\n", None, "must hold a mapping"),
        ("", ["max_steps"], "key=value"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, text: str, overrides: list[str] | None, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(write(tmp_path, text), overrides)


def test_bundled_configs_load() -> None:
    cpu = load_settings(CONFIG_DIR / "smollm2_cpu_grpo.yaml")
    assert cpu.model == "hf:default" and not cpu.use_vllm
    gpu = load_settings("llama31_8b_grpo")  # a bundled config by name
    assert gpu.model.endswith("Llama-3.1-8B-Instruct") and gpu.use_vllm and gpu.bf16
    assert gpu.per_device_train_batch_size % gpu.num_generations == 0


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "model: tiny\n")
    assert main(["--config", str(path), "--set", "max_steps=7", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["max_steps"] == 7
    with pytest.raises(SystemExit):
        main(["--config", str(path), "--set", "nope=1", "--dry-run"])
    assert "unknown setting 'nope'" in capsys.readouterr().err


def test_action_format_and_path() -> None:
    from toolgym.testing import tiny_tokenizer

    tokenizer = tiny_tokenizer()  # TRL's Qwen2.5 template: hermes tool calls
    assert resolve_action_format(GRPOSettings(), tokenizer) == ("hermes", True)
    assert resolve_action_format(GRPOSettings(action_format="code"), tokenizer) == ("code", False)
    assert resolve_action_format(GRPOSettings(action_format="json"), tokenizer) == ("json", False)


def tiny_settings(tmp_path: Path, **changes: Any) -> GRPOSettings:
    values: dict[str, Any] = {
        "model": "tiny",
        "max_tasks": 2,
        "system_prompt": False,
        "tools": ["get_order_details"],
        "max_completion_length": 32,
        "max_steps": 1,
        "output_dir": str(tmp_path / "run"),
    }
    return GRPOSettings(**{**values, **changes})


@pytest.mark.parametrize(("action_format", "path"), [("auto", "tools"), ("code", "rollout")])
def test_train_grpo_with_a_tiny_model(tmp_path: Path, action_format: str, path: str) -> None:
    changes: dict[str, Any] = {"action_format": action_format}
    if action_format == "code":
        changes["max_turn_tokens"] = 16
    result = train_grpo(tiny_settings(tmp_path, **changes))
    assert result.path == path and result.steps == 1 and len(result.rewards) == 1
    assert result.rewards == [0.0]  # a random model solves nothing
    assert result.tokens > 0 and result.generated_tokens > 0 and result.tokens_per_s > 0
    assert result.model_dir is not None and (Path(result.model_dir) / "config.json").is_file()
    summary = json.loads((tmp_path / "run" / "result.json").read_text())
    assert summary["steps"] == 1 and summary["settings"]["model"] == "tiny"


def test_guided_or_demonstrations_take_the_rollout_path(tmp_path: Path) -> None:
    # TRL's tool calling can neither constrain sampling nor show worked episodes.
    result = train_grpo(tiny_settings(tmp_path, guided=True, first_call=True, demos=1, max_turn_tokens=16))
    assert result.path == "rollout" and result.action_format == "hermes" and result.steps == 1


def test_train_grpo_with_lora(tmp_path: Path) -> None:
    result = train_grpo(
        tiny_settings(tmp_path, lora=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"])
    )
    assert result.steps == 1
    assert (Path(str(result.model_dir)) / "adapter_config.json").is_file()


def test_vllm_needs_tool_calling(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use_vllm"):
        train_grpo(tiny_settings(tmp_path, action_format="code", use_vllm=True))


def test_max_seconds_stops_after_the_first_step_past_it(tmp_path: Path) -> None:
    result = train_grpo(tiny_settings(tmp_path, max_steps=5, max_seconds=0.0, save_model=False))
    assert result.steps == 1  # the limit is checked after each step, so the first one always runs
    assert result.model_dir is None


def test_max_seconds_is_checked_like_any_setting() -> None:
    assert load_settings(None, ["max_seconds=90"]).max_seconds == 90
    with pytest.raises(SettingsError, match="max_seconds"):
        load_settings(None, ["max_seconds=soon"])
