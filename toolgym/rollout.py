"""Batched rollouts: many episodes at once, one generation call per turn across every live episode.

Episodes are (task, sample) pairs. Up to ``batch_size`` of them are live at a time; each turn the policy completes all
their conversations in one call, every env steps, finished episodes are written to the trajectory file at once and
replaced by waiting ones. On a CPU the ``transformers`` backend batches the calls; on GPUs a vLLM server behind the
``openai`` backend does.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

import toolgym
from toolgym.env import ToolEnv
from toolgym.metrics import EvalResults
from toolgym.policies import Policy, Sampling, load_policy
from toolgym.policies.guidance import action_grammar
from toolgym.progress import progress_bar
from toolgym.prompting import observation_message, opening_messages
from toolgym.sandbox import acquire_shared_pool, release_shared_pool
from toolgym.trajectories import Step, Trajectory, write_trajectories

EnvFactory = Callable[[], gym.Env[str, str]]


@dataclass
class RolloutResults:
    """The episodes of a rollout and what they cost.

    Attributes:
        trajectories: Every finished episode, in the order they were planned (task by task, sample by sample).
        path: The JSONL file they were written to, if any.
        wall_s: Wall-clock seconds of the whole rollout.
        generate_s: Seconds spent in the policy.
        env_s: Seconds spent in env ``reset`` and ``step`` (tools, sandbox, verifiers).
        startup_s: One-time seconds before the first episode: making the first env, starting a sandbox worker.
    """

    trajectories: list[Trajectory] = field(default_factory=list)
    path: Path | None = None
    wall_s: float = 0.0
    generate_s: float = 0.0
    env_s: float = 0.0
    startup_s: float = 0.0

    def summary(self) -> EvalResults:
        """Metrics over the episodes.

        Returns:
            Per-task results, pass@k, pass^k, action-type shares.
        """
        return EvalResults.from_trajectories(self.trajectories)

    def pass_at(self, k: int) -> float:
        """Pass@k averaged over tasks (unbiased estimator).

        Args:
            k: Samples allowed per task.

        Returns:
            The estimate.
        """
        return self.summary().pass_at(k)

    def pass_hat(self, k: int) -> float:
        """τ-bench's pass^k averaged over tasks: the chance that k samples all succeed.

        Args:
            k: Samples that must all succeed.

        Returns:
            The estimate.
        """
        return self.summary().pass_hat(k)

    @property
    def env_share(self) -> float:
        """Share of the wall time spent in envs and the sandbox once running (one-time startup excluded)."""
        running = self.wall_s - self.startup_s
        return self.env_s / running if running > 0 else 0.0


@dataclass
class _Episode:
    task_id: str | None
    sample: int
    seed: int
    env: gym.Env[str, str] | None = None
    trajectory: Trajectory | None = None
    tools: list[dict[str, Any]] | None = None
    native_tools: bool = False
    started: float = 0.0
    grammar: str | None = None
    call_grammar: str | None = None


@functools.lru_cache(maxsize=32)
def _grammar(action_format: str, tools: tuple[str, ...], require_call: bool) -> str:
    """The action grammar of a format and tool set, built once for every episode that shares them."""
    return action_grammar(action_format, [json.loads(t) for t in tools], require_call=require_call)


TURNS_RESERVED = 4
"""Turns of room a prompt keeps free in the context when demonstrations are added."""


def _demo_budget(agent: Policy, messages: list[dict[str, Any]], settings: Sampling) -> dict[str, int]:
    """Size the demonstrations to the model's context: what the opening and a few turns leave free."""
    context = getattr(agent, "context_length", None)
    count = getattr(agent, "count_tokens", None)
    if not context or count is None:
        return {}
    room = int(context) - int(count(messages)) - TURNS_RESERVED * settings.max_new_tokens
    return {"room_chars": max(0, 3 * room)}  # about three characters a token in these texts


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _task_ids(env: gym.Env[str, str]) -> list[str] | None:
    ids = getattr(env.unwrapped, "task_ids", None)
    return list(ids) if ids is not None else None


def _versions(env: gym.Env[str, str]) -> dict[str, Any]:
    import transformers

    versions: dict[str, Any] = {"toolgym": toolgym.__version__, "transformers": transformers.__version__}
    manifest = getattr(env.unwrapped, "bank_manifest", None)
    if manifest:
        versions["bank"] = {k: manifest.get(k) for k in ("name", "version", "sha256")}
    return versions


