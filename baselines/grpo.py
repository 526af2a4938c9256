"""The GRPO baseline: train a policy on a toolgym env with TRL's ``GRPOTrainer``, on a CPU or on GPUs.

::

    python -m toolgym.baselines.grpo --config baselines/configs/smollm2_cpu_grpo.yaml --set max_steps=1
    accelerate launch -m toolgym.baselines.grpo --config baselines/configs/llama31_8b_grpo.yaml

When the action format is the one the model's chat template writes tool calls in (``hermes`` for the embedded
SmolLM2 with its Qwen2.5 template, ``llama3`` for Llama 3.1), TRL runs the tool calls through
:func:`~toolgym.baselines.trl.environment_factory`; any other format (``code``, ``json``) is played by
:func:`~toolgym.baselines.trl_rollout.make_rollout_func`. Either way the reward is the task verifier's, through
:func:`~toolgym.baselines.trl.toolgym_reward`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import sys
import time
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.baselines.trl import TEMPLATE_FORMATS

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
    learning_rate: float = 1e-5
    max_steps: int = 2
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


@dataclass
class GRPOResult:
    """What a run did and what it cost.

    Attributes:
        path: ``"tools"`` (TRL's tool calling) or ``"rollout"`` (the rollout function).
        action_format: The action format trained on.
        steps: Optimiser steps taken.
        rewards: Mean reward of each logged step.
        train_s: Seconds in ``trainer.train()``.
        tokens: Prompt and completion tokens processed.
        generated_tokens: Completion tokens the model wrote (tool results excluded).
        model_dir: Where the final model was saved, if it was.
        log_history: The trainer's log.
    """

    path: str
    action_format: str
    steps: int
    rewards: list[float]
    train_s: float
    tokens: int
    generated_tokens: int
    model_dir: str | None
    log_history: list[dict[str, Any]]

    @property
    def step_s(self) -> float:
        """Seconds per optimiser step."""
        return self.train_s / self.steps if self.steps else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Tokens processed per second of training."""
        return self.tokens / self.train_s if self.train_s > 0 else 0.0

    @property
    def generated_tokens_per_s(self) -> float:
        """Completion tokens written per second of training."""
        return self.generated_tokens / self.train_s if self.train_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The result without the log, with the derived rates.

        Returns:
            JSON data.
        """
        data = {k: v for k, v in dataclasses.asdict(self).items() if k != "log_history"}
        data.update(
            step_s=self.step_s,
            tokens_per_s=self.tokens_per_s,
            generated_tokens_per_s=self.generated_tokens_per_s,
        )
        return data


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
        SettingsError: For an unknown key (named in the message), a value of the wrong type, or a file that is not
            a YAML mapping.
        FileNotFoundError: If the file does not exist.
    """
    import yaml  # type: ignore[import-untyped,unused-ignore]

    values: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file() and (CONFIG_DIR / f"{file.stem}.yaml").is_file() and file.parent == Path():
            file = CONFIG_DIR / f"{file.stem}.yaml"
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
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
            values.update(_check({key.strip(): yaml.safe_load(text)}, "overrides"))
    return GRPOSettings(**values)


def load_model_and_tokenizer(spec: str, dtype: str | None = None) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer for training, the way ``TransformersPolicy`` finds them.

    Args:
        spec: ``"hf:default"`` (the embedded model, converted once and cached by
            :func:`toolgym.policies.hf.prepare_embedded`), ``"hf:<folder or hub id>"``, or ``"tiny"``.
        dtype: Torch dtype name (default: ``bfloat16`` on CUDA, ``float32`` on the CPU, where training in half
            precision loses too much).

    Returns:
        ``(model, tokenizer)``, the tokenizer padding on the left.

    Raises:
        ValueError: For a spec of another form.
    """
    import torch

    if spec == "tiny":
        from toolgym.testing import tiny_llama

        return tiny_llama()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .sft import model_source

    source = model_source(spec)
    torch_dtype = getattr(torch, dtype or ("bfloat16" if torch.cuda.is_available() else "float32"))
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def resolve_action_format(settings: GRPOSettings, tokenizer: Any) -> tuple[str, bool]:
    """The action format to train on, and whether TRL's tool calling can run it.

    Args:
        settings: The run's settings.
        tokenizer: The model's tokenizer (its chat template decides ``"auto"``).

    Returns:
        ``(format, uses_tool_calling)``.
    """
    from toolgym.policies.hf import template_action_format

    native = template_action_format(getattr(tokenizer, "chat_template", None))
    chosen = native if settings.action_format == "auto" else settings.action_format
    return chosen, chosen == native and chosen in TEMPLATE_FORMATS


def train_grpo(settings: GRPOSettings) -> GRPOResult:
    """Train with GRPO on the settings' env and save the final model.

    Args:
        settings: The run's settings.

    Returns:
        Rewards per step, time and throughput.

    Raises:
        ValueError: For vLLM with an action format that needs the rollout function.
    """
    import torch
    from toolgym.baselines.trl import environment_factory, task_dataset, toolgym_reward
    from toolgym.baselines.trl_rollout import make_rollout_func
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.grpo_trainer import GRPOTrainer

    cuda = torch.cuda.is_available()
    model, tokenizer = load_model_and_tokenizer(settings.model, settings.dtype)
    action_format, uses_tools = resolve_action_format(settings, tokenizer)
    if settings.use_vllm and not uses_tools:
        raise ValueError(
            f"use_vllm needs TRL's tool calling; the {action_format!r} format runs through a rollout_func"
        )
    env_kwargs: dict[str, Any] = {
        "action_format": action_format,
        "max_observation_chars": settings.max_observation_chars,
    }
    dataset = task_dataset(
        settings.env_id,
        settings.split,
        samples=settings.samples,
        seed=settings.seed,
        system_prompt=settings.system_prompt,
        max_tasks=settings.max_tasks,
        **env_kwargs,
    )
    hooks: dict[str, Any]
    if uses_tools:
        factory = environment_factory(
            settings.env_id, tools=settings.tools, max_turns=settings.max_turns, **env_kwargs
        )
        hooks = {"environment_factory": factory}
    else:
        rollout = make_rollout_func(
            settings.env_id,
            max_turns=settings.max_turns,
            max_turn_tokens=settings.max_turn_tokens,
            **env_kwargs,
        )
        hooks = {"rollout_func": rollout}
    config = GRPOConfig(
        output_dir=settings.output_dir,
        use_cpu=not cuda,
        bf16=cuda if settings.bf16 is None else settings.bf16,
        activation_checkpointing=cuda
        if settings.activation_checkpointing is None
        else settings.activation_checkpointing,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        max_tool_calling_iterations=settings.max_tool_calling_iterations if uses_tools else None,
        learning_rate=settings.learning_rate,
        max_steps=settings.max_steps,
        temperature=settings.temperature,
        beta=settings.beta,
        loss_type=settings.loss_type,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        report_to="none",
        save_strategy="no",
        use_vllm=settings.use_vllm,
        vllm_mode=settings.vllm_mode,
        vllm_gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
        **settings.trainer_args,
    )
    peft_config = None
    if settings.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=settings.lora_target_modules,
            task_type="CAUSAL_LM",
        )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[toolgym_reward],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        **hooks,
    )
    began = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - began
    history = [dict(h) for h in trainer.state.log_history]
    per_step = [h for h in history if "reward" in h]
    batch = (
        settings.per_device_train_batch_size
        * settings.gradient_accumulation_steps
        * trainer.accelerator.num_processes
    )
    model_dir = None
    if settings.save_model:
        model_dir = str(Path(settings.output_dir) / "model")
        trainer.save_model(model_dir)
        tokenizer.save_pretrained(model_dir)
    result = GRPOResult(
        path="tools" if uses_tools else "rollout",
        action_format=action_format,
        steps=int(trainer.state.global_step),
        rewards=[float(h["reward"]) for h in per_step],
        train_s=train_s,
        tokens=int(trainer.state.num_input_tokens_seen),
        generated_tokens=int(sum(h.get("completions/mean_length", 0.0) * batch for h in per_step)),
        model_dir=model_dir,
        log_history=history,
    )
    if trainer.accelerator.is_main_process:
        out = Path(settings.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        summary = {**result.summary(), "settings": dataclasses.asdict(settings)}
        (out / "result.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m toolgym.baselines.grpo --config FILE [--set key=value …]``.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m toolgym.baselines.grpo", description="GRPO on a toolgym env."
    )
    parser.add_argument("--config", help="YAML file of settings, or the name of a bundled config")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a setting"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the settings and stop")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, args.overrides)
    except (SettingsError, FileNotFoundError) as exc:
        parser.error(str(exc))
    if args.dry_run:
        print(json.dumps(dataclasses.asdict(settings), indent=2))
        return 0
    result = train_grpo(settings)
    print(json.dumps(result.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
