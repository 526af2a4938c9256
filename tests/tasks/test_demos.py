"""In-context demonstrations: built from other tasks' solutions, in the env's format, within a budget."""

from __future__ import annotations

import gymnasium as gym
import pytest
from toolgym.tasks import CaTEnv, load_bank
from toolgym.tasks.demos import demonstration

BANK = load_bank("retail-v0")


@pytest.mark.parametrize("fmt", ["hermes", "code"])
def test_demonstrations_show_other_tasks_in_the_envs_format(fmt: str) -> None:
    env = gym.make("toolgym/Retail-CaT-v0", split="train", action_format=fmt)
    inner = env.unwrapped
    assert isinstance(inner, CaTEnv)
    inner.reset(seed=0)
    shown = inner.demonstrations(3)
    instructions = [m["content"] for m in shown if m["role"] == "user"]
    assert 1 <= len(instructions) <= 3
    assert inner.task.instruction not in instructions
    assert {m["role"] for m in shown} <= {"user", "assistant", "tool"}
    calls = [m["content"] for m in shown if m["role"] == "assistant"][:-1]
    if fmt == "hermes":
        assert all(c.startswith("<tool_call>") for c in calls if c.startswith("<"))
    else:
        assert shown[1]["content"].startswith("```python")
    assert sum(len(m["content"]) for m in shown) <= 6000
    assert inner.demonstrations(0) == []
    assert inner.demonstrations(3, budget_chars=10) == []
    env.close()


def test_the_test_split_is_shown_train_tasks_only() -> None:
    env = gym.make("toolgym/Retail-CaT-v0", split="test", action_format="json")
    env.reset(seed=1)
    shown = env.unwrapped.demonstrations(2)
    train = {t.instruction for t in BANK.split("train")}
    assert all(m["content"] in train for m in shown if m["role"] == "user")
    env.close()


def test_a_demonstration_replays_the_solution(pool) -> None:  # type: ignore[no-untyped-def]
    task = BANK.split("train")[0]
    messages = demonstration(task, "json", pool)
    assert messages[0] == {"role": "user", "content": task.instruction}
    assert messages[-1]["role"] == "assistant" and messages[-1]["content"]
    assert demonstration(task, "json", pool) is messages  # cached


def test_similar_tasks_are_shown_first() -> None:
    from toolgym.tasks.demos import similarity

    assert similarity("Cancel my pending order", "cancel the pending order") == 1.0
    assert similarity("Cancel my order", "What is my zip code?") == 0.0
    assert similarity("", "") == 0.0
    env = gym.make("toolgym/Retail-CaT-v0", split="test", action_format="json")
    inner = env.unwrapped
    by_instruction = {t.instruction: t for t in BANK.tasks}
    for task in BANK.split("test"):
        kind = task.provenance["notes"].split(":")[0]
        same_kind = [t for t in BANK.split("train") if t.provenance["notes"].split(":")[0] == kind]
        if not same_kind or kind == "read-only":
            continue
        inner.reset(options={"task_id": task.id})
        first = inner.demonstrations(1, budget_chars=10**6)[0]["content"]
        shown_kind = by_instruction[first].provenance["notes"].split(":")[0]
        assert kind in shown_kind, (
            task.instruction,
            first,
        )  # e.g. an address change is shown an address change
    env.close()
