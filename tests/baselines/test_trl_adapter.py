"""The toolgym → TRL adapter: tool methods, reset, the final answer, rewards, datasets and the rollout function."""

from __future__ import annotations

import inspect
import os
from types import SimpleNamespace
from typing import Any

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from toolgym.baselines.trl import (
    EPISODE_OVER,
    environment_factory,
    task_dataset,
    toolgym_reward,
)
from toolgym.baselines.trl_rollout import make_rollout_func

from toolgym.testing import stand_in_trainer, tiny_llama

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

CAT = "toolgym/Retail-CaT-v1"
STATUS_TASK = "retail-f336562e6aae5f00"  # "Where does my order #W2163810 stand?" - judged on the answer
ORDER = "#W2163810"
EMAIL = "elena.le5550@example.com"


@pytest.fixture(scope="module")
def env_class() -> type[Any]:
    return environment_factory(CAT, max_observation_chars=200)


@pytest.fixture
def adapter(env_class: type[Any]) -> Any:
    env = env_class()
    env.reset(task_id=STATUS_TASK, seed=0)
    return env


def status_of(adapter: Any) -> str:
    return str(adapter.env.unwrapped.world.get("orders", ORDER)["status"])


# ---- the adapter ----------------------------------------------------------------------------------------------


def test_tools_are_the_toolsets_with_the_same_schemas(env_class: type[Any]) -> None:
    from transformers.utils import get_json_schema

    env = env_class()
    toolset = env.env.unwrapped.toolset
    # What TRL finds: every public function of the class but reset and get_reward.
    found = {
        name
        for name, _ in inspect.getmembers(env_class, predicate=inspect.isfunction)
        if not name.startswith("_") and name not in ("reset", "get_reward")
    }
    assert found == set(toolset)
    for name, tool in toolset.items():
        assert get_json_schema(getattr(env, name)) == tool.schema


def test_a_subset_of_tools_and_unknown_names() -> None:
    env_class = environment_factory(CAT, tools=["get_order_details"])
    assert hasattr(env_class, "get_order_details") and not hasattr(env_class, "think")
    assert env_class.__name__ == "RetailCaTV1"
    with pytest.raises(ValueError, match="no_such_tool"):
        environment_factory(CAT, tools=["no_such_tool"])


def test_reset_returns_the_instruction(env_class: type[Any]) -> None:
    env = env_class()
    opening = env.reset(task_id=STATUS_TASK, seed=0, prompt=[{"role": "user", "content": ""}])
    assert opening == env.env.unwrapped.task.instruction
    assert env.env.unwrapped.task_id == STATUS_TASK and not env.done
    # TRL appends it to the last message: after a blank line when that message already says something.
    assert (
        env.reset(task_id=STATUS_TASK, seed=0, prompt=[{"role": "user", "content": "Hi."}])
        == f"\n\n{opening}"
    )


def test_a_tool_call_reaches_the_env_and_changes_its_world(adapter: Any) -> None:
    user_id = adapter.find_user_id_by_email(email=EMAIL)
    before = adapter.env.unwrapped.world.get("users", user_id)["address"]["city"]
    observation = adapter.modify_user_address(
        user_id=user_id,
        address1="1 Elm St",
        address2="",
        city="Springfield",
        state="IL",
        country="USA",
        zip="62701",
    )
    assert '"city": "Springfield"' in observation and before != "Springfield"
    assert adapter.env.unwrapped.world.get("users", user_id)["address"]["city"] == "Springfield"
    assert adapter.get_order_details(order_id="#W0").startswith("Error:")  # tool errors are observations


def test_tools_are_inert_once_the_episode_ends(adapter: Any) -> None:
    adapter.transfer_to_human_agents(summary="The user wants a human.")  # a terminating tool
    assert adapter.done
    turns = len(adapter.env.unwrapped.transcript)
    assert adapter.get_order_details(order_id=ORDER) == EPISODE_OVER
    assert len(adapter.env.unwrapped.transcript) == turns


# ---- the final answer and the reward --------------------------------------------------------------------------


