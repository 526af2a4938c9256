"""The self-improvement loop of the paper: a challenger writes tasks, the executor trains on the ones it solves.

Round 0 evaluates the starting model on held-out test tasks of the domain's shipped bank. Each round then:

1. **challenge** — the challenger (the scripted one, or an LLM such as the current model itself) proposes tasks
   about a world none of the shipped tasks use; the Code-as-Task filter keeps the verified ones
   (``round-<r>/tasks.jsonl``, with the yield report and every proposal beside it);
2. **rollouts** — the current model plays every kept task ``rollouts_per_task`` times
   (``round-<r>/trajectories.jsonl``);
3. **train** — rejection fine-tuning on the successes (:func:`~toolgym.baselines.rft.run_rft`); the saved
   ``round-<r>/model`` plays the next round. Without a success the model stays as it was;
4. **evaluate** — the current model on the same test tasks, with the same seed, as round 0.

``results.json`` is rewritten after every phase, so an interrupted run leaves valid results; the plots are remade
from it after every round (:func:`~toolgym.baselines.loop_plots.plot_results`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
from toolgym.tasks.bank import atomic_write, read_tasks
from toolgym.tasks.challenge import run_challenge, write_challenge
from toolgym.tasks.challenger import WRITE_TOKENS, LLMChallenger
from toolgym.tasks.proposal import Proposal
from toolgym.tasks.scripted import ScriptedChallenger
from toolgym.tasks.validate import TaskRunner

from toolgym.policies import Policy
from toolgym.rollout import RolloutResults, rollout

from .loop_plots import plot_results, require_matplotlib
from .loop_records import LoopResult, RoundRecord
from .loop_settings import DEMO, LoopSettings
from .rft import load_player, run_rft
from .sft import NoTrainingDataError

__all__ = ["DEMO", "EventHook", "LoopResult", "LoopSettings", "RoundRecord", "plot_results", "run_loop"]

EventHook = Callable[[str, int, dict[str, Any]], None]
"""``on_event(phase, round, info)``: ``info["state"]`` is ``"begin"`` or ``"end"`` (with the phase's record);
``"step"`` events carry a training step's loss, ``"stopped"`` the reason a run ended early."""

EXPLORE_TURNS = 4
"""Exploration turns of an LLM challenger, as ``toolgym challenge`` uses by default."""

LLM_OBSERVATION_CHARS = 2000
"""Longest tool result an LLM challenger sees while exploring; longer ones are cut."""


class _Models:
    """The policy of the current model, loaded once and shared by the phases that play it."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        self.spec: str | None = None
        self.policy: Policy | None = None

    def get(self, spec: str) -> Policy:
        if self.policy is None or spec != self.spec:
            self.close()
            self.policy, self.spec = load_player(spec, self.device), spec
        return self.policy

    def close(self) -> None:
        # Frees the generation copy before training loads its own.
        if self.policy is not None:
            self.policy.close()
        self.policy, self.spec = None, None


def eval_task_ids(settings: LoopSettings) -> list[str]:
    """The held-out tasks every round is evaluated on: the first ``eval_tasks`` of the test split.

    Args:
        settings: The run's settings (``eval_families`` narrows the choice).

    Returns:
        Task ids.

    Raises:
        ValueError: If no test task is of the families asked for.
    """
    env = gym.make(settings.env, split="test")
    try:
        tasks = list(env.unwrapped.tasks)  # type: ignore[attr-defined]
    finally:
        env.close()
    if settings.eval_families is not None:
        wanted = set(settings.eval_families)
        tasks = [t for t in tasks if t.family in wanted]
    if not tasks:
        raise ValueError(
            f"no test task of {settings.env} is of the families {list(settings.eval_families or [])}"
        )
    return [t.id for t in tasks[: settings.eval_tasks]]


class _Run:
    """One run of the loop: the phases, the bookkeeping and the files."""

    def __init__(self, settings: LoopSettings, on_event: EventHook | None) -> None:
        self.settings = settings
        self.emit: EventHook = on_event or (lambda phase, number, info: None)
        self.result = LoopResult(settings, [], settings.out / "results.json")
        self.models = _Models(settings.device)
        self.eval_ids: list[str] = []
        self.action_format = settings.action_format

    def save(self) -> None:
        text = json.dumps(self.result.to_dict(), indent=2, ensure_ascii=False) + "\n"
        atomic_write(self.result.results_path, text.encode())

    def phase(self, record: RoundRecord, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a phase, time it, record it, save the results and tell the hook."""
        self.emit(name, record.round, {"state": "begin"})
        began = time.perf_counter()
        info = work()
        record.seconds[name] = time.perf_counter() - began
        setattr(record, "training" if name == "train" else name, info)
        self.save()
        self.emit(name, record.round, {"state": "end", **info, "seconds": record.seconds[name]})
        return info

    def policy_format(self, policy: Policy) -> str:
        # The model's own format, decided once, so every phase and the training data agree.
        if self.action_format is None:
            self.action_format = policy.action_format
        return self.action_format

    def play(self, spec: str, *, env_kwargs: dict[str, Any], out: Path, **options: Any) -> RolloutResults:
        s = self.settings
        policy = self.models.get(spec)
        kwargs = {"action_format": self.policy_format(policy), **env_kwargs}
        if s.max_turns is not None:
            kwargs["max_turns"] = s.max_turns
        return rollout(
            policy,
            s.env,
            sampling=s.sampling,
            env_kwargs=kwargs,
            batch_size=s.rollout_batch_size,
            out=out,
            progress=s.progress,
            guided=s.guided,
            demos=s.demos,
            first_call=s.first_call,
            **options,
        )

    def evaluate(self, record: RoundRecord) -> dict[str, Any]:
        earlier = next((r for r in self.result.rounds if r.eval and r.model == record.model), None)
        if earlier is not None and earlier is not record and earlier.eval is not None:
            # The same model on the same tasks with the same seed: its numbers stand; playing again costs time.
            return {**earlier.eval, "same_model_as_round": earlier.round}
        s = self.settings
        path = s.out / f"round-{record.round}" / "eval.jsonl"
        played = self.play(
            record.model,
            env_kwargs={},
            out=path,
            split="test",
            tasks=self.eval_ids,
            samples=s.eval_samples,
            seed=s.seed,
        )
        summary = played.summary()
        return {
            "pass_at_1": summary.pass_at(1),
            "mean_reward": summary.mean_reward,
            "episodes": summary.episodes,
            "tasks": len(self.eval_ids),
            "samples": s.eval_samples,
            "trajectories": str(path),
        }

    def challenge(self, record: RoundRecord, folder: Path) -> dict[str, Any]:
        s, number = self.settings, record.round
        seeds = [s.world_seed(number)]
        proposals: Iterable[Proposal]
        if s.challenger == "scripted":
            scripted = ScriptedChallenger(
                s.domain, families=list(s.families or ()) or None, world_seeds=seeds, seed=s.seed + number
            )
            proposals = scripted.proposals(s.tasks_per_round)
            info: dict[str, Any] = {"challenger": "scripted", **scripted.settings()}
        else:
            spec = record.model if s.challenger == "self" else s.challenger
            llm = LLMChallenger(
                self.models.get(spec),
                s.domain,
                explore_turns=EXPLORE_TURNS,
                sampling=s.sampling,
                write_sampling=dataclasses.replace(s.sampling, max_new_tokens=WRITE_TOKENS),
                world_seeds=seeds,
                guided=s.guided,
                batch_size=s.rollout_batch_size,
                max_observation_chars=LLM_OBSERVATION_CHARS,
            )
            proposals = llm.proposals(s.tasks_per_round, seed=s.seed + number, progress=s.progress)
            info = {**llm.settings(), "policy": spec, "seed": s.seed + number}
        with TaskRunner() as runner:
            result = run_challenge(proposals, runner=runner, settings=info)
        # The round's tasks are its train split: the rollout env plays them, and draws demonstrations from them.
        result.kept = [dataclasses.replace(t, split="train") for t in result.kept]
        tasks, report, every = write_challenge(result, folder / "tasks.jsonl")
        return {
            "challenger": s.challenger,
            "world_seed": seeds[0],
            "proposed": result.steps.get("proposed", 0),
            "kept": len(result.kept),
            "yield": len(result.kept) / max(1, result.steps.get("proposed", 0)),
            "steps": result.steps,
            "reasons": dict(result.reasons().most_common()),
            "tasks": str(tasks),
            "report": str(report),
            "proposals": str(every),
        }

    def rollouts(
        self, record: RoundRecord, folder: Path, *, name: str = "trajectories.jsonl"
    ) -> dict[str, Any]:
        s = self.settings
        assert record.challenge is not None
        tasks = read_tasks(record.challenge["tasks"])
        path = folder / name
        played = self.play(
            record.model,
            env_kwargs={"bank": tasks},
            out=path,
            split="train",
            samples=s.rollouts_per_task,
            seed=s.seed + record.round,
        )
        summary = played.summary()
        return {
            "episodes": summary.episodes,
            "successes": sum(t.success for t in played.trajectories),
            "mean_reward": summary.mean_reward,
            "action_format": self.action_format,
            "trajectories": str(path),
        }

    def train(self, record: RoundRecord, folder: Path) -> dict[str, Any]:
        assert record.rollouts is not None and record.played_by is not None
        rollouts = record.rollouts
        untrained = {
            "trained": False,
            "examples": 0,
            "steps": 0,
            "losses": [],
            "step_s": 0.0,
            "tokens_per_s": 0.0,
        }
        if not rollouts["successes"]:
            reason = f"no successful rollouts: 0 of {rollouts['episodes']} earned reward 1; the model stays as it was"
            return {**untrained, "reason": reason}
        self.models.close()
        settings = self.settings.rft_settings(
            trajectories=Path(rollouts["trajectories"]),
            out=folder,
            model=record.played_by,
            action_format=self.action_format,
            seed=self.settings.seed + record.round,
        )

        def on_step(step: dict[str, float]) -> None:
            self.emit("step", record.round, dict(step))

        try:
            trained = run_rft(settings, on_step=on_step)
        except NoTrainingDataError as exc:
            return {**untrained, "reason": f"{exc}; the model stays as it was"}
        record.model = f"hf:{trained.model_path}"
        return {
            "trained": True,
            "examples": trained.examples,
            "dropped": trained.dropped,
            "steps": len(trained.losses),
            "losses": trained.losses,
            "step_s": trained.step_s,
            "tokens_per_s": trained.tokens_per_s,
            "train_s": trained.train_s,
            "model": record.model,
            "reason": None,
        }

    def round(self, number: int) -> bool:
        """Play round ``number``; ``False`` when the run has to stop."""
        current = self.result.rounds[-1].model
        record = RoundRecord(round=number, model=current, played_by=current)
        self.result.rounds.append(record)
        folder = self.settings.out / f"round-{number}"
        challenge = self.phase(record, "challenge", lambda: self.challenge(record, folder))
        if not challenge["kept"]:
            lost = ", ".join(f"{k} {v}" for k, v in list(challenge["reasons"].items())[:4]) or "no proposal"
            record.stopped = self.result.stopped = (
                f"round {number}: the challenger kept none of its {challenge['proposed']} proposals ({lost})"
            )
            self.save()
            self.emit("stopped", number, {"reason": record.stopped})
            return False
        self.phase(record, "rollouts", lambda: self.rollouts(record, folder))
        self.phase(record, "train", lambda: self.train(record, folder))
        if self.settings.replay_train and record.training and record.training["trained"]:
            # The same tasks and seed as the rollouts, played by the trained model: the train-split gain.
            self.phase(record, "replay", lambda: self.rollouts(record, folder, name="replay.jsonl"))
        self.phase(record, "eval", lambda: self.evaluate(record))
        return True

    def run(self) -> LoopResult:
        s = self.settings
        require_matplotlib()  # before hours of work, not after
        s.out.mkdir(parents=True, exist_ok=True)
        self.eval_ids = eval_task_ids(s)
        try:
            start = RoundRecord(round=0, model=s.model)
            self.result.rounds.append(start)
            self.phase(start, "eval", lambda: self.evaluate(start))
            self.plot()
            for number in range(1, s.rounds + 1):
                going = self.round(number)
                self.plot()  # after every round, so an interrupted run has its plots too
                if not going:
                    break
        except BaseException as exc:
            # The results so far stay valid, and say the run broke off and why rather than "running".
            self.result.failed = f"{type(exc).__name__}: {exc}"
            self.save()
            raise
        finally:
            self.models.close()
        self.emit("done", len(self.result.rounds) - 1, {"status": self.result.status})
        return self.result

    def plot(self) -> None:
        self.result.plots = plot_results(self.result.results_path)
        self.save()


def run_loop(settings: LoopSettings, *, on_event: EventHook | None = None) -> LoopResult:
    """Run the self-improvement loop: evaluate, then challenge → rollouts → train → evaluate, round after round.

    Args:
        settings: The run's settings.
        on_event: Called as each phase begins and ends (see :data:`EventHook`), for a progress display.

    Returns:
        The rounds' records; also in ``settings.out / "results.json"``, with the plots beside it. A round whose
        challenger keeps no task ends the run (``LoopResult.stopped`` says why); a round without successes trains
        nothing and the next round plays the same model.

    Raises:
        ValueError: If no test task matches ``eval_families``, or the challenger cannot run with these settings.
        PolicyError: If a model cannot be loaded.
        ModuleNotFoundError: If matplotlib (the ``train`` extra) is missing.
    """
    return _Run(settings, on_event).run()
