"""Rejection fine-tuning (RFT): roll the policy out on train tasks, keep the successes, fine-tune on them.

With a 0/1 reward, one step of REINFORCE is maximum likelihood on the successful trajectories — the paper's main
training algorithm. One round is :func:`run_rft`: :func:`toolgym.rollout.rollout` writes the trajectories,
:func:`~toolgym.baselines.sft_data.build_sft_data` turns the kept ones into examples with the loss on the
policy's own tokens only, and :func:`train_sft` fine-tunes with TRL's ``SFTTrainer`` and saves a model that
``load_policy("hf:<out>/model")`` plays. With ``keep="all"`` and a ``teacher``, the same round distils a stronger
model's attempts, failed ones included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolgym.policies import Policy, Sampling, load_policy
from toolgym.rollout import rollout
from toolgym.trajectories import Trajectory, read_trajectories

from .sft import NoTrainingDataError, TrainResult, TrainSettings, load_trainable, train_sft, training_target
from .sft_data import KEEP_CHOICES, SFTData, build_sft_data, env_tool_schemas

DEFAULT_ENV = "toolgym/Retail-CaT-v1"

__all__ = [
    "DEFAULT_ENV",
    "NoTrainingDataError",
    "RFTResult",
    "RFTSettings",
    "TrainResult",
    "TrainSettings",
    "load_player",
    "load_trainable",
    "run_rft",
    "train_sft",
]


@dataclass
class RFTSettings:
    """One round of rejection fine-tuning.

    Attributes:
        model: The model to train (``"hf:default"`` or ``"hf:<folder or hub id>"``); it also plays the rollouts
            unless ``teacher`` is set.
        env: The task env's id.
        split: The split to roll out on.
        rollouts_per_task: Episodes per task.
        max_tasks: Play only the first tasks.
        max_turns: Agent turns per episode (the env's default when ``None``).
        action_format: The env's action format; the rolling-out policy's own when ``None``, so the tools are shown
            through its chat template.
        guided: Constrain each turn to a valid action (see :mod:`toolgym.policies.guidance`).
        first_call: With ``guided``, the first turn must be a tool call.
        demos: Worked episodes of other train tasks shown before each task.
        sampling: Sampling for the rollouts.
        env_kwargs: More arguments for ``gym.make`` (e.g. ``max_observation_chars``).
        teacher: A policy spec that plays the rollouts instead of ``model`` (distillation).
        trajectories: Train on this trajectory file instead of rolling out.
        keep: ``"success"`` (rejection fine-tuning) or ``"all"`` (distillation).
        keep_demos: Keep shown demonstrations in the training context.
        max_length: Longest example in tokens; longer ones are dropped whole. The model's context length
            (``max_position_embeddings``) when ``None``.
        epochs: Passes over the examples.
        learning_rate: Peak learning rate.
        batch_size: Examples per forward pass (see :class:`TrainSettings`).
        grad_accum: Forward passes per optimiser step.
        lora: Train a LoRA adapter (merged into the saved model).
        lora_rank: The adapter's rank.
        seed: Seeds rollouts and training.
        out: The run folder (``trajectories.jsonl``, ``model/``, ``rft.json``).
        rollout_batch_size: Episodes live at once.
        device: Where to generate and train; the GPU when there is one if ``None``.
        progress: Show progress bars.
    """

    model: str = "hf:default"
    env: str = DEFAULT_ENV
    split: str = "train"
    rollouts_per_task: int = 8
    max_tasks: int | None = None
    max_turns: int | None = None
    action_format: str | None = None
    guided: bool = False
    first_call: bool = False
    demos: int = 0
    sampling: Sampling = field(default_factory=Sampling)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    teacher: str | None = None
    trajectories: Path | None = None
    keep: str = "success"
    keep_demos: bool = True
    max_length: int | None = None
    epochs: float = 2.0
    learning_rate: float = 1e-5
    batch_size: int = 1
    grad_accum: int = 8
    lora: bool = False
    lora_rank: int = 16
    seed: int = 0
    out: Path = Path("runs/rft")
    rollout_batch_size: int = 16
    device: str | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        training_target(self.model)
        problems = []
        if self.rollouts_per_task < 1:
            problems.append(f"rollouts_per_task must be positive, got {self.rollouts_per_task}")
        for name in ("max_tasks", "max_turns", "max_length", "rollout_batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be positive, got {value}")
        if self.demos < 0:
            problems.append(f"demos must be >= 0, got {self.demos}")
        if self.keep not in KEEP_CHOICES:
            problems.append(f"keep must be one of {KEEP_CHOICES}, got {self.keep!r}")
        if self.first_call and not self.guided:
            problems.append("first_call needs guided decoding (guided=True)")
        if problems:
            raise ValueError("; ".join(problems))
        self.out = Path(self.out)
        self.train_settings()  # validates the training fields

    def train_settings(self) -> TrainSettings:
        """The fine-tuning part of these settings.

        Returns:
            The training settings.
        """
        return TrainSettings(
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            grad_accum=self.grad_accum,
            lora=self.lora,
            lora_rank=self.lora_rank,
            lora_alpha=2 * self.lora_rank,
            seed=self.seed,
            device=self.device,
            progress=self.progress,
        )


@dataclass
class RFTResult:
    """The numbers of one RFT round.

    Attributes:
        rollouts: Trajectories played (or read).
        successes: Those with reward 1.
        examples: Training examples.
        dropped: Examples dropped whole for exceeding ``max_length``.
        data: The example counts (see :meth:`~toolgym.baselines.sft_data.SFTData.summary`).
        losses: Training loss per optimiser step.
        step_s: Median seconds per optimiser step.
        tokens_per_s: Training throughput.
        rollout_s: Seconds of rollouts.
        train_s: Seconds of training.
        seconds: Seconds of the whole round.
        model_path: The fine-tuned model (load it with ``load_policy(f"hf:{model_path}")``).
        trajectories_path: The trajectories trained on.
    """

    rollouts: int
    successes: int
    examples: int
    dropped: int
    data: dict[str, int | None]
    losses: list[float]
    step_s: float
    tokens_per_s: float
    rollout_s: float
    train_s: float
    seconds: float
    model_path: Path
    trajectories_path: Path

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON data.

        Returns:
            A dict.
        """
        data = asdict(self)
        data["model_path"], data["trajectories_path"] = str(self.model_path), str(self.trajectories_path)
        return data


def load_player(spec: str, device: str | None = None) -> Policy:
    """Load a policy to play rollouts; ``device`` applies to local models only (a served model has its own).

    Args:
        spec: A policy spec (``"hf:…"``, ``"openai:…"``).
        device: Where a local model generates; the GPU when there is one if ``None``.

    Returns:
        The policy.

    Raises:
        PolicyError: If it cannot be loaded.
    """
    options = {"device": device} if device and spec.startswith("hf:") else {}
    return load_policy(spec, **options)


def _empty_data_message(data: SFTData, successes: int, settings: RFTSettings) -> str:
    if data.kept and data.too_long == data.kept:
        return (
            f"all {data.kept} kept trajectories are longer than max_length={data.max_length} tokens; raise "
            "max_length, show fewer demonstrations (demos, keep_demos=False) or cut tool results "
            "(env_kwargs max_observation_chars)"
        )
    return (
        f"no successful trajectories to train on: {successes} of {data.trajectories} rollouts earned reward 1. "
        "Try more rollouts per task (rollouts_per_task), guided decoding (guided=True, hermes/json format), "
        "demonstrations (demos=2), or a stronger teacher with keep='all'"
    )


def run_rft(settings: RFTSettings, *, on_step: Callable[[dict[str, float]], None] | None = None) -> RFTResult:
    """One round: roll out on the train split, keep the successes, fine-tune, save.

    Args:
        settings: The round's settings.
        on_step: Called after each optimiser step (see :func:`train_sft`).

    Returns:
        The round's numbers; also written to ``out/rft.json``.

    Raises:
        NoTrainingDataError: If no trajectory is kept, or none fits ``max_length``.
        PolicyError: If a model cannot be loaded.
    """
    began = time.perf_counter()
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    env_kwargs = dict(settings.env_kwargs)
    if settings.max_turns is not None:
        env_kwargs["max_turns"] = settings.max_turns
    trajectories: list[Trajectory]
    if settings.trajectories is not None:
        path = Path(settings.trajectories)
        trajectories = list(read_trajectories(path))
        if settings.action_format is not None:
            env_kwargs["action_format"] = settings.action_format
    else:
        path = out / "trajectories.jsonl"
        agent = load_player(settings.teacher or settings.model, settings.device)
        try:
            env_kwargs["action_format"] = settings.action_format or agent.action_format
            results = rollout(
                agent,
                settings.env,
                split=settings.split,
                max_tasks=settings.max_tasks,
                samples=settings.rollouts_per_task,
                seed=settings.seed,
                sampling=settings.sampling,
                env_kwargs=env_kwargs,
                batch_size=settings.rollout_batch_size,
                out=path,
                progress=settings.progress,
                guided=settings.guided,
                demos=settings.demos,
                first_call=settings.first_call,
            )
        finally:
            agent.close()  # frees the generation copy before the training copy is loaded
        trajectories = results.trajectories
    rollout_s = time.perf_counter() - began
    successes = sum(t.success for t in trajectories)
    model, tokenizer = load_trainable(settings.model)
    tools = env_tool_schemas(settings.env, split=settings.split, env_kwargs=env_kwargs)
    data = build_sft_data(
        trajectories,
        tokenizer,
        tools=tools,
        keep=settings.keep,
        max_length=settings.max_length or int(model.config.max_position_embeddings),
        keep_demos=settings.keep_demos,
    )
    if not data.examples:
        raise NoTrainingDataError(_empty_data_message(data, successes, settings))
    trained = train_sft(model, tokenizer, data, out, settings.train_settings(), on_step=on_step)
    result = RFTResult(
        rollouts=len(trajectories),
        successes=successes,
        examples=len(data.examples),
        dropped=data.too_long,
        data=data.summary(),
        losses=trained.losses,
        step_s=trained.median_step_s,
        tokens_per_s=trained.tokens_per_s,
        rollout_s=rollout_s,
        train_s=trained.train_s,
        seconds=time.perf_counter() - began,
        model_path=trained.model_path,
        trajectories_path=path,
    )
    (out / "rft.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result