def completion(*final: dict[str, Any]) -> list[dict[str, Any]]:
    call = {"type": "function", "function": {"name": "get_order_details", "arguments": {"order_id": ORDER}}}
    return [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "get_order_details", "content": "…"},
        *final,
    ]


def test_toolgym_reward_delivers_the_final_message_to_the_verifier(env_class: type[Any]) -> None:
    right, wrong, unanswered = env_class(), env_class(), env_class()
    for env in (right, wrong, unanswered):
        env.reset(task_id=STATUS_TASK, seed=0)
        env.get_order_details(order_id=ORDER)
    status = status_of(right)
    completions = [
        completion({"role": "assistant", "content": f"Your order is {status}."}),
        completion({"role": "assistant", "content": "I could not find it."}),
        completion(),  # cut off after a tool result: no answer
    ]
    assert toolgym_reward(completions, environments=[right, wrong, unanswered]) == [1.0, 0.0, 0.0]
    assert right.env.unwrapped.answer == f"Your order is {status}."
    assert all(env.done for env in (right, wrong, unanswered))
    assert right.get_reward() is None  # already counted through toolgym_reward


def test_get_reward_alone_scores_without_an_answer(adapter: Any) -> None:
    with pytest.warns(UserWarning, match="toolgym_reward"):
        assert adapter.get_reward() == 0.0
    assert adapter.done


def test_free_play_envs_score_zero() -> None:
    env = environment_factory("toolgym/Retail-v0")()
    assert env.reset(seed=3, task_id=None) == env.env.unwrapped.opening({})[0]
    assert env.list_all_product_types().startswith("{")
    assert toolgym_reward([[{"role": "assistant", "content": "Hello!"}]], environments=[env]) == [0.0]


def test_toolgym_reward_passes_rollout_rewards_through() -> None:
    assert toolgym_reward(["a", "b"], reward=[1, 0.0]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="environment_factory"):
        toolgym_reward(["a"])


# ---- datasets -------------------------------------------------------------------------------------------------


def test_task_dataset_rows() -> None:
    ds = task_dataset(CAT, "train", samples=2, seed=5, max_tasks=3, action_format="hermes")
    assert ds.column_names == ["prompt", "task_id", "seed"] and len(ds) == 6
    assert ds["task_id"][0] == ds["task_id"][1] != ds["task_id"][2]
    assert ds["seed"] == [5, 6, 7, 8, 9, 10]
    system, user = ds[0]["prompt"]
    import gymnasium as gym

    assert system == {
        "role": "system",
        "content": gym.make(CAT, action_format="hermes").unwrapped.system_prompt,
    } | {
        "task_id": None,
        "seed": None,
    }
    assert user == {"role": "user", "content": "", "task_id": ds["task_id"][0], "seed": 5}


def test_task_dataset_prompt_options() -> None:
    code = task_dataset(CAT, "test", max_tasks=1, action_format="code")[0]["prompt"][0]["content"]
    assert "## Tools" in code and "get_order_details(order_id: str)" in code
    bare = task_dataset(CAT, "test", max_tasks=1, system_prompt=False, action_format="hermes")[0]["prompt"]
    assert [m["role"] for m in bare] == ["user"]
    free = task_dataset("toolgym/Retail-v0", "train", samples=3)
    assert free["task_id"] == [None] * 3 and free["seed"] == [0, 1, 2]


def test_task_dataset_families() -> None:
    import gymnasium as gym

    tasks = gym.make(CAT, split="train").unwrapped.tasks
    family = {t.id: t.provenance.get("family") for t in tasks}
    ds = task_dataset(CAT, "train", families=["gift_card_balance", "order_status"], max_tasks=5)
    assert len(ds) == 5 and {family[t] for t in ds["task_id"]} <= {"gift_card_balance", "order_status"}
    every = task_dataset(CAT, "train", families=["gift_card_balance"])
    assert len(every) == sum(f == "gift_card_balance" for f in family.values()) > 0
    with pytest.raises(
        ValueError, match=r"no train task of toolgym/Retail-CaT-v1 is of the families \['nope'\]"
    ):
        task_dataset(CAT, "train", families=["nope"])


