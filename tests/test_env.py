from __future__ import annotations

import json
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from toolgym.envs.retail import RetailEnv

import toolgym
from toolgym.users import ScriptedUser

SMALL = {"n_users": 20, "n_products": 8, "n_orders": 40}


def make(**kwargs: object) -> gym.Env[str, str]:
    kwargs.setdefault("world_size", SMALL)
    return gym.make("toolgym/Retail-v0", **kwargs)


def first(world: toolgym.World, table: str, **match: str) -> tuple[str, dict]:
    for key, rec in world.table(table):
        if all(rec.get(k) == v for k, v in match.items()):
            return key, rec
    raise AssertionError(f"no {table} record with {match}")


def test_ids_are_registered_on_import() -> None:
    assert "toolgym/Retail-v0" in toolgym.registered_ids()


def test_check_env_passes() -> None:
    env = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped)


def test_reset_info_holds_schemas_prompt_and_no_task() -> None:
    env = make(action_format="hermes")
    obs, info = env.reset(seed=3)
    assert "free play" in obs
    assert len(info["tools"]) == 16
    assert {t["function"]["name"] for t in info["tools"]} >= {"get_order_details", "cancel_pending_order"}
    assert "<tool_call>" in info["system_prompt"] and "authenticate" in info["system_prompt"]
    assert info["task_id"] is None


def test_tool_call_message_and_reward() -> None:
    env = make()
    env.reset(seed=0)
    world = env.unwrapped.world
    order_id, order = first(world, "orders", status="pending")
    obs, reward, term, trunc, info = env.step(
        json.dumps({"name": "get_order_details", "arguments": {"order_id": order_id}})
    )
    assert json.loads(obs) == order
    assert (reward, term, trunc) == (0.0, False, False)
    assert info["action_type"] == "tool_call" and info["tool"] == "get_order_details" and "error" not in info
    action = {
        "name": "cancel_pending_order",
        "arguments": {"order_id": order_id, "reason": "ordered by mistake"},
    }
    obs, *_ = env.step(action)
    assert json.loads(obs)["status"] == "cancelled"
    assert env.unwrapped.world.get("orders", order_id)["status"] == "cancelled"
    obs, reward, term, trunc, info = env.step("All done, your order is cancelled.")
    assert (obs, reward, term, trunc, info["action_type"]) == ("", 0.0, True, False, "message")
    assert env.unwrapped.answer == "All done, your order is cancelled."


def test_episodes_do_not_share_writes() -> None:
    env = make()
    env.reset(seed=5)
    order_id, _ = first(env.unwrapped.world, "orders", status="pending")
    env.step(
        {"name": "cancel_pending_order", "arguments": {"order_id": order_id, "reason": "no longer needed"}}
    )
    env.reset(seed=5)
    assert env.unwrapped.world.get("orders", order_id)["status"] == "pending"


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ('{"name": "get_order_details", "arguments": {', "not valid JSON"),
        ('{"name": "fly_me", "arguments": {}}', "unknown tool 'fly_me'"),
        ('{"name": "get_order_details", "arguments": {"order_id": 7}}', "order_id must be string"),
        ('{"name": "get_order_details", "arguments": {"order_id": "#W0"}}', "order not found"),
        ({"nothing": 1}, "structured action"),
    ],
)
def test_bad_actions_give_error_observations(action: object, error: str) -> None:
    env = make()
    env.reset(seed=0)
    h = env.unwrapped.world.hash()
    obs, reward, term, trunc, info = env.step(action)
    assert obs.startswith("Error: ") and error in obs
    assert error in info["error"]
    assert (reward, term, trunc) == (0.0, False, False)
    assert env.unwrapped.world.hash() == h


def test_non_text_action_is_malformed_not_a_crash() -> None:
    env = make()
    env.reset(seed=0)
    obs, *_, info = env.unwrapped.step(12345)  # type: ignore[arg-type]
    assert obs.startswith("Error: an action must be text")
    assert info["action_type"] == "malformed"


def test_truncation_at_turn_limit_and_step_after_end() -> None:
    env = make(max_turns=2)
    env.reset(seed=0)
    assert env.step('{"name": "think", "arguments": {"thought": "a"}}')[3] is False
    obs, _reward, term, trunc, _ = env.step('{"name": "think", "arguments": {"thought": "b"}}')
    assert (term, trunc) == (False, True)
    obs, *_ = env.unwrapped.step("hello?")
    assert obs.startswith("Error: the episode is over")


def test_transfer_terminates() -> None:
    env = make()
    env.reset(seed=0)
    obs, _, term, trunc, _ = env.step({"name": "transfer_to_human_agents", "arguments": {"summary": "x"}})
    assert (obs, term, trunc) == ("Transfer successful", True, False)


