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
