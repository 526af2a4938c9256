"""CaT environments: task choice, reward from the verifier, nothing secret in observations, Gymnasium checks."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from task_samples import cancel_task
from toolgym.tasks import CaTEnv, CodeAsTask

from toolgym.actions import CodeBlock, Message
from toolgym.sandbox import SandboxPool
from toolgym.world import World


@pytest.fixture()
def tasks(small_world: World) -> list[CodeAsTask]:
    base = cancel_task(small_world)
    return [
        cancel_task(small_world, instruction=f"{base.instruction} [{i}]").with_split("train")
        for i in range(4)
    ] + [cancel_task(small_world, instruction=f"{base.instruction} [test]").with_split("test")]


@pytest.fixture()
def env(tasks: list[CodeAsTask], pool: SandboxPool) -> CaTEnv:
    return CaTEnv(tasks, split="train", sandbox=pool)


def play(env: CaTEnv, actions: list[CodeBlock | Message]) -> float:
    reward = 0.0
    for action in actions:
        text = f"```python\n{action.source}\n```" if isinstance(action, CodeBlock) else action.content
        _obs, reward, terminated, truncated, _info = env.step(text)
        if terminated or truncated:
            break
    return reward


def test_the_solution_earns_1_and_doing_nothing_earns_0(env: CaTEnv) -> None:
    obs, info = env.reset(seed=0)
    assert obs == env.task.instruction and info["task_id"] == env.task.id
    assert play(env, env.walkthrough()) == 1.0
    env.reset(seed=0)
    assert play(env, [Message("Sorry, I cannot help.")]) == 0.0
    env.reset(seed=0)
    wrong = env.task.failure_cases[0]
    assert play(env, [CodeBlock(wrong), Message("Cancelled.")]) == 0.0


def test_reward_is_zero_until_the_end(env: CaTEnv) -> None:
    env.reset(seed=1)
    code, _message = env.walkthrough()
    assert isinstance(code, CodeBlock)
    _obs, reward, terminated, truncated, info = env.step(f"```python\n{code.source}\n```")
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["action_type"] == "code" and not info.get("error")


def test_tasks_are_picked_by_seed_or_by_id(env: CaTEnv, tasks: list[CodeAsTask]) -> None:
    by_seed = [env.reset(seed=s)[1]["task_id"] for s in range(12)]
    assert by_seed == [env.reset(seed=s)[1]["task_id"] for s in range(12)]
    assert set(by_seed) <= set(env.task_ids) and len(set(by_seed)) > 1
    assert env.task_ids == [t.id for t in tasks if t.split == "train"]
    chosen = env.task_ids[2]
    assert env.reset(seed=5, options={"task_id": chosen})[1]["task_id"] == chosen
    with pytest.raises(KeyError, match="not in this env's split"):
        env.reset(options={"task_id": tasks[-1].id})


def test_info_and_observations_never_carry_the_secret_parts(env: CaTEnv) -> None:
    obs, info = env.reset(seed=3)
    secrets = [env.task.verifier, env.task.solution, *env.task.failure_cases]
    shown = obs + repr(info)
    for action in env.walkthrough():
        text = f"```python\n{action.source}\n```" if isinstance(action, CodeBlock) else action.content
        step_obs, _r, _t, _tr, step_info = env.step(text)
        shown += step_obs + repr(step_info)
    for secret in secrets:
        assert secret not in shown
    assert "def evaluate" not in shown


def test_a_broken_verifier_scores_zero_and_says_why(tasks: list[CodeAsTask], pool: SandboxPool) -> None:
    broken = CodeAsTask(
        **{**tasks[0].content(), "verifier": "def evaluate(state, answer):\n    return 1 / 0\n"}
    )
    env = CaTEnv([broken], split="all", sandbox=pool)
    env.reset(seed=0)
    _o, reward, terminated, _tr, _i = env.step("done")
    assert terminated and reward == 0.0
    assert env.verdict_error is not None and "ZeroDivisionError" in env.verdict_error


def test_bad_construction_is_refused(tasks: list[CodeAsTask], pool: SandboxPool) -> None:
    with pytest.raises(ValueError, match="no tasks in split 'test'"):
        CaTEnv(tasks[:2], split="test", sandbox=pool)
    other = CodeAsTask(**{**tasks[0].content(), "domain": "bakery"})
    with pytest.raises(ValueError, match="one domain"):
        CaTEnv([tasks[0], other], split="all", sandbox=pool)
    with pytest.raises(RuntimeError, match="reset"):
        _ = CaTEnv(tasks, split="all", sandbox=pool).task


def test_check_env_passes(env: CaTEnv) -> None:
    check_env(env, skip_render_check=True)


def test_the_registered_bank_env_runs_its_tasks() -> None:
    env = gym.make("toolgym/Retail-CaT-v0", split="test")
    obs, info = env.reset(seed=0)
    inner = env.unwrapped
    assert isinstance(inner, CaTEnv)
    assert info["action_format"] == "code" and obs == inner.task.instruction
    assert play(inner, inner.walkthrough()) == 1.0
    env.close()
