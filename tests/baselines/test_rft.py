"""Rejection fine-tuning: training data with loss on the policy's own tokens, SFT with TRL, and a whole round."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch
from toolgym.baselines.rft import (
    NoTrainingDataError,
    RFTSettings,
    TrainSettings,
    load_trainable,
    run_rft,
    train_sft,
)
from toolgym.baselines.sft_data import (
    DataError,
    Example,
    SFTData,
    build_sft_data,
    encode_trajectory,
    env_tool_schemas,
    generated_turns,
)

from toolgym.policies import Sampling, load_policy
from toolgym.policies.base import Conversation, ToolSchemas
from toolgym.policies.hf import TransformersPolicy
from toolgym.testing import tiny_llama
from toolgym.trajectories import Step, Trajectory, write_trajectories

ENV = "toolgym/Retail-CaT-v1"
EOS = "<|im_end|>"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_details",
            "description": "Get an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "The order id."}},
                "required": ["order_id"],
            },
        },
    }
]
CALL = '<tool_call>\n{"name": "get_order_details", "arguments": {"order_id": "#W1"}}\n</tool_call>'
RESULT = '{"status": "pending"}'
ANSWER = "The order is pending."
LONG = 16_384  # the retail prompt takes 8-10k tokens of the tiny tokenizer (SmolLM2's: 3-4k)


@pytest.fixture(scope="module")
def policy() -> TransformersPolicy:
    model, tokenizer = tiny_llama(seed=0)
    return TransformersPolicy(model, tokenizer, device="cpu")


def trajectory(
    actions: Sequence[str] = (CALL, ANSWER),
    observations: Sequence[str] = (RESULT, "Thanks."),
    *,
    reward: float = 1.0,
    action_format: str = "hermes",
    demos: Sequence[dict[str, str]] = (),
    task: str = "t1",
    policy: dict[str, Any] | None = None,
) -> Trajectory:
    """A trajectory laid out the way rollout() writes one, by a hermes-speaking policy."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a store agent."},
        *demos,
        {"role": "user", "content": "What is the status of order #W1?"},
    ]
    steps = []
    for action, observation in zip(actions, observations, strict=True):
        role = "tool" if action.startswith("<tool_call>") else "user"
        messages += [{"role": "assistant", "content": action}, {"role": role, "content": observation}]
        steps.append(Step(action, observation))
    return Trajectory(
        env_id=ENV,
        task_id=task,
        sample=0,
        seed=0,
        messages=messages,
        steps=steps,
        reward=reward,
        action_format=action_format,
        policy=policy if policy is not None else {"backend": "transformers", "action_format": "hermes"},
    )


def runs(example: Example) -> list[list[int]]:
    """The maximal runs of masked-in token ids."""
    out: list[list[int]] = []
    previous = 0
    for token, bit in zip(example.input_ids, example.assistant_masks, strict=True):
        if bit and not previous:
            out.append([])
        if bit:
            out[-1].append(token)
        previous = bit
    return out


def decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return str(tokenizer.decode(list(ids), skip_special_tokens=False))


def test_the_loss_mask_covers_exactly_the_policys_actions_and_their_end_of_turn(
    policy: TransformersPolicy,
) -> None:
    tok = policy.tokenizer
    example = encode_trajectory(trajectory(), tok, TOOLS)
    assert [decode(tok, r) for r in runs(example)] == [CALL + EOS, ANSWER + EOS]
    masked_out = decode(
        tok, [t for t, b in zip(example.input_ids, example.assistant_masks, strict=True) if not b]
    )
    assert "You are a store agent." in masked_out and "What is the status" in masked_out
    assert f"<tool_response>\n{RESULT}\n</tool_response>" in masked_out  # tool results: context only
    assert '"order_id": "#W1"' not in masked_out and ANSWER not in masked_out
    assert decode(tok, example.input_ids).endswith(ANSWER + EOS)  # the reply after the last action is dropped
    assert example.loss_tokens == sum(len(r) for r in runs(example)) and example.reward == 1.0


