"""The settings of the self-improvement loop (:mod:`toolgym.baselines.loop`), and the small run ``toolgym demo`` makes.

They are checked when made, so a bad value fails before any model is loaded: the counts, the challenger, the task
families, and the training fields (through :class:`~toolgym.baselines.rft.RFTSettings`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.domains import available_domains
from toolgym.policies import Sampling

from .rft import DEFAULT_ENV, RFTSettings

TEST_ENVS = {"retail": DEFAULT_ENV}
"""The task env whose shipped bank holds each domain's held-out test split."""

WORLD_SEED_BASE = 100
"""Round ``r`` draws its tasks from the world of seed ``WORLD_SEED_BASE + r``: the shipped banks use seeds 0-7, so
the challenger never writes tasks about the worlds of the test tasks."""

CHALLENGERS = ("scripted", "self")
"""Named challengers; any other value is a policy spec (``hf:…``, ``openai:…``) for the LLM challenger."""


def _names(value: Any) -> tuple[str, ...] | None:
    """A family list given as a tuple, a list or a comma-separated string, as a tuple."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


@dataclass
class LoopSettings:
    """A self-improvement run: rounds of challenge → rollouts → rejection fine-tuning → evaluation.

    Attributes:
        domain: The tool domain; its shipped bank's test split is the held-out evaluation.
        model: The starting model (``"hf:default"`` or ``"hf:<folder or hub id>"``); each round trains it further.
        rounds: Rounds after the round-0 evaluation.
        challenger: ``"scripted"`` (the domain's task families), ``"self"`` (the current model as the LLM
            challenger) or a policy spec for a fixed LLM challenger.
        families: With the scripted challenger, the task families to draw from (default: all).
        tasks_per_round: Proposals the challenger makes each round (the filter keeps some of them).
        rollouts_per_task: Episodes per kept task, the training data of the round.
        replay_train: After training, replay the round's own tasks with the trained model and the rollouts' seed:
            the train reward before and after training, on the same tasks.
        eval_tasks: Held-out test tasks evaluated after every round (the first ones of the split).
        eval_samples: Episodes per test task.
        eval_families: Evaluate only test tasks of these families (by provenance); all families when ``None``.
        max_turns: Agent turns per episode (the env's default when ``None``).
        action_format: The env's action format; the model's own when ``None``.
        guided: Constrain each turn to a valid action.
        first_call: With ``guided``, the first turn must be a tool call.
        demos: Worked episodes of other tasks shown before each task (the round's own tasks during rollouts).
        sampling: Sampling for rollouts, evaluation and an LLM challenger's exploration.
        keep_demos: Keep shown demonstrations in the training context.
        max_length: Longest training example in tokens (the model's context when ``None``).
        epochs: Passes over each round's examples.
        learning_rate: Peak learning rate.
        grad_accum: Examples per optimiser step.
        lora: Train LoRA adapters (merged into each round's saved model).
        seed: Seeds the evaluation (the same every round), the rollouts, the challenger and training.
        out: The run folder: ``results.json``, the plots and one ``round-<r>/`` folder per round.
        rollout_batch_size: Episodes generated together.
        device: Where to generate and train; the GPU when there is one if ``None``.
        progress: Show progress bars.
    """

    domain: str = "retail"
    model: str = "hf:default"
    rounds: int = 2
    challenger: str = "scripted"
    families: tuple[str, ...] | None = None
    tasks_per_round: int = 16
    rollouts_per_task: int = 4
    replay_train: bool = True
    eval_tasks: int = 20
    eval_samples: int = 1
    eval_families: tuple[str, ...] | None = None
    max_turns: int | None = None
    action_format: str | None = None
    guided: bool = False
    first_call: bool = False
    demos: int = 0
    sampling: Sampling = field(default_factory=Sampling)
    keep_demos: bool = True
    max_length: int | None = None
    epochs: float = 2.0
    learning_rate: float = 1e-5
    grad_accum: int = 8
    lora: bool = False
    seed: int = 0
    out: Path = Path("runs/self-improve")
    rollout_batch_size: int = 16
    device: str | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        self.families, self.eval_families = _names(self.families), _names(self.eval_families)
        self.out = Path(self.out)
        problems = []
        if self.domain not in available_domains():
            problems.append(f"unknown domain {self.domain!r}; known: {available_domains()}")
        elif self.domain not in TEST_ENVS:
            problems.append(
                f"domain {self.domain!r} ships no test bank to evaluate on; use one of {sorted(TEST_ENVS)}"
            )
        for name in ("rounds", "tasks_per_round", "rollouts_per_task", "eval_tasks", "eval_samples"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if self.challenger not in CHALLENGERS and ":" not in self.challenger:
            problems.append(
                f"challenger must be 'scripted', 'self' or a policy spec such as 'hf:default', got {self.challenger!r}"
            )
        if self.families is not None and self.challenger != "scripted":
            problems.append("families only apply to the scripted challenger (challenger='scripted')")
        if self.seed < 0:
            problems.append(f"seed must be >= 0, got {self.seed}")
        if not problems and self.domain in TEST_ENVS:
            problems += self._family_problems()
        if problems:
            raise ValueError("; ".join(problems))
        # The training and rollout fields are RFT's: its checks (model spec, counts, first_call, learning rate…)
        # apply unchanged.
        self.rft_settings(trajectories=self.out / "trajectories.jsonl", out=self.out)

    def _family_problems(self) -> list[str]:
        from toolgym.tasks.scripted import task_families

        known = {f.name for f in task_families(self.domain)}
        problems = []
        for name in ("families", "eval_families"):
            chosen = getattr(self, name)
            if chosen is None:
                continue
            unknown = [f for f in chosen if f not in known]
            if not chosen or unknown:
                problems.append(
                    f"{name}: unknown task families {unknown or '(none named)'}; choose from {sorted(known)}"
                )
        return problems

    @property
    def env(self) -> str:
        """The task env of the held-out test split (and of the tools shown in training)."""
        return TEST_ENVS[self.domain]

    def world_seed(self, round_number: int) -> int:
        """The world the challenger explores in a round: never one of the shipped banks' worlds.

        Args:
            round_number: The round, from 1.

        Returns:
            The world seed.
        """
        return WORLD_SEED_BASE + round_number

    def rft_settings(
        self,
        *,
        trajectories: Path,
        out: Path,
        model: str | None = None,
        action_format: str | None = None,
        seed: int = 0,
    ) -> RFTSettings:
        """The RFT round that trains on a round's rollouts.

        Args:
            trajectories: The round's trajectory file.
            out: The round folder (the model goes to ``out/model``).
            model: The model to train (default: the starting model).
            action_format: The format the rollouts were played in (default: ``action_format``).
            seed: Seeds the training.

        Returns:
            The settings.
        """
        return RFTSettings(
            model=model or self.model,
            env=self.env,
            split="train",
            rollouts_per_task=self.rollouts_per_task,
            max_turns=self.max_turns,
            action_format=action_format or self.action_format,
            guided=self.guided,
            first_call=self.first_call,
            demos=self.demos,
            sampling=self.sampling,
            trajectories=trajectories,
            keep="success",
            keep_demos=self.keep_demos,
            max_length=self.max_length,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            batch_size=1,
            grad_accum=self.grad_accum,
            lora=self.lora,
            seed=seed,
            out=out,
            rollout_batch_size=self.rollout_batch_size,
            device=self.device,
            progress=self.progress,
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON data (for ``results.json``).

        Returns:
            A dict.
        """
        data = dataclasses.asdict(self)
        data["out"] = str(self.out)
        for name in ("families", "eval_families"):
            data[name] = list(data[name]) if data[name] is not None else None
        return data


DEMO = LoopSettings(
    model="hf:default",
    rounds=1,
    challenger="scripted",
    # One look-up questions: the embedded 135M model has solved gift-card balance tasks with guided decoding and
    # two demonstrations, so its rollouts yield some successes to train on.
    families=("gift_card_balance",),
    tasks_per_round=4,
    rollouts_per_task=2,
    eval_tasks=2,
    eval_samples=1,
    # The held-out tasks of the family trained on: on the first tasks of every family the model scores 0 before
    # and after, which shows nothing.
    eval_families=("gift_card_balance",),
    # A gift-card question takes three turns (find the user, read the account, answer); a guided tool call of this
    # family fits in about 45 tokens and a cut one is finished anyway, so 64 tokens a turn keep decoding short.
    max_turns=3,
    action_format="hermes",
    guided=True,
    demos=2,
    sampling=Sampling(temperature=0.7, max_new_tokens=64),
    # Without the demonstrations the examples are about a third shorter: faster CPU steps, less memory.
    keep_demos=False,
    epochs=2.0,
    learning_rate=2e-5,
    grad_accum=1,
    out=Path("runs/demo"),
    rollout_batch_size=8,
    device="cpu",
)
"""``toolgym demo``: the whole loop, small, on the embedded model and the CPU (4.5 minutes measured on 2 cores)."""