def test_extra_tool_calls_are_ignored_with_a_note() -> None:
    env = make(action_format="hermes")
    env.reset(seed=0)
    call = '<tool_call>{"name": "think", "arguments": {"thought": "x"}}</tool_call>'
    obs, *_ = env.step(call * 3)
    assert "2 more were ignored" in obs


def test_scripted_user_conversation() -> None:
    env = make(user="scripted", user_kwargs={"replies": ["yes please", "thanks ###STOP###"], "opening": "hi"})
    obs, _ = env.reset(seed=0)
    assert obs == "hi"
    assert env.step("Shall I proceed?")[0:3] == ("yes please", 0.0, False)
    obs, _, term, *_ = env.step("Done.")
    assert (obs, term) == ("thanks ###STOP###", True)


def test_scripted_user_object_and_bad_user_specs() -> None:
    env = RetailEnv(world_size=SMALL, user=ScriptedUser(["ok"]))
    env.reset(seed=0)
    assert env.step("hello")[0] == "ok"
    with pytest.raises(ValueError, match="unknown user kind 'robot'"):
        make(user="robot")
    with pytest.raises(ValueError, match="cannot build user 'scripted'"):
        make(user="scripted", user_kwargs={"lines": []})
    with pytest.raises(ValueError, match="unknown action format 'yaml'"):
        make(action_format="yaml")
    with pytest.raises(ValueError, match="max_turns"):
        make(max_turns=0)
    with pytest.raises(ValueError, match="unknown world_size keys"):
        make(world_size={"n_planets": 3})
    with pytest.raises(ValueError, match="positive integer"):
        make(world_size={"n_users": -1})


def test_same_seed_same_world_and_observations() -> None:
    def run(seed: int) -> tuple[str, list[str]]:
        env = make()
        env.reset(seed=seed)
        world = env.unwrapped.world
        order_id, _ = first(world, "orders", status="pending")
        out = [env.step({"name": "get_order_details", "arguments": {"order_id": order_id}})[0]]
        out.append(
            env.step(
                {
                    "name": "cancel_pending_order",
                    "arguments": {"order_id": order_id, "reason": "no longer needed"},
                }
            )[0]
        )
        return world.hash(), out

    assert run(11) == run(11)
    assert run(11)[0] != run(12)[0]


def test_fixed_world_from_dict() -> None:
    data = RetailEnv(world_size=SMALL).episode_world(1, {}).to_dict()
    env = gym.make("toolgym/Retail-v0", world=data)
    env.reset(seed=0)
    assert env.unwrapped.world.to_dict() == data
    with pytest.raises(ValueError, match="either a world or world_size"):
        RetailEnv(world=data, world_size=SMALL)


def test_render_ansi() -> None:
    env = make(render_mode="ansi")
    env.reset(seed=0)
    env.step({"name": "think", "arguments": {"thought": "plan"}})
    text = env.render()
    assert "assistant → think" in text
    assert make().unwrapped.render() is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs(mode: str) -> None:
    kwargs = {"vector_kwargs": {"shared_memory": False}} if mode == "async" else {}
    venv = gym.make_vec("toolgym/Retail-v0", num_envs=4, vectorization_mode=mode, world_size=SMALL, **kwargs)
    try:
        obs, _ = venv.reset(seed=7)
        assert len(obs) == 4 and all("free play" in o for o in obs)
        actions = ['{"name": "list_all_product_types", "arguments": {}}'] * 3 + ["bye"]
        obs, rewards, terms, _truncs, _infos = venv.step(actions)
        assert all(json.loads(o) for o in obs[:3])
        assert list(terms) == [False, False, False, True]
        assert list(rewards) == [0.0] * 4
    finally:
        venv.close()


def test_long_tool_results_can_be_cut_for_small_contexts() -> None:
    env = gym.make(
        "toolgym/Retail-v0",
        action_format="json",
        world_size={"n_users": 10, "n_orders": 20},
        max_observation_chars=50,
    )
    env.reset(seed=0)
    obs, *_ = env.step('{"name": "list_all_product_types", "arguments": {}}')
    head, notice = obs.split("\n")
    assert len(head) == 50 and notice.startswith("[output cut: ") and notice.endswith(" more characters]")
    whole = gym.make("toolgym/Retail-v0", action_format="json", world_size={"n_users": 10, "n_orders": 20})
    whole.reset(seed=0)
    full, *_ = whole.step('{"name": "list_all_product_types", "arguments": {}}')
    assert full.startswith(head) and len(full) == 50 + int(notice.split()[2])
    with pytest.raises(ValueError, match="max_observation_chars"):
        gym.make("toolgym/Retail-v0", max_observation_chars=0)