def test_each_turns_context_is_tokenised_exactly_as_the_policy_was_prompted(
    policy: TransformersPolicy,
) -> None:
    tok = policy.tokenizer
    for fmt, shown in (
        ("hermes", TOOLS),
        ("json", None),
    ):  # json is not the model's own format: no native tools
        item = trajectory(action_format=fmt)
        example = encode_trajectory(item, tok, TOOLS)
        for turn in generated_turns(item):
            prompt = tok(policy.render(item.messages[:turn], shown), add_special_tokens=False)["input_ids"]
            assert list(example.input_ids[: len(prompt)]) == prompt
            assert example.assistant_masks[len(prompt) - 1 : len(prompt) + 1] == (
                0,
                1,
            )  # the action starts here
        first = tok(policy.render(item.messages[:2], shown), add_special_tokens=False)["input_ids"]
        assert not any(example.assistant_masks[: len(first)])
        assert ("# Tools" in decode(tok, example.input_ids)) == (shown is not None)


def test_demonstrations_are_context_never_targets_and_can_be_dropped(policy: TransformersPolicy) -> None:
    tok = policy.tokenizer
    demo_call = CALL.replace("#W1", "#W9")
    demos = [
        {"role": "user", "content": "Status of #W9?"},
        {"role": "assistant", "content": demo_call},
        {"role": "tool", "content": '{"status": "delivered"}'},
        {"role": "assistant", "content": "It was delivered."},
    ]
    item = trajectory(demos=demos)
    kept = encode_trajectory(item, tok, TOOLS)
    assert [decode(tok, r) for r in runs(kept)] == [CALL + EOS, ANSWER + EOS]
    assert "#W9" in decode(tok, kept.input_ids)
    dropped = encode_trajectory(item, tok, TOOLS, keep_demos=False)
    assert dropped == encode_trajectory(trajectory(), tok, TOOLS)


def test_trajectories_that_cannot_be_rendered_say_why(policy: TransformersPolicy) -> None:
    tok = policy.tokenizer
    with pytest.raises(DataError, match="pass tools="):
        encode_trajectory(trajectory(), tok)
    broken = trajectory()
    broken.messages[2]["content"] = "something else"
    with pytest.raises(DataError, match="do not follow its steps"):
        encode_trajectory(broken, tok, TOOLS)
    with pytest.raises(DataError, match="no action"):
        encode_trajectory(trajectory((), ()), tok, TOOLS)
    assert encode_trajectory(trajectory(), tok, lambda t: TOOLS) == encode_trajectory(
        trajectory(), tok, TOOLS
    )


def test_keep_dedupe_and_length_limit_are_counted(policy: TransformersPolicy) -> None:
    tok = policy.tokenizer
    errored = trajectory()
    errored.error = "could not reset"
    items = [
        trajectory(),
        trajectory(),  # a second identical success
        trajectory((ANSWER,), ("Bye.",), task="t2"),
        trajectory((CALL, "Not sure."), (RESULT, "Hm."), reward=0.0),
        errored,
    ]
    success = build_sft_data(items, tok, tools=TOOLS)
    assert success.summary() | {"tokens": 0, "loss_tokens": 0} == {
        "trajectories": 5,
        "kept": 3,
        "rejected": 1,
        "unusable": 1,
        "duplicates": 1,
        "too_long": 0,
        "examples": 2,
        "tokens": 0,
        "loss_tokens": 0,
        "max_length": None,
    }
    assert success.tokens == sum(len(e) for e in success.examples) and success.loss_tokens > 0
    everything = build_sft_data(items, tok, tools=TOOLS, keep="all", dedupe=False)
    assert (len(everything.examples), everything.rejected, everything.duplicates) == (4, 0, 0)
    limit = len(success.examples[1])  # the short one fits exactly, the two-turn ones do not
    short = build_sft_data(items, tok, tools=TOOLS, max_length=limit)
    assert (short.too_long, len(short.examples)) == (2, 1) and len(short.examples[0]) == limit
    dataset = short.to_dataset()
    assert dataset.column_names == ["input_ids", "assistant_masks"] and dataset[0]["input_ids"] == list(
        short.examples[0].input_ids
    )
    with pytest.raises(ValueError, match="keep must be one of"):
        build_sft_data(items, tok, keep="best")