# ---- TRL's GRPOTrainer with the adapter -----------------------------------------------------------------------


def memorise(model: Any, tokenizer: Any, tools: list[Any], turns: list[dict[str, Any]]) -> None:
    """Train the model to write the assistant turns of one conversation (deps.md A.3), tool results unlearnt."""
    import torch

    def ids(n: int, prompt: bool) -> list[int]:
        return list(
            tokenizer.apply_chat_template(
                turns[:n], tools=tools, tokenize=True, return_dict=False, add_generation_prompt=prompt
            )
        )

    full = ids(len(turns), False)
    labels = [-100] * len(full)
    for n, message in enumerate(turns):
        if message["role"] == "assistant":
            start, end = len(ids(n, True)), len(ids(n + 1, False))
            labels[start:end] = full[start:end]
    x, y = torch.tensor([full]), torch.tensor([labels])
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss = model(input_ids=x, labels=y).loss
        if loss.item() < 0.02:
            break
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()


def test_grpo_trainer_gets_the_verifiers_reward_and_masks_tool_results(tmp_path: Any) -> None:
    from trl import GRPOConfig, GRPOTrainer

    env_class = environment_factory(CAT, tools=["get_order_details"], max_observation_chars=60)
    dataset = task_dataset(CAT, "train", system_prompt=False, action_format="hermes")
    dataset = dataset.filter(lambda row: row["task_id"] == STATUS_TASK)
    probe = env_class()
    instruction = probe.reset(**dataset[0])
    result = probe.get_order_details(order_id=ORDER)
    answer = f"It is {status_of(probe)}."
    model, tokenizer = tiny_llama()
    call = {"type": "function", "function": {"name": "get_order_details", "arguments": {"order_id": ORDER}}}
    memorise(
        model,
        tokenizer,
        [probe.get_order_details],
        [
            {"role": "user", "content": instruction},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "name": "get_order_details", "content": result},
            {"role": "assistant", "content": answer},
        ],
    )
    batches: list[dict[str, Any]] = []

    class Probe(GRPOTrainer):  # type: ignore[misc]
        def _generate_and_score_completions(self, inputs: Any) -> Any:
            batches.append(super()._generate_and_score_completions(inputs))
            return batches[-1]

    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=160,
        max_tool_calling_iterations=2,
        temperature=0.3,
        max_steps=1,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    trainer = Probe(
        model=model,
        reward_funcs=[toolgym_reward],
        args=args,
        train_dataset=dataset.select([0, 0]),
        processing_class=tokenizer,
        environment_factory=env_class,
    )
    assert trainer.reward_func_names == ["toolgym_reward", "RetailCaTV1"]
    trainer.train()
    log = trainer.state.log_history[0]
    assert log["tools/call_frequency"] == 1.0
    assert log["rewards/toolgym_reward/mean"] == 1.0 == log["reward"]  # the verifier accepted the answers
    batch = batches[0]
    ids, mask, tool = (batch[k][0].tolist() for k in ("completion_ids", "completion_mask", "tool_mask"))
    trained = tokenizer.decode([t for t, m, k in zip(ids, mask, tool, strict=True) if m and k])
    masked = tokenizer.decode([t for t, m, k in zip(ids, mask, tool, strict=True) if m and not k])
    assert trained.startswith("<tool_call>") and trained.endswith(f"{answer}<|im_end|>")
    assert (
        masked
        == f"\n<|im_start|>user\n<tool_response>\n{result}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )


# ---- the rollout function -------------------------------------------------------------------------------------


class ScriptedModel:
    """Stands in for the trainer's model: each generate call writes the next scripted turn (cut at max_new_tokens)."""

    def __init__(self, tokenizer: Any, turns: list[str]) -> None:
        self.turns = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in turns]
        self.calls = 0
        self.generation_config = SimpleNamespace(eos_token_id=tokenizer.eos_token_id)
        self.device = "cpu"
        self.pad = tokenizer.pad_token_id

    def generate(self, input_ids: Any, attention_mask: Any, generation_config: Any) -> Any:
        import torch

        turn = self.turns[min(self.calls, len(self.turns) - 1)][: generation_config.max_new_tokens]
        self.calls += 1
        new = torch.tensor(
            [turn + [self.pad] * (generation_config.max_new_tokens - len(turn))] * len(input_ids)
        )
        return torch.cat([input_ids, new], dim=1)