def plan_episodes(
    task_ids: Sequence[str] | None, *, samples: int, seed: int, episodes: int | None = None
) -> list[tuple[str | None, int, int]]:
    """The (task id, sample, reset seed) of every episode of a rollout.

    Args:
        task_ids: The tasks to play, or ``None`` for an env without tasks.
        samples: Episodes per task.
        seed: Base seed; episode ``i`` is reset with ``seed + i``.
        episodes: For an env without tasks, how many episodes (default: ``samples``).

    Returns:
        The plan, task by task, sample by sample.
    """
    if task_ids is None:
        return [(None, i, seed + i) for i in range(episodes or samples)]
    plan: list[tuple[str | None, int, int]] = []
    for t, task_id in enumerate(task_ids):
        for s in range(samples):
            plan.append((task_id, s, seed + t * samples + s))
    return plan


def rollout(
    policy: Policy | str,
    env: str | EnvFactory,
    *,
    split: str | None = None,
    tasks: Sequence[str] | None = None,
    max_tasks: int | None = None,
    samples: int = 1,
    seed: int = 0,
    sampling: Sampling | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 16,
    out: str | Path | None = None,
    progress: bool = False,
    on_episode: Callable[[Trajectory], None] | None = None,
    guided: bool = False,
    demos: int = 0,
    first_call: bool = False,
) -> RolloutResults:
    """Play episodes with a policy, many at once.

    Args:
        policy: A policy or a spec for :func:`~toolgym.policies.load_policy` (``"hf:default"``, …).
        env: A registered env id, or a function making a fresh env.
        split: For task envs made from an id, the split (``"train"``, ``"test"``).
        tasks: Task ids to play (default: every task of the env, in order).
        max_tasks: Play only the first ``max_tasks`` tasks.
        samples: Episodes per task.
        seed: Base seed for resets and sampling.
        sampling: Sampling settings (``seed`` is set per turn from ``seed``).
        env_kwargs: More arguments for ``gym.make``.
        batch_size: Most episodes live at once (one generation call covers them all).
        out: A JSONL file to write each finished episode to.
        progress: Show a progress bar.
        on_episode: Called with each finished trajectory.
        guided: Constrain every turn to the env's action grammar (a valid tool call or a message; see
            :mod:`toolgym.policies.guidance`). The env's format must be one with a grammar (hermes, json, llama3).
        demos: Worked episodes of other tasks shown before each task (task envs only; see
            :meth:`toolgym.tasks.CaTEnv.demonstrations`).
        first_call: With ``guided``, the first turn of every episode must be a tool call (like OpenAI's
            ``tool_choice="required"``): an agent has to look before it answers.

    Returns:
        The trajectories and timings.

    Raises:
        ValueError: For unknown task ids or a non-positive ``samples`` / ``batch_size``.
    """
    if samples < 1 or batch_size < 1:
        raise ValueError("samples and batch_size must be positive")
    agent = load_policy(policy)
    settings = sampling or Sampling()
    kwargs = dict(env_kwargs or {})
    if isinstance(env, str):
        env_id = env
        if split is not None:
            kwargs["split"] = split
        make: EnvFactory = lambda: gym.make(env_id, **kwargs)  # noqa: E731 - a closure over the id and kwargs
    else:
        env_id, make = getattr(env, "__name__", "custom"), env
    started = time.perf_counter()
    # Episodes take the shared sandbox pool at their first code action or verifier and give it back when they close;
    # holding a reference for the whole rollout keeps its workers warm between episodes instead of restarting them.
    pool = acquire_shared_pool()
    spare: list[gym.Env[str, str]] = []
    live: list[_Episode] = []
    bar = progress_bar(0, False, desc="episodes", unit="ep")
    try:
        spare.append(make())  # envs are reset for episode after episode rather than made anew
        pool.check("pass")  # start a worker now, not inside the first episode
        results = RolloutResults(
            path=Path(out) if out is not None else None, startup_s=time.perf_counter() - started
        )
        available = _task_ids(spare[0])
        chosen = list(tasks) if tasks is not None else available
        if tasks is not None and available is not None:
            unknown = sorted(set(tasks) - set(available))
            if unknown:
                raise ValueError(f"unknown task ids for {env_id}: {unknown[:5]}")
        if chosen is not None and max_tasks is not None:
            chosen = chosen[:max_tasks]
        plan = deque(_Episode(t, s, sd) for t, s, sd in plan_episodes(chosen, samples=samples, seed=seed))
        if results.path is not None:
            write_trajectories(results.path, [])  # start a fresh file; episodes are appended as they finish
        finished: dict[tuple[str | None, int], Trajectory] = {}
        order = [(e.task_id, e.sample) for e in plan]
        bar = progress_bar(len(plan), progress, desc="episodes", unit="ep")
        turn = 0
        while plan or live:
            while plan and len(live) < batch_size:
                episode = plan.popleft()
                env_now = spare.pop() if spare else make()
                results.env_s += _start(episode, env_now, env_id, agent, settings, guided=guided, demos=demos)
                live.append(episode)
            began = time.perf_counter()
            extra: dict[str, Any] = {}
            if guided:
                extra["grammars"] = [
                    e.call_grammar if first_call and e.trajectory and not e.trajectory.steps else e.grammar
                    for e in live
                ]
            texts = agent.generate(
                [e.trajectory.messages for e in live],  # type: ignore[union-attr]
                tools=[e.tools if e.native_tools else None for e in live],
                sampling=dataclasses.replace(settings, seed=seed * 100_003 + turn),
                **extra,
            )
            spent = time.perf_counter() - began
            results.generate_s += spent
            turn += 1
            still: list[_Episode] = []
            for episode, text in zip(live, texts, strict=True):
                episode.trajectory.timings["generate_s"] += spent / len(live)  # type: ignore[union-attr]
                done, env_s = _step(episode, text)
                results.env_s += env_s
                if not done:
                    still.append(episode)
                    continue
                assert episode.env is not None
                spare.append(episode.env)
                episode.env = None
                trajectory = episode.trajectory
                assert trajectory is not None
                trajectory.timings["total_s"] = time.perf_counter() - episode.started
                finished[(episode.task_id, episode.sample)] = trajectory
                if results.path is not None:
                    write_trajectories(results.path, [trajectory], append=True)
                if on_episode is not None:
                    on_episode(trajectory)
                bar.update(1)
            live = still
    finally:
        for env_left in spare + [e.env for e in live if e.env is not None]:
            env_left.close()
        bar.close()
        release_shared_pool(pool)
    results.wall_s = time.perf_counter() - started
    results.trajectories = [finished[key] for key in order]
    return results


