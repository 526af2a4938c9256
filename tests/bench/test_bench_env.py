"""Benchmarks of the env's hot paths against DESIGN.md's budgets (run with ``nox -s bench``; nothing is asserted on time)."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from bench_timing import per_call
from toolgym.envs.retail import generated_world

pytestmark = pytest.mark.bench


def report(what: str, seconds: float, budget: float, anchor: float, anchor_name: str) -> None:
    print(
        f"{what:<44} median {seconds * 1e6:9.1f} µs   budget {budget * 1e6:7.1f} µs ({seconds / budget:5.2f}× budget)"
        f"   {anchor_name} {anchor * 1e6:8.1f} µs ({anchor / seconds:6.1f}× faster)"
    )


@pytest.fixture(scope="module")
def env() -> gym.Env[str, str]:
    world = generated_world(0)  # τ-bench size: 500 users, 50 products, 1,000 orders
    return gym.make("toolgym/Retail-v0", world=world, action_format="json").unwrapped


def test_reset(env: gym.Env[str, str]) -> None:
    env.reset(seed=0)
    seconds = per_call(lambda: env.reset(seed=0), 2000)
    report("reset (τ-bench-size retail world)", seconds, 200e-6, 20e-3, "τ-bench re-reads JSON")


def test_step_json_read_tool(env: gym.Env[str, str]) -> None:
    env.reset(seed=0)
    order_id = next(iter(k for k, _ in env.world.table("orders")))
    action = json.dumps({"name": "get_order_details", "arguments": {"order_id": order_id}})
    env.step(action)

    def step() -> None:
        env.turn = 0  # keep the episode alive without a reset
        env.step(action)

    seconds = per_call(step, 5000)
    report("step: JSON parse + get_order_details", seconds, 50e-6, 17e-6, "τ-bench bare dispatch")


def test_step_write_tool_and_hash(env: gym.Env[str, str]) -> None:
    env.reset(seed=0)
    pending = [k for k, o in env.world.table("orders") if o["status"] == "pending"]

    def episode() -> None:
        env.reset(seed=0)
        env.step(
            {
                "name": "cancel_pending_order",
                "arguments": {"order_id": pending[0], "reason": "no longer needed"},
            }
        )
        env.world.hash()

    seconds = per_call(episode, 200)
    print(
        f"{'reset + cancel_pending_order + world hash':<44} median {seconds * 1e6:9.1f} µs   (τ-bench reward alone: ~240,000 µs)"
    )
