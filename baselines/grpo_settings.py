"""GRPO run settings: the dataclass, YAML configs with typed ``key=value`` overrides, and the shared command-line flags.

A config file names settings by their field names; every value, from a file or a ``--set``, is checked against the
field's type before a run starts, so a typo fails in a second instead of after the model has loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).parent / "configs"


class SettingsError(ValueError):
    """A configuration names an unknown setting or gives one a value of the wrong type."""


@dataclass
class GRPOSettings:
    """Everything a GRPO run depends on; the defaults fit a CPU. ``None`` means "decide from the hardware"."""

    # hf:default (the embedded SmolLM2-135M-Instruct), hf:<folder or hub id>, or tiny (a random model, for tests)
    model: str = "hf:default"
    env_id: str = "toolgym/Retail-CaT-v1"
    split: str = "train"
    action_format: str = "auto"  # the chat template's tool-call format, or any toolgym format (code, json)
    tools: list[str] | None = None  # show only these tools (tool-calling path)
    max_tasks: int | None = None  # train on the split's first tasks only
    families: list[str] | None = None  # train only on tasks of these families (provenance "family")
    samples: int = 1  # dataset rows per task
    system_prompt: bool = True  # the env's system prompt (domain policy, how to act)
    max_turns: int = 8  # agent turns per episode
    max_observation_chars: int | None = 1500  # cut longer tool results, which fill the budget otherwise
    lora: bool = False  # train a LoRA adapter instead of all weights
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str | list[str] = "all-linear"
    num_generations: int = 2  # the GRPO group: completions per prompt
    per_device_train_batch_size: int = 2  # completions per device and micro-batch
    gradient_accumulation_steps: int = 1
    max_completion_length: int = 512  # tokens of a whole episode after the prompt, tool results included
    max_tool_calling_iterations: int = 6  # tool turns per episode (tool-calling path)
    max_turn_tokens: int | None = None  # tokens of one model turn (rollout path; default: the whole budget)
    guided: bool = False  # sample every turn inside the action grammar (rollout path; hermes, json, llama3)
    first_call: bool = False  # with guided: the first turn must be a tool call
    demos: int = 0  # worked episodes of other train tasks in the prompt (rollout path)
    learning_rate: float = 1e-5
    max_steps: int = 2
    max_seconds: float | None = None  # stop after the step that passes this much training time
    temperature: float = 1.0
    beta: float = 0.0  # KL coefficient; 0 loads no reference model
    loss_type: str = "dapo"
    seed: int = 0
    output_dir: str = "runs/grpo"  # the final model goes to <output_dir>/model
    dtype: str | None = None  # weights: bfloat16 on CUDA, float32 on the CPU
    bf16: bool | None = None  # mixed precision: on CUDA only
    activation_checkpointing: bool | None = None  # on CUDA only
    use_vllm: bool = False  # generate with vLLM (GPUs, tool-calling path)
    vllm_mode: str = "colocate"  # colocate (in the training process) or server
    vllm_gpu_memory_utilization: float = 0.3
    logging_steps: int = 1
    save_model: bool = True
    trainer_args: dict[str, Any] = field(default_factory=dict)  # more GRPOConfig fields, passed as they are


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, dict):
        if not isinstance(value, origin):
            return False
        if origin is list:
            return all(_type_ok(v, typing.get_args(hint)[0]) for v in value)
        return True
    return isinstance(value, hint)


def _hint_text(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    hints = typing.get_type_hints(GRPOSettings)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), list(hints), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(hints)}"
            raise SettingsError(f"unknown setting {key!r} in {where}{hint}")
        if isinstance(value, str) and _type_ok(1.0, hints[key]) and not _type_ok(value, hints[key]):
            # YAML 1.1 reads 1e-4 (no dot) as text.
            with contextlib.suppress(ValueError):
                value = float(value)
        if not _type_ok(value, hints[key]):
            raise SettingsError(f"setting {key!r} in {where} must be {_hint_text(hints[key])}, got {value!r}")
        checked[key] = float(value) if hints[key] is float else value
    return checked


def load_settings(
    path: str | Path | None = None, overrides: Mapping[str, Any] | Sequence[str] | None = None
) -> GRPOSettings:
    """Read settings from a YAML file, then apply overrides.

    Args:
        path: A YAML mapping of :class:`GRPOSettings` fields, or the name of a bundled config (``"smollm2_cpu_grpo"``);
            ``None`` starts from the defaults.
        overrides: A mapping, or ``"key=value"`` strings whose values are read as YAML (``max_steps=3``,
            ``lora=true``, ``tools=[a, b]``).

    Returns:
        The settings.

    Raises:
        SettingsError: For an unknown key (named in the message), a value of the wrong type, or a file or value
            that is not valid YAML or a file that is not a YAML mapping.
        FileNotFoundError: If the file does not exist.
    """
    import yaml  # type: ignore[import-untyped,unused-ignore]

    values: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file() and (CONFIG_DIR / f"{file.stem}.yaml").is_file() and file.parent == Path():
            file = CONFIG_DIR / f"{file.stem}.yaml"
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"{file} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise SettingsError(f"{file} must hold a mapping of settings, got {type(data).__name__}")
        values.update(_check(data, str(file)))
    if isinstance(overrides, Mapping):
        values.update(_check(overrides, "overrides"))
    elif overrides is not None:
        for item in overrides:
            key, sep, text = item.partition("=")
            if not sep:
                raise SettingsError(f"an override looks like key=value, got {item!r}")
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise SettingsError(f"override {item!r} is not valid YAML: {exc}") from exc
            values.update(_check({key.strip(): value}, "overrides"))
    return GRPOSettings(**values)


SHORTCUTS: dict[str, tuple[str, type, str]] = {
    "--env": ("env_id", str, "environment id"),
    "--model": ("model", str, "hf:default, hf:<folder or hub id>, or tiny"),
    "--out": ("output_dir", str, "run folder; the model goes to <out>/model"),
    "--split": ("split", str, "task split"),
    "--max-steps": ("max_steps", int, "optimiser steps"),
    "--max-tasks": ("max_tasks", int, "train on the split's first tasks only"),
    "--num-generations": ("num_generations", int, "the GRPO group: completions per prompt"),
    "--learning-rate": ("learning_rate", float, "peak learning rate"),
    "--seed": ("seed", int, "seeds the dataset and training"),
    "--action-format": ("action_format", str, "auto (the chat template's), or any toolgym format"),
    "--demos": ("demos", int, "worked episodes of other train tasks shown before each task (rollout path)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the GRPO command line to a parser: ``--config``, the shortcut flags, ``--set`` and ``--dry-run``.

    Args:
        parser: The parser (``python -m toolgym.baselines.grpo``'s, or ``toolgym train grpo``'s).
    """
    parser.add_argument("--config", help="YAML file of settings, or the name of a bundled config")
    for flag, (setting, kind, text) in SHORTCUTS.items():
        parser.add_argument(flag, dest=setting, type=kind, help=f"{text} (sets {setting})")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (YAML value); after the flags above, so it wins",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the settings and stop")


def overrides_from_args(args: argparse.Namespace) -> list[str]:
    """The ``key=value`` overrides a parsed command line asks for: the shortcut flags given, then ``--set``.

    Args:
        args: Arguments parsed by a parser set up with :func:`add_arguments`.

    Returns:
        Overrides for :func:`load_settings`.
    """
    # JSON is YAML: quoting keeps a string such as "on" or "2024" a string when load_settings reads it back.
    given = [
        f"{setting}={json.dumps(getattr(args, setting))}"
        for setting, _, _ in SHORTCUTS.values()
        if getattr(args, setting, None) is not None
    ]
    return [*given, *args.overrides]