def test_sft_trainer_puts_the_loss_only_on_masked_in_tokens(
    policy: TransformersPolicy, tmp_path: Path
) -> None:
    from trl import SFTConfig, SFTTrainer

    model, tok = tiny_llama(seed=1)
    data = build_sft_data([trajectory()], tok, tools=TOOLS)
    config = SFTConfig(
        output_dir=str(tmp_path),
        report_to="none",
        bf16=False,
        activation_checkpointing=False,
        use_cpu=True,
        max_length=None,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=data.to_dataset(), processing_class=tok)
    row = trainer.train_dataset[0]
    ids, mask = data.examples[0].input_ids, data.examples[0].assistant_masks
    assert row["labels"] == [t if b else -100 for t, b in zip(ids, mask, strict=True)]
    batch = trainer.data_collator([row])
    with torch.no_grad():
        loss = trainer.compute_loss(model, batch)
        logits = model(input_ids=batch["input_ids"]).logits[0, :-1]
    per_token = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="none")
    expected = per_token[torch.tensor(mask[1:]) == 1].mean()
    assert torch.isclose(loss, expected, atol=1e-5)
    assert not torch.isclose(loss, per_token.mean(), atol=1e-3)


def memorisable(tokenizer: Any) -> SFTData:
    return build_sft_data([trajectory()], tokenizer, tools=TOOLS)


def test_a_few_sft_steps_learn_an_example_and_save_a_playable_model(tmp_path: Path) -> None:
    model, tok = tiny_llama(seed=2)
    seen: list[dict[str, float]] = []
    settings = TrainSettings(
        max_steps=3, learning_rate=3e-3, grad_accum=1, scheduler="constant", device="cpu"
    )
    result = train_sft(model, tok, memorisable(tok), tmp_path, settings, on_step=seen.append)
    assert len(result.losses) == 3 and result.losses[-1] < result.losses[0]
    assert result.steps == 3 and result.median_step_s > 0 and result.tokens_per_s > 0
    assert [s["step"] for s in seen] == [1.0, 2.0, 3.0]
    assert result.tokens == 3 * len(memorisable(tok).examples[0])
    loaded = load_policy(f"hf:{result.model_path}", device="cpu")
    assert isinstance(loaded, TransformersPolicy) and loaded.action_format == "hermes"
    assert isinstance(
        loaded.generate([[{"role": "user", "content": "hi"}]], sampling=Sampling(max_new_tokens=4))[0], str
    )
    assert not (tmp_path / "trainer" / "checkpoint-3").exists()


def test_the_lora_path_trains_an_adapter_and_saves_a_merged_model(tmp_path: Path) -> None:
    model, tok = tiny_llama(seed=3)
    settings = TrainSettings(
        max_steps=2, learning_rate=1e-2, grad_accum=1, lora=True, lora_rank=4, device="cpu"
    )
    result = train_sft(model, tok, memorisable(tok), tmp_path, settings)
    assert len(result.losses) == 2
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert not (result.model_path / "adapter_config.json").exists()
    TransformersPolicy(str(result.model_path), device="cpu")


def test_a_round_on_a_tiny_llama_rolls_out_trains_and_saves(model_dir: Path, tmp_path: Path) -> None:
    settings = RFTSettings(
        model=f"hf:{model_dir}",
        max_tasks=1,
        rollouts_per_task=2,
        max_turns=2,
        sampling=Sampling(temperature=1.0, max_new_tokens=8),
        keep="all",  # a random model solves nothing
        max_length=LONG,
        epochs=1,
        grad_accum=1,
        out=tmp_path / "rft",
        device="cpu",
    )
    result = run_rft(settings)
    assert (result.rollouts, result.successes) == (2, 0)
    assert result.examples >= 1 and result.data["kept"] == 2 and result.dropped == 0
    assert len(result.losses) == result.examples and result.tokens_per_s > 0 and result.step_s > 0
    lines = (tmp_path / "rft" / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["action_format"] == "hermes"  # the model's own format
    assert json.loads((tmp_path / "rft" / "rft.json").read_text())["rollouts"] == 2
    assert isinstance(load_policy(f"hf:{result.model_path}", device="cpu"), TransformersPolicy)


class SolutionPolicy:
    """Plays each task's example solution as a code action, then its printed answer: every episode succeeds."""

    name = "scripted:solutions"
    action_format = "code"

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
    ) -> list[str]:
        out = []
        for conversation in conversations:
            code, answer = self.answers[conversation[1]["content"]]
            out.append(f"```python\n{code}\n```" if len(conversation) == 2 else answer)
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


