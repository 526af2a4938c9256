"""Benchmarks of the sandbox and the CaT filter against DESIGN.md's budgets (``nox -s bench``; no time asserted)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from bench_timing import per_call
from toolgym.envs.retail import generated_world
from toolgym.tasks import TaskRunner, load_bank, validate_many

from toolgym.sandbox import SandboxPool

pytestmark = pytest.mark.bench

VERIFIER_BUDGET_S = 3e-3
TAU_BENCH_REWARD_S = 240e-3  # τ-bench reloads the JSON, replays the gold actions and hashes, per episode


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(2) as p:
        yield p.warm()


def test_verifier_latency_warm_pool(pool: SandboxPool) -> None:
    bank = load_bank("retail-v0")
    task = bank.tasks[0]
    world = generated_world(task.world["seed"]).fork()  # τ-bench size: 500 users, 1,000 orders
    pool.evaluate(task.verifier, world, "")  # ships the world's base to a worker once
    pool.evaluate(task.verifier, world, "")
    seconds = per_call(lambda: pool.evaluate(task.verifier, world, "an answer"), 200)
    print(
        f"\n{'verifier run through the sandbox (warm pool)':<48} median {seconds * 1e3:6.2f} ms   budget "
        f"{VERIFIER_BUDGET_S * 1e3:.1f} ms ({seconds / VERIFIER_BUDGET_S:4.2f}× budget)   τ-bench reward "
        f"{TAU_BENCH_REWARD_S * 1e3:.0f} ms ({TAU_BENCH_REWARD_S / seconds:5.0f}× faster)"
    )


def test_hashing_verifier_latency_after_a_write(pool: SandboxPool) -> None:
    """τ-bench's kind of check: the whole final database's canonical hash, after the episode changed an order."""
    world = generated_world(0).fork()
    order_id = next(k for k, o in world.table("orders") if o["status"] == "pending")
    world.edit("orders", order_id)["status"] = "cancelled"
    expected = world.hash()
    verifier = f"def evaluate(state, answer):\n    return state_hash(state) == {expected!r}\n"
    assert pool.evaluate(verifier, world, "").value is True
    pool.evaluate(verifier, world, "")
    seconds = per_call(lambda: pool.evaluate(verifier, world, ""), 100)
    print(
        f"\n{'hash-comparing verifier after a write (warm pool)':<48} median {seconds * 1e3:6.2f} ms   budget "
        f"{VERIFIER_BUDGET_S * 1e3:.1f} ms ({seconds / VERIFIER_BUDGET_S:4.2f}× budget)   τ-bench reward "
        f"{TAU_BENCH_REWARD_S * 1e3:.0f} ms ({TAU_BENCH_REWARD_S / seconds:5.0f}× faster)"
    )


def test_code_action_latency(pool: SandboxPool) -> None:
    seconds = per_call(lambda: pool.run_code("print(sum(range(100)))"), 200)
    print(f"\n{'empty code action round trip (warm pool)':<48} median {seconds * 1e3:6.2f} ms")


def test_validation_throughput_1000_tasks(pool: SandboxPool) -> None:
    bank = load_bank("retail-v0")
    batch = [
        dataclasses.replace(task, id="", instruction=f"{task.instruction} (copy {i})")
        for i in range(1000 // len(bank) + 1)
        for task in bank.tasks
    ][:1000]
    runner = TaskRunner(pool)
    started = time.perf_counter()
    report = validate_many(batch, runner)
    seconds = time.perf_counter() - started
    print(
        f"\n{'CaT filter on 1,000 tasks (2 workers)':<48} {seconds:6.1f} s   {len(batch) / seconds:6.1f} tasks/s   "
        f"kept {len(report.kept)}/{report.total}"
    )
    assert len(report.kept) == report.total  # the shipped tasks are valid: a rejection here is a real bug
