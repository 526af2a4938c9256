"""Batched rollouts, the llm user and the eval/view commands, with a tiny random Llama and scripted policies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from toolgym.tasks import load_bank

from toolgym.cli import main
from toolgym.llm_user import LLMUser
from toolgym.policies import Sampling
from toolgym.policies.base import Conversation, ToolSchemas
from toolgym.policies.hf import TransformersPolicy
from toolgym.rollout import plan_episodes, rollout
from toolgym.testing import tiny_llama
from toolgym.trajectories import read_trajectories
from toolgym.users import STOP_TOKEN, make_user

TEST_TASKS = load_bank("retail-v0").split("test")


class SolutionPolicy:
    """Plays each CaT task's example solution, then its printed answer; counts its calls."""

    name = "scripted:solutions"
    action_format = "code"

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers
        self.calls: list[int] = []

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
    ) -> list[str]:
        self.calls.append(len(conversations))
        out = []
        for conversation in conversations:
            instruction = conversation[1]["content"]
            code, answer = self.answers[instruction]
            out.append(f"```python\n{code}\n```" if len(conversation) == 2 else answer)
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def solver() -> SolutionPolicy:
    env = gym.make("toolgym/Retail-CaT-v0", split="test")
    answers = {}
    for task in TEST_TASKS:
        env.reset(options={"task_id": task.id})
        code, message = env.unwrapped.walkthrough()
        answers[task.instruction] = (code.source, message.content)
    env.close()
    return SolutionPolicy(answers)


def test_every_live_episode_shares_one_generation_call_per_turn(
    solver: SolutionPolicy, tmp_path: Path
) -> None:
    solver.calls.clear()
    out = tmp_path / "run" / "trajectories.jsonl"
    results = rollout(solver, "toolgym/Retail-CaT-v0", split="test", samples=2, batch_size=8, out=out)
    n = len(TEST_TASKS) * 2
    assert len(results.trajectories) == n
    assert solver.calls == [8, 8, 8, 8, 4, 4]  # two turns per episode, eight episodes live at a time
    assert all(t.reward == 1.0 and t.terminated for t in results.trajectories)
    assert results.pass_at(1) == 1.0 and results.pass_hat(2) == 1.0
    assert [(t.task_id, t.sample) for t in results.trajectories] == [
        (task.id, s) for task in TEST_TASKS for s in range(2)
    ]
    written = list(read_trajectories(out))
    assert [t.to_dict() for t in written] == [t.to_dict() for t in results.trajectories]
    first = written[0]
    assert (
        first.messages[0]["role"] == "system" and "## Tools" not in first.messages[0]["content"]
    )  # native format
    assert [m["role"] for m in first.messages] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert first.steps[0].info["action_type"] == "code" and first.steps[0].info["tool_calls"]
    assert first.versions["bank"]["name"] == "retail-v0" and first.policy["sampling"]["temperature"] == 0.7
    assert first.timings["env_s"] > 0 and first.timings["total_s"] >= first.timings["env_s"]
    assert 0 < results.env_share < 1


def test_rollouts_with_a_tiny_llama_are_reproducible(tmp_path: Path) -> None:
    model, tokenizer = tiny_llama(seed=3)
    policy = TransformersPolicy(model, tokenizer)
    settings = Sampling(temperature=1.0, max_new_tokens=16)
    kwargs = {"action_format": "json", "max_turns": 2}
    runs = [
        rollout(
            policy,
            "toolgym/Retail-CaT-v0",
            split="train",
            max_tasks=3,
            samples=2,
            sampling=settings,
            env_kwargs=kwargs,
            seed=5,
        )
        for _ in range(2)
    ]
    texts = [[s.action for t in r.trajectories for s in t.steps] for r in runs]
    assert texts[0] == texts[1]
    first = runs[0].trajectories[0]
    assert (
        "## Tools" in first.messages[0]["content"]
    )  # json is not the model's own format: tools listed in the prompt
    assert all(1 <= len(t.steps) <= 2 for t in runs[0].trajectories)
    assert {t.reward for t in runs[0].trajectories} == {0.0}


def test_planning_and_argument_errors() -> None:
    assert plan_episodes(["a", "b"], samples=2, seed=10) == [
        ("a", 0, 10),
        ("a", 1, 11),
        ("b", 0, 12),
        ("b", 1, 13),
    ]
    assert plan_episodes(None, samples=3, seed=0) == [(None, 0, 0), (None, 1, 1), (None, 2, 2)]
    model, tokenizer = tiny_llama()
    policy = TransformersPolicy(model, tokenizer)
    with pytest.raises(ValueError, match="unknown task ids"):
        rollout(policy, "toolgym/Retail-CaT-v0", split="test", tasks=["retail-nope"])
    with pytest.raises(ValueError, match="positive"):
        rollout(policy, "toolgym/Retail-CaT-v0", samples=0)


