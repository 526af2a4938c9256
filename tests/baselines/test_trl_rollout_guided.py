"""The rollout function's guided decoding and demonstrations, with a tiny random Llama generating for real."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from toolgym.baselines.trl import task_dataset
from toolgym.baselines.trl_rollout import make_rollout_func

from toolgym.actions.base import Malformed, Message, ToolCall
from toolgym.actions.parsers import parse_hermes
from toolgym.policies.guidance import GuidanceError
from toolgym.testing import stand_in_trainer, tiny_llama

CAT = "toolgym/Retail-CaT-v1"


def trainer_for(model: Any, tokenizer: Any, budget: int) -> Any:
    from transformers import GenerationConfig

    return stand_in_trainer(
        model, tokenizer, budget, GenerationConfig(do_sample=True, temperature=1.0, top_p=1.0)
    )


def model_turns(out: dict[str, Any], row: int, tokenizer: Any) -> list[str]:
    """The texts of one episode's model turns: its runs of trained tokens, each closed by an end token."""
    turns, current = [], []
    for token, trained in zip(out["completion_ids"][row], out["env_mask"][row], strict=True):
        if trained:
            current.append(token)
        elif current:
            turns.append(current)
            current = []
    if current:
        turns.append(current)
    return [tokenizer.decode(t, skip_special_tokens=True) for t in turns]


@pytest.fixture(scope="module")
def prompts() -> list[Any]:
    dataset = task_dataset(CAT, "train", action_format="hermes", system_prompt=False, max_tasks=3)
    return list(dataset["prompt"])


def test_guided_turns_are_valid_actions(prompts: list[Any]) -> None:
    import torch

    model, tokenizer = tiny_llama()
    torch.manual_seed(0)
    rollout = make_rollout_func(
        CAT, max_turns=3, action_format="hermes", guided=True, first_call=True, max_observation_chars=200
    )
    out = rollout(prompts, trainer_for(model, tokenizer, budget=2000))
    assert len(out["completion_ids"]) == len(prompts) and out["reward"] == [0.0] * len(prompts)
    for row in range(len(prompts)):
        turns = model_turns(out, row, tokenizer)
        assert turns, "every episode has at least one model turn"
        parsed = [parse_hermes(t) for t in turns]
        assert not any(isinstance(p, Malformed) for p in parsed), turns
        assert isinstance(parsed[0], ToolCall)  # first_call: it looks before it answers
        assert all(isinstance(p, (ToolCall, Message)) for p in parsed)


def test_unguided_random_model_writes_malformed_actions(prompts: list[Any]) -> None:
    """The contrast that makes the guided test mean something: unguided, the same model writes no valid call."""
    import torch

    model, tokenizer = tiny_llama()
    torch.manual_seed(0)
    rollout = make_rollout_func(CAT, max_turns=1, action_format="hermes", max_turn_tokens=40)
    out = rollout(prompts, trainer_for(model, tokenizer, budget=200))
    first_turns = [model_turns(out, row, tokenizer)[0] for row in range(len(prompts))]
    assert not any(isinstance(parse_hermes(t), ToolCall) for t in first_turns)


def test_demonstrations_go_in_the_prompt_not_the_completion(prompts: list[Any]) -> None:
    model, tokenizer = tiny_llama()
    plain = make_rollout_func(CAT, max_turns=1, action_format="hermes", max_turn_tokens=8)
    shown = make_rollout_func(CAT, max_turns=1, action_format="hermes", max_turn_tokens=8, demos=2)
    trainer = trainer_for(model, tokenizer, budget=64)
    without = plain(prompts[:1], trainer)
    with_demos = shown(prompts[:1], trainer)
    before, after = (tokenizer.decode(o["prompt_ids"][0]) for o in (without, with_demos))
    assert after.count("<tool_call>") > before.count("<tool_call>")  # the worked episodes' calls
    # The task's own instruction still closes the prompt, after the demonstrations.
    assert after.endswith(before[before.rindex("<|im_start|>user") :])
    assert len(with_demos["completion_ids"][0]) <= 64


def test_guidance_needs_a_format_with_a_grammar() -> None:
    with pytest.raises(GuidanceError, match=r"hermes, json, llama3.*'code'"):
        make_rollout_func(CAT, action_format="code", guided=True)
