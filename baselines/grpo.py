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
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolgym.baselines.trl import TEMPLATE_FORMATS

from .grpo_settings import (
    CONFIG_DIR,
    SHORTCUTS,
    GRPOSettings,
    SettingsError,
    add_arguments,
    load_settings,
    overrides_from_args,
)
from .sft import lora_config

__all__ = [
    "CONFIG_DIR",
    "SHORTCUTS",
    "GRPOResult",
    "GRPOSettings",
    "SettingsError",
    "add_arguments",
    "load_model_and_tokenizer",
    "load_settings",
    "main",
    "overrides_from_args",
    "resolve_action_format",
    "train_grpo",
]


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


def _time_limit(seconds: float) -> Any:
    """A callback that ends training after the first optimiser step past ``seconds`` of training."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):  # type: ignore[misc,unused-ignore]
        began = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.began = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if time.perf_counter() - self.began >= seconds:
                control.should_training_stop = True

    return TimeLimit()


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
    # TRL's tool calling samples freely and shows no demonstrations: those options need the rollout function.
    uses_tools = uses_tools and not settings.guided and settings.demos == 0
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
        families=settings.families,
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
            guided=settings.guided,
            first_call=settings.first_call,
            demos=settings.demos,
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
        peft_config = lora_config(
            settings.lora_r, settings.lora_alpha, settings.lora_dropout, settings.lora_target_modules
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
    if settings.max_seconds is not None:
        trainer.add_callback(_time_limit(settings.max_seconds))
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


# The shortcut flags: each becomes a ``--set`` override, applied before the user's own, so that one parser
# (load_settings') checks every value and a later --set wins. Value types are the settings' own.
def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m toolgym.baselines.grpo --config FILE [--max-steps N …] [--set key=value …]``.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m toolgym.baselines.grpo", description="GRPO on a toolgym env."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, overrides_from_args(args))
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
