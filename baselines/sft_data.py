"""Supervised fine-tuning data from trajectories: the conversation as the policy saw it, loss on its own words.

Each kept trajectory becomes one example: the token ids of its conversation rendered by the model's chat template
(system prompt, tools when the policy was shown them natively, demonstrations, user and tool messages, and every
action the policy wrote), with a mask that is 1 exactly on the tokens of those actions, each followed by the
template's end-of-turn token, and 0 everywhere else. Rendering goes through
:func:`toolgym.policies.hf.render_conversation`, the function the ``transformers`` policy itself prompts with.

Each turn's prompt is tokenised whole — the ids the policy was fed for that turn — and the assistant's text is
tokenised on its own, so no token straddles the boundary between context and action and the mask is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from toolgym.policies.base import ChatMessage, ToolSchemas
from toolgym.policies.hf import render_conversation, template_supports_tools
from toolgym.trajectories import Trajectory

Keep: TypeAlias = Literal["success", "all"]
KEEP_CHOICES: tuple[str, ...] = ("success", "all")
ToolSource: TypeAlias = "ToolSchemas | Callable[[Trajectory], ToolSchemas | None] | None"


class DataError(ValueError):
    """A trajectory that cannot be rendered as a training example (wrong shape, missing tools, odd template)."""


@dataclass(frozen=True)
class Example:
    """One tokenised training conversation.

    Attributes:
        input_ids: The token ids, from the system prompt to the end of the policy's last action.
        assistant_masks: 1 on the tokens the policy wrote (and each turn's end-of-turn token), 0 elsewhere.
        task_id: The task the trajectory played.
        reward: The trajectory's reward.
        guided: Whether the actions were sampled under guided decoding.
    """

    input_ids: tuple[int, ...]
    assistant_masks: tuple[int, ...]
    task_id: str | None = None
    reward: float = 0.0
    guided: bool = False

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def loss_tokens(self) -> int:
        """How many tokens carry loss."""
        return sum(self.assistant_masks)


@dataclass
class SFTData:
    """Training examples and what happened to the trajectories they came from.

    Attributes:
        examples: The examples, in trajectory order.
        trajectories: Trajectories read.
        kept: Trajectories that passed the ``keep`` rule.
        rejected: Trajectories left out by the ``keep`` rule (failures, with ``keep="success"``).
        unusable: Trajectories that could not be played (an error, or no action at all).
        duplicates: Examples identical to an earlier one, dropped.
        too_long: Examples longer than ``max_length`` tokens, dropped whole.
        max_length: The length limit used.
    """

    examples: list[Example] = field(default_factory=list)
    trajectories: int = 0
    kept: int = 0
    rejected: int = 0
    unusable: int = 0
    duplicates: int = 0
    too_long: int = 0
    max_length: int | None = None

    @property
    def tokens(self) -> int:
        """Tokens in all examples."""
        return sum(len(e) for e in self.examples)

    @property
    def loss_tokens(self) -> int:
        """Tokens that carry loss in all examples."""
        return sum(e.loss_tokens for e in self.examples)

    def summary(self) -> dict[str, int | None]:
        """The counts as JSON data.

        Returns:
            A dict.
        """
        return {
            "trajectories": self.trajectories,
            "kept": self.kept,
            "rejected": self.rejected,
            "unusable": self.unusable,
            "duplicates": self.duplicates,
            "too_long": self.too_long,
            "examples": len(self.examples),
            "tokens": self.tokens,
            "loss_tokens": self.loss_tokens,
            "max_length": self.max_length,
        }

    def to_dataset(self) -> Any:
        """The examples as a ``datasets.Dataset`` with the columns ``SFTTrainer`` reads.

        ``SFTTrainer`` takes a dataset holding ``input_ids`` as already tokenised and turns ``assistant_masks`` into
        labels (-100 where the mask is 0) whatever ``assistant_only_loss`` says.

        Returns:
            The dataset (``input_ids``, ``assistant_masks``).
        """
        from datasets import Dataset

        return Dataset.from_dict(
            {
                "input_ids": [list(e.input_ids) for e in self.examples],
                "assistant_masks": [list(e.assistant_masks) for e in self.examples],
            }
        )


def generated_turns(trajectory: Trajectory) -> list[int]:
    """Indices of the messages the policy wrote (demonstrations' assistant turns are not among them).

    A rollout opens with the system prompt, any demonstrations and the task's first user message, then appends
    one assistant message and one observation per step.

    Args:
        trajectory: A trajectory written by :func:`toolgym.rollout.rollout`.

    Returns:
        The indices, in order.

    Raises:
        DataError: If the messages do not match the steps.
    """
    opening = len(trajectory.messages) - 2 * len(trajectory.steps)
    indices = [opening + 2 * k for k in range(len(trajectory.steps))]
    for index, step in zip(indices, trajectory.steps, strict=True):
        message = trajectory.messages[index] if 0 <= index < len(trajectory.messages) else {}
        if opening < 2 or message.get("role") != "assistant" or message.get("content") != step.action:
            raise DataError(
                f"trajectory of task {trajectory.task_id!r} (sample {trajectory.sample}): its messages do not "
                "follow its steps the way rollout() writes them"
            )
    return indices


def shows_tools_natively(trajectory: Trajectory) -> bool:
    """Whether the policy was given the tools through its chat template (rather than listed in the system prompt).

    Rollouts do so when the env's action format is the policy's own.

    Args:
        trajectory: The trajectory.

    Returns:
        ``True`` for native tools.
    """
    return bool(trajectory.action_format) and trajectory.action_format == trajectory.policy.get(
        "action_format"
    )


def without_demonstrations(trajectory: Trajectory) -> tuple[list[ChatMessage], list[int]]:
    """The conversation with any demonstrations removed, and the indices of the policy's messages in it.

    Args:
        trajectory: The trajectory.

    Returns:
        ``(messages, generated indices)``.
    """
    turns = generated_turns(trajectory)
    opening = len(trajectory.messages) - 2 * len(trajectory.steps)
    shown = opening - 2  # messages between the system prompt and the task's first user message
    messages = [trajectory.messages[0], *trajectory.messages[opening - 1 :]]
    return messages, [i - shown for i in turns]


def encode_conversation(
    tokenizer: Any, messages: Sequence[ChatMessage], trained: Sequence[int], tools: ToolSchemas | None = None
) -> tuple[list[int], list[int]]:
    """Token ids of a conversation up to its last trained message, and the mask of the trained messages' tokens.

    Args:
        tokenizer: The model's tokenizer (with its chat template).
        messages: The conversation.
        trained: Indices of assistant messages to put loss on, in increasing order.
        tools: Tool schemas to render (shown only if the template supports them).

    Returns:
        ``(input_ids, assistant_masks)``.

    Raises:
        DataError: If the template does not render an assistant message as its text then the end-of-turn token,
            or does not extend a conversation's rendering when messages are added (it is not prefix-preserving).
    """
    eos = tokenizer.eos_token
    if not eos:
        raise DataError("the tokenizer has no end-of-turn (eos) token to train the policy to stop")
    ids: list[int] = []
    mask: list[int] = []
    done = ""
    for index in trained:
        message = messages[index]
        if message.get("role") != "assistant":
            raise DataError(f"message {index} is a {message.get('role')!r} message, not the assistant's")
        prompt = render_conversation(tokenizer, messages[:index], tools, add_generation_prompt=True)
        whole = render_conversation(tokenizer, messages[: index + 1], tools, add_generation_prompt=False)
        content = str(message.get("content") or "")
        if not prompt.startswith(done) or not whole.startswith(prompt + content):
            raise DataError(
                "the chat template does not render each turn as an extension of the previous ones "
                "(not prefix-preserving); it cannot be used to build per-turn training masks"
            )
        # What follows the text up to the eos is the template's end of turn, which the policy had to produce to
        # stop; anything after the eos (a newline) is the template's, not the model's.
        end = whole.find(eos, len(prompt) + len(content))
        if end < 0:
            raise DataError(f"the chat template does not close an assistant turn with the eos token {eos!r}")
        answer = whole[len(prompt) : end + len(eos)]
        # The prompt is tokenised whole, as the policy was fed it; earlier turns' ids are kept, so it must extend
        # them exactly at the boundary.
        prompt_ids = _tokenize(tokenizer, prompt)
        if prompt_ids[: len(ids)] == ids:
            context = prompt_ids[len(ids) :]
        else:  # a merge across the boundary: tokenise only the new part, keeping the earlier ids intact
            context = _tokenize(tokenizer, prompt[len(done) :])
        answer_ids = _tokenize(tokenizer, answer)
        ids += context + answer_ids
        mask += [0] * len(context) + [1] * len(answer_ids)
        done = prompt + answer
    return ids, mask


def _tokenize(tokenizer: Any, text: str) -> list[int]:
    # Chat templates spell out their own special tokens; adding a BOS here would differ from the policy's prompts.
    return [int(t) for t in tokenizer(text, add_special_tokens=False)["input_ids"]]


def _tools_for(trajectory: Trajectory, tokenizer: Any, tools: ToolSource) -> ToolSchemas | None:
    if not shows_tools_natively(trajectory) or not template_supports_tools(tokenizer):
        return None
    found = tools(trajectory) if callable(tools) else tools
    if found is None:
        raise DataError(
            f"trajectory of task {trajectory.task_id!r} was shown its tools through the chat template; pass "
            "tools= (the env's info['tools']) to render it as the policy saw it"
        )
    return found


def encode_trajectory(
    trajectory: Trajectory, tokenizer: Any, tools: ToolSource = None, *, keep_demos: bool = True
) -> Example:
    """One trajectory as a training example.

    Args:
        trajectory: The trajectory.
        tokenizer: The tokenizer of the model to train.
        tools: The env's tool schemas, or a function giving them per trajectory; needed when the policy was shown
            its tools natively.
        keep_demos: Keep any demonstrations shown before the task (as context, never trained on).

    Returns:
        The example.

    Raises:
        DataError: If the trajectory has no action or cannot be rendered.
    """
    if not trajectory.steps:
        raise DataError(f"trajectory of task {trajectory.task_id!r} has no action to train on")
    if keep_demos:
        messages, turns = list(trajectory.messages), generated_turns(trajectory)
    else:
        messages, turns = without_demonstrations(trajectory)
    ids, mask = encode_conversation(tokenizer, messages, turns, _tools_for(trajectory, tokenizer, tools))
    return Example(tuple(ids), tuple(mask), trajectory.task_id, trajectory.reward, trajectory.guided)


def build_sft_data(
    trajectories: Iterable[Trajectory],
    tokenizer: Any,
    *,
    tools: ToolSource = None,
    keep: Keep | str = "success",
    max_length: int | None = None,
    keep_demos: bool = True,
    dedupe: bool = True,
) -> SFTData:
    """Training examples from trajectories.

    Args:
        trajectories: The trajectories (e.g. :func:`toolgym.trajectories.read_trajectories` of a rollout file).
        tokenizer: The tokenizer of the model to train.
        tools: The env's tool schemas (or a function of the trajectory giving them); see :func:`encode_trajectory`.
        keep: ``"success"`` keeps trajectories with reward 1 (rejection fine-tuning); ``"all"`` keeps every one
            (distillation from a stronger teacher, whose failed attempts still show how to act).
        max_length: Examples longer than this many tokens are dropped whole, never cut mid-answer (``None``: no
            limit).
        keep_demos: Keep the demonstrations shown before each task as context.
        dedupe: Drop examples identical to an earlier one.

    Returns:
        The examples and counts.

    Raises:
        ValueError: For an unknown ``keep`` or a non-positive ``max_length``.
        DataError: If a trajectory cannot be rendered (see :func:`encode_trajectory`).
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, got {keep!r}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be positive, got {max_length}")
    data = SFTData(max_length=max_length)
    seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
    for trajectory in trajectories:
        data.trajectories += 1
        if trajectory.error is not None or not trajectory.steps:
            data.unusable += 1
            continue
        if keep == "success" and not trajectory.success:
            data.rejected += 1
            continue
        data.kept += 1
        example = encode_trajectory(trajectory, tokenizer, tools, keep_demos=keep_demos)
        if max_length is not None and len(example) > max_length:
            data.too_long += 1
            continue
        key = (example.input_ids, example.assistant_masks)
        if dedupe and key in seen:
            data.duplicates += 1
            continue
        seen.add(key)
        data.examples.append(example)
    return data


def env_tool_schemas(
    env_id: str, *, split: str | None = None, env_kwargs: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The tool schemas an env gives its policy (``info["tools"]`` after a reset).

    Args:
        env_id: The registered env id.
        split: The split, for task envs.
        env_kwargs: More ``gym.make`` arguments.

    Returns:
        The schemas.
    """
    import gymnasium as gym

    kwargs = dict(env_kwargs or {})
    if split is not None:
        kwargs["split"] = split
    env = gym.make(env_id, **kwargs)
    try:
        _, info = env.reset(seed=0)
        return list(info.get("tools", []))
    finally:
        env.close()