def test_free_play_envs_roll_out_by_seed() -> None:
    model, tokenizer = tiny_llama()
    results = rollout(
        TransformersPolicy(model, tokenizer),
        "toolgym/Retail-v0",
        samples=3,
        sampling=Sampling(max_new_tokens=8),
        env_kwargs={"world_size": {"n_users": 10, "n_orders": 20}, "max_turns": 1},
    )
    assert [t.task_id for t in results.trajectories] == [None, None, None]
    assert [t.seed for t in results.trajectories] == [0, 1, 2]


class EchoUserPolicy:
    """Plays the simulated user: states its goal, then stops when the agent says 'done'."""

    name = "scripted:user"
    action_format = "json"

    def generate(
        self, conversations: Sequence[Conversation], tools: Any = None, sampling: Any = None
    ) -> list[str]:
        out = []
        for conversation in conversations:
            last = conversation[-1]["content"]
            out.append(
                STOP_TOKEN
                if "done" in last.lower()
                else f"goal: {conversation[0]['content'].split(chr(10))[3]}"
            )
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


def test_the_llm_user_speaks_from_its_goal_and_stops() -> None:
    import numpy as np

    user = make_user("llm", policy=EchoUserPolicy(), max_replies=3)
    assert isinstance(user, LLMUser)
    first = user.reset("Cancel order #W1.", np.random.default_rng(0))
    assert first == "goal: Cancel order #W1."
    assert user.reply("Which order?").done is False
    final = user.reply("All done.")
    assert final.done and STOP_TOKEN in final.text
    user.reset("x", np.random.default_rng(0))
    replies = [user.reply("hm") for _ in range(3)]
    assert [r.done for r in replies] == [False, False, True]  # the reply limit ends it
    with pytest.raises(ValueError, match="max_replies"):
        LLMUser(EchoUserPolicy(), max_replies=0)


def test_an_env_with_the_llm_user_keeps_talking_until_stop() -> None:
    env = gym.make(
        "toolgym/Retail-CaT-v0", split="test", user="llm", user_kwargs={"policy": EchoUserPolicy()}
    )
    obs, _ = env.reset(seed=0)
    assert obs.startswith("goal: ")
    obs, reward, terminated, _, _ = env.step("Let me check.")
    assert not terminated and obs.startswith("goal: ")
    obs, reward, terminated, _, _ = env.step("It is done.")
    assert terminated and obs == STOP_TOKEN and reward == 0.0
    env.close()


def test_eval_and_view_commands_write_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, tokenizer = tiny_llama(seed=2)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    run = tmp_path / "run"
    status = main(
        [
            "eval",
            "--policy",
            f"hf:{tmp_path / 'model'}",
            "--max-tasks",
            "2",
            "--samples",
            "2",
            "--max-turns",
            "2",
            "--max-new-tokens",
            "8",
            "--out",
            str(run),
            "--quiet",
            "--per-task",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "pass@k" in printed and "trajectories.html" in printed
    summary = json.loads((run / "summary.json").read_text())
    assert summary["results"]["episodes"] == 4 and summary["policy"]["backend"] == "transformers"
    assert len(list(read_trajectories(run / "trajectories.jsonl"))) == 4
    assert (run / "trajectories.html").read_text().count('class="episode ') == 4
    assert main(["view", str(run / "trajectories.jsonl"), "--out", str(tmp_path / "v.html")]) == 0
    assert (tmp_path / "v.html").is_file()


def test_eval_reports_bad_input_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--policy", "nonsense", "--out", str(tmp_path)]) == 2
    assert "policy spec" in capsys.readouterr().err
    assert main(["view", str(tmp_path / "missing.jsonl")]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    assert main(["view", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_guided_rollouts_can_require_a_first_call(tmp_path: Path) -> None:
    model, tokenizer = tiny_llama(seed=6)
    results = rollout(
        TransformersPolicy(model, tokenizer),
        "toolgym/Retail-CaT-v0",
        split="test",
        max_tasks=3,
        samples=2,
        sampling=Sampling(temperature=1.0, max_new_tokens=700),
        env_kwargs={"action_format": "json", "max_turns": 2},
        guided=True,
        first_call=True,
        demos=1,
    )
    for trajectory in results.trajectories:
        assert trajectory.guided
        assert trajectory.steps[0].info["action_type"] == "tool_call", trajectory.steps[0].action
        assert all(s.info["action_type"] in ("tool_call", "message") for s in trajectory.steps)
        users = [m for m in trajectory.messages if m["role"] == "user"]
        assert len(users) >= 2  # a demonstration's instruction came before the task's own
