"""Supervised fine-tuning on toolgym examples with TRL's ``SFTTrainer``: the loss on the policy's own tokens only.

:func:`train_sft` trains on :class:`~toolgym.baselines.sft_data.SFTData` (token ids with an assistant mask) and
saves a model that ``load_policy("hf:<out>/model")`` plays; rejection fine-tuning (:mod:`toolgym.baselines.rft`)
and distillation both train through it.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.policies import PolicyError
from toolgym.policies.hf import DEFAULT_MODEL, prepare_embedded

from .sft_data import SFTData


class NoTrainingDataError(ValueError):
    """Nothing to fine-tune on: no kept trajectory, or none that fits the length limit."""


@dataclass
class TrainSettings:
    """How to fine-tune.

    Attributes:
        epochs: Passes over the examples.
        learning_rate: AdamW's peak learning rate.
        batch_size: Examples per device per forward pass. One by default: agent conversations run to thousands of
            tokens and vary in length, and on a CPU a padded batch of them is several times slower than the same
            examples one by one (the attention mask rules out the fast causal kernel). Raise it on GPUs.
        grad_accum: Forward passes accumulated into one optimiser step.
        max_steps: Stop after this many optimiser steps (overrides ``epochs``).
        scheduler: The learning-rate schedule (a ``transformers`` scheduler name).
        warmup: Warm-up steps, or a fraction of all steps when below 1.
        lora: Train a LoRA adapter (merged into the saved model) instead of every weight.
        lora_rank: The adapter's rank.
        lora_alpha: The adapter's scaling numerator.
        lora_dropout: Dropout on the adapter's input.
        seed: Seeds shuffling and the adapter's initialisation.
        device: ``"cpu"``, ``"cuda"``; the GPU when there is one if ``None``.
        bf16: Mixed precision in bfloat16; on by default only on GPUs that support it.
        progress: Show the trainer's progress bars.
    """

    epochs: float = 2.0
    learning_rate: float = 1e-5
    batch_size: int = 1
    grad_accum: int = 8
    max_steps: int | None = None
    scheduler: str = "linear"
    warmup: float = 0.0
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    seed: int = 0
    device: str | None = None
    bf16: bool | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs > 0,
            "learning_rate": self.learning_rate > 0,
            "batch_size": self.batch_size >= 1,
            "grad_accum": self.grad_accum >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
            "lora_rank": self.lora_rank >= 1,
            "warmup": self.warmup >= 0,
            "lora_dropout": 0 <= self.lora_dropout < 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"invalid training settings: {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}"
            )


@dataclass
class TrainResult:
    """What a fine-tuning run did.

    Attributes:
        model_path: The saved model and tokenizer.
        losses: The training loss at each optimiser step.
        step_s: Seconds of each optimiser step.
        tokens: Tokens processed (padding excluded), over all steps.
        train_s: Seconds inside ``trainer.train()``.
        examples: Training examples.
    """

    model_path: Path
    losses: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    tokens: int = 0
    train_s: float = 0.0
    examples: int = 0

    @property
    def steps(self) -> int:
        """Optimiser steps taken."""
        return len(self.step_s)

    @property
    def tokens_per_s(self) -> float:
        """Training throughput over the steps themselves."""
        spent = sum(self.step_s)
        return self.tokens / spent if spent > 0 else 0.0

    @property
    def median_step_s(self) -> float:
        """The median step time."""
        return statistics.median(self.step_s) if self.step_s else 0.0


def training_target(spec: str) -> str:
    """The model a training spec names, checked: only local ``hf:`` models can be trained.

    Args:
        spec: ``"hf:default"`` or ``"hf:<folder or hub id>"``.

    Returns:
        What follows ``hf:``.

    Raises:
        ValueError: For another backend or an empty target.
    """
    backend, sep, target = spec.partition(":")
    if backend != "hf" or not sep or not target:
        raise ValueError(
            f"training needs a transformers model: 'hf:default' or 'hf:<folder or hub id>', got {spec!r} "
            "(a served model, 'openai:…', can only be the teacher)"
        )
    return target


def model_source(spec: str) -> str:
    """The folder or hub id a training model is loaded from.

    Args:
        spec: ``"hf:default"`` (the embedded SmolLM2, converted once) or ``"hf:<folder or hub id>"``.

    Returns:
        The source for ``from_pretrained``.

    Raises:
        ValueError: For a spec that is not a local ``transformers`` model.
    """
    target = training_target(spec)
    return str(prepare_embedded()) if target == DEFAULT_MODEL else target


def load_trainable(spec: str) -> tuple[Any, Any]:
    """A model to fine-tune, in float32 (mixed precision, where used, keeps float32 master weights), and its tokenizer.

    Args:
        spec: See :func:`model_source`.

    Returns:
        ``(model, tokenizer)``; the tokenizer is the one the model's policy prompts with.

    Raises:
        PolicyError: If either cannot be loaded.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = model_source(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        return AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32), tokenizer
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot load model {spec!r} for training: {exc}") from exc