def test_a_round_trains_on_successful_trajectories_only(model_dir: Path, tmp_path: Path) -> None:
    from toolgym.rollout import rollout

    env = gym.make(ENV, split="train")
    answers = {}
    for task_id in env.unwrapped.task_ids[:2]:
        env.reset(options={"task_id": task_id})
        code, message = env.unwrapped.walkthrough()
        answers[env.unwrapped.task.instruction] = (code.source, message.content)
    env.close()
    played = rollout(
        SolutionPolicy(answers), ENV, split="train", max_tasks=2, env_kwargs={"action_format": "code"}
    )
    assert all(t.success for t in played.trajectories)
    failed = trajectory(reward=0.0, action_format="code", policy={"backend": "scripted"})
    file = tmp_path / "mixed.jsonl"
    write_trajectories(file, [*played.trajectories, failed])
    settings = RFTSettings(
        model=f"hf:{model_dir}",
        trajectories=file,
        max_length=LONG,
        epochs=1,
        out=tmp_path / "rft",
        device="cpu",
    )
    result = run_rft(settings)
    assert (result.rollouts, result.successes, result.examples) == (3, 2, 2)
    assert result.data["rejected"] == 1 and len(result.losses) == 1
    _, tok = load_trainable(f"hf:{model_dir}")
    texts = [decode(tok, r) for t in played.trajectories for r in runs(encode_trajectory(t, tok))]
    assert texts[0].startswith("```python") and all(t.endswith(EOS) for t in texts)


def test_no_successes_gives_a_clear_error_with_what_to_try(model_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "failed.jsonl"
    write_trajectories(file, [trajectory(reward=0.0), trajectory(reward=0.0, task="t2")])
    settings = RFTSettings(model=f"hf:{model_dir}", trajectories=file, out=tmp_path / "rft", device="cpu")
    with pytest.raises(NoTrainingDataError, match="0 of 2 rollouts") as failure:
        run_rft(settings)
    assert all(word in str(failure.value) for word in ("rollouts per task", "guided", "demonstrations"))
    write_trajectories(file, [trajectory()])
    tiny = RFTSettings(
        model=f"hf:{model_dir}", trajectories=file, max_length=8, out=tmp_path / "r2", device="cpu"
    )
    with pytest.raises(NoTrainingDataError, match="longer than max_length=8"):
        run_rft(tiny)
    with pytest.raises(NoTrainingDataError):
        train_sft(None, None, SFTData(), tmp_path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "openai:http://localhost:8000/v1"}, "training needs a transformers model"),
        ({"rollouts_per_task": 0}, "rollouts_per_task must be positive"),
        ({"keep": "best"}, "keep must be one of"),
        ({"first_call": True}, "first_call needs guided"),
        ({"max_tasks": 0}, "max_tasks must be positive"),
        ({"demos": -1}, "demos must be >= 0"),
        ({"epochs": 0}, "epochs=0"),
        ({"learning_rate": -1.0}, "learning_rate=-1.0"),
    ],
)
def test_bad_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RFTSettings(**changes)


def test_the_env_gives_the_tools_the_policy_was_shown() -> None:
    schemas = env_tool_schemas(ENV, split="train")
    assert schemas and all(s["type"] == "function" for s in schemas)


def test_players_get_a_device_only_when_they_are_local_models(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolgym.baselines import rft

    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(rft, "load_policy", lambda spec, **options: seen.append((spec, options)))
    rft.load_player("hf:default", "cpu")
    rft.load_player("openai:http://127.0.0.1:8000/v1", "cuda")  # a served teacher runs where it is served
    rft.load_player("hf:default")
    assert seen == [
        ("hf:default", {"device": "cpu"}),
        ("openai:http://127.0.0.1:8000/v1", {}),
        ("hf:default", {}),
    ]