CODE_TURN = f"```python\nprint(get_order_details(order_id='{ORDER}')['status'])\n```<|im_end|>"


def test_rollout_func_plays_code_actions_and_masks_observations() -> None:
    _, tokenizer = tiny_llama()
    prompts = task_dataset(CAT, "train", action_format="code", system_prompt=False)
    prompt = next(p for p, t in zip(prompts["prompt"], prompts["task_id"], strict=True) if t == STATUS_TASK)
    env_class = environment_factory(CAT)
    probe = env_class()
    probe.reset(task_id=STATUS_TASK, seed=0)
    status = status_of(probe)
    model = ScriptedModel(tokenizer, [CODE_TURN, f"Your order is {status}.<|im_end|>"])
    rollout = make_rollout_func(CAT, max_turns=4, action_format="code")
    out = rollout([prompt, prompt], stand_in_trainer(model, tokenizer, 200))
    assert (
        set(out) == {"prompt_ids", "completion_ids", "logprobs", "env_mask", "reward"}
        and out["logprobs"] is None
    )
    assert out["reward"] == [1.0, 1.0]
    assert out["completion_ids"][0] == out["completion_ids"][1]
    ids, mask = out["completion_ids"][0], out["env_mask"][0]
    assert len(ids) == len(mask) <= 200
    decode = tokenizer.decode
    assert decode(out["prompt_ids"][0]).endswith(
        f"{probe.env.unwrapped.task.instruction}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert (
        decode([t for t, m in zip(ids, mask, strict=True) if m])
        == CODE_TURN + f"Your order is {status}.<|im_end|>"
    )
    printed = probe.env.step(CODE_TURN.removesuffix("<|im_end|>"))[0]  # the same code on the same task
    assert printed.strip() == status
    assert decode([t for t, m in zip(ids, mask, strict=True) if not m]) == (
        f"\n<|im_start|>user\n<tool_response>\n{printed}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )


def test_rollout_func_respects_the_budget() -> None:
    _, tokenizer = tiny_llama()
    prompt = task_dataset(CAT, "train", action_format="code", system_prompt=False, max_tasks=1)[0]["prompt"]
    model = ScriptedModel(tokenizer, [CODE_TURN])  # looks the order up again and again, never answers
    rollout = make_rollout_func(CAT, max_turns=30, action_format="code")
    out = rollout([prompt], stand_in_trainer(model, tokenizer, 150))
    ids, mask = out["completion_ids"][0], out["env_mask"][0]
    assert len(ids) == len(mask) <= 150 and out["reward"] == [0.0]  # cut off unanswered: the verifier says no
    assert 1 < model.calls < 30 and ids.count(tokenizer.eos_token_id) >= 2 * (model.calls - 1)
    # A turn cut at max_turn_tokens is closed with an end-of-turn token the model did not write (masked).
    out = make_rollout_func(CAT, max_turns=2, action_format="code", max_turn_tokens=20)(
        [prompt], stand_in_trainer(ScriptedModel(tokenizer, [CODE_TURN]), tokenizer, 150)
    )
    ids, mask = out["completion_ids"][0], out["env_mask"][0]
    assert ids[20] == tokenizer.eos_token_id and mask[:21] == [1] * 20 + [0]


def test_grpo_trainer_with_the_rollout_func(tmp_path: Any) -> None:
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = tiny_llama()
    dataset = task_dataset(
        CAT, "train", action_format="code", system_prompt=False, list_tools=False, max_tasks=2
    )
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=48,
        max_steps=1,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    rollout = make_rollout_func(CAT, max_turns=3, action_format="code", max_turn_tokens=16)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[toolgym_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        rollout_func=rollout,
    )
    trainer.train()
    log = trainer.state.log_history[0]
    assert log["rewards/toolgym_reward/mean"] == 0.0  # a random model solves nothing
    assert 0 < log["completions/mean_length"] <= 48