def lora_config(rank: int, alpha: int, dropout: float, target_modules: str | list[str] = "all-linear") -> Any:
    """A LoRA adapter configuration for a causal LM (both baselines train through it).

    Args:
        rank: The adapter's rank.
        alpha: Its scaling numerator (the update is scaled by ``alpha / rank``).
        dropout: Dropout on the adapter's input.
        target_modules: The layers to adapt; ``"all-linear"`` is every linear layer but the output head.

    Returns:
        A ``peft.LoraConfig``.
    """
    from peft import LoraConfig

    return LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type="CAUSAL_LM"
    )


def _meter(result: TrainResult, on_step: Callable[[dict[str, float]], None] | None) -> Any:
    from transformers import TrainerCallback

    class Meter(TrainerCallback):
        """Times optimiser steps and collects the loss and token count the trainer logs after each."""

        began = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.began = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            result.step_s.append(time.perf_counter() - self.began)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any
        ) -> None:
            if not logs or "loss" not in logs:
                return
            result.losses.append(float(logs["loss"]))
            result.tokens = int(logs.get("num_tokens", result.tokens))
            if on_step is not None:
                step_s = result.step_s[-1] if result.step_s else 0.0
                on_step({"step": float(state.global_step), "loss": float(logs["loss"]), "step_s": step_s})

    return Meter()


def train_sft(
    model: Any,
    tokenizer: Any,
    data: SFTData,
    out: str | Path,
    settings: TrainSettings | None = None,
    *,
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Fine-tune a causal LM on examples with TRL's ``SFTTrainer``; save it to ``out/model``.

    The loss covers only the tokens whose ``assistant_masks`` bit is 1: ``SFTTrainer`` turns the mask into labels of
    -100 elsewhere. The examples already fit the length limit, so the trainer is told not to truncate.

    Args:
        model: The model (e.g. from :func:`load_trainable`); it is trained in place.
        tokenizer: Its tokenizer; saved with it.
        data: The examples.
        out: The run folder; the model goes to ``out/model`` (with LoRA, the adapter also to ``out/adapter``).
        settings: How to train.
        on_step: Called after each optimiser step with its number, loss and seconds.

    Returns:
        Losses, timings and the model's path.

    Raises:
        NoTrainingDataError: If there are no examples.
    """
    import datasets
    import torch
    from transformers import PrinterCallback
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    settings = settings or TrainSettings()
    if not data.examples:
        raise NoTrainingDataError("no training examples")
    folder = Path(out)
    use_cpu = settings.device == "cpu" or (settings.device is None and not torch.cuda.is_available())
    bf16 = settings.bf16 if settings.bf16 is not None else (not use_cpu and torch.cuda.is_bf16_supported())
    config = SFTConfig(
        output_dir=str(folder / "trainer"),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.scheduler,
        warmup_steps=settings.warmup,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        bf16=bf16,
        fp16=False,
        # TRL turns checkpointing on by default; for small models it only slows steps down.
        activation_checkpointing=False,
        use_cpu=use_cpu,
        seed=settings.seed,
        max_length=None,
        disable_tqdm=not settings.progress,
    )
    peft_config = (
        lora_config(settings.lora_rank, settings.lora_alpha, settings.lora_dropout) if settings.lora else None
    )
    result = TrainResult(model_path=folder / "model", examples=len(data.examples))
    bars_were_on = not datasets.are_progress_bars_disabled()
    if not settings.progress:
        datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            # peft 0.21 still asks the model the pre-5.x checkpointing question; nothing here can act on it.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            trainer = SFTTrainer(
                model=model,
                args=config,
                train_dataset=data.to_dataset(),
                processing_class=tokenizer,
                peft_config=peft_config,
                callbacks=[_meter(result, on_step)],
            )
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; on_step reports instead
    began = time.perf_counter()
    trainer.train()
    result.train_s = time.perf_counter() - began
    trained = trainer.accelerator.unwrap_model(trainer.model)
    if settings.lora:
        trained.save_pretrained(folder / "adapter")
        trained = trained.merge_and_unload()  # a plain model: loadable without peft or the base weights
    trained.save_pretrained(result.model_path)
    tokenizer.save_pretrained(result.model_path)
    return result