def _start(
    episode: _Episode,
    env: gym.Env[str, str],
    env_id: str,
    agent: Policy,
    settings: Sampling,
    *,
    guided: bool = False,
    demos: int = 0,
) -> float:
    began = time.perf_counter()
    options = {"task_id": episode.task_id} if episode.task_id is not None else None
    obs, info = env.reset(seed=episode.seed, options=options)
    inner = env.unwrapped
    action_format = str(info.get("action_format", ""))
    episode.env = env
    episode.tools = list(info.get("tools", []))
    episode.native_tools = action_format == agent.action_format
    episode.started = time.perf_counter()
    if guided:
        tools = tuple(json.dumps(t, sort_keys=True) for t in episode.tools)
        episode.grammar = _grammar(action_format, tools, False)
        episode.call_grammar = _grammar(action_format, tools, True)
    messages = opening_messages(
        str(info.get("system_prompt", "")), obs, episode.tools, native_tools=episode.native_tools
    )
    if demos > 0:
        shown = getattr(inner, "demonstrations", None)
        if shown is None:
            raise ValueError(f"{env_id} has no demonstrations to show (demos=… needs a task env)")
        messages[1:1] = shown(demos, **_demo_budget(agent, messages, settings))
    episode.trajectory = Trajectory(
        env_id=env_id,
        task_id=info.get("task_id"),
        sample=episode.sample,
        seed=episode.seed,
        messages=messages,
        action_format=action_format,
        guided=guided,
        policy={**agent.describe(), "sampling": settings.to_dict()},
        timings={"generate_s": 0.0, "env_s": 0.0},
        versions=_versions(env) if isinstance(inner, ToolEnv) else {"toolgym": toolgym.__version__},
    )
    spent = time.perf_counter() - began
    episode.trajectory.timings["env_s"] += spent
    return spent


def _step(episode: _Episode, text: str) -> tuple[bool, float]:
    env, trajectory = episode.env, episode.trajectory
    assert env is not None and trajectory is not None
    began = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(text)
    done = terminated or truncated
    spent = time.perf_counter() - began
    trajectory.timings["env_s"] += spent
    trajectory.messages.append({"role": "assistant", "content": text})
    trajectory.messages.append(observation_message(obs, info.get("action_type")))
    trajectory.steps.append(Step(text, obs, float(reward), _jsonable(info)))
    if done:
        trajectory.reward = float(reward)
        trajectory.terminated, trajectory.truncated = bool(terminated), bool(truncated)
    return done, spent
