"""``toolgym self-improve`` and ``toolgym demo``: the self-improvement loop from the command line.

``self-improve`` maps its flags onto :class:`~toolgym.baselines.loop_settings.LoopSettings` (a flag left out keeps
the field's default); ``demo`` runs :data:`~toolgym.baselines.loop_settings.DEMO`, the whole loop kept small.
Both print a line per phase, the before/after table and the files written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym

from toolgym.policies import PolicyError, Sampling

from .cli_flags import add_option, field_defaults, settings_from_args
from .loop import LoopResult, run_loop
from .loop_settings import DEMO, LoopSettings

_SAMPLING = ("temperature", "max_new_tokens")
_DEFAULTS = field_defaults(Sampling, LoopSettings)


def _describe(phase: str, info: dict[str, Any]) -> str | None:
    """One line on a finished phase."""
    if phase == "challenge":
        return f"challenge: {info['kept']} of {info['proposed']} proposals kept ({info['yield']:.0%})"
    if phase == "rollouts":
        return f"rollouts: {info['successes']} of {info['episodes']} episodes solved (mean reward {info['mean_reward']:.3f})"
    if phase == "replay":
        return f"replay: the trained model solved {info['successes']} of the same {info['episodes']} episodes (mean reward {info['mean_reward']:.3f})"
    if phase == "train":
        if not info["trained"]:
            return f"train: nothing trained — {info['reason']}"
        losses = info["losses"]
        loss = f", loss {losses[0]:.3f} → {losses[-1]:.3f}" if losses else ""
        return (
            f"train: {_count(info['examples'], 'example')}, {_count(info['steps'], 'step')}{loss}, "
            f"{info['tokens_per_s']:,.0f} tokens/s"
        )
    if phase == "eval":
        again = (
            f" (same model as round {info['same_model_as_round']})" if "same_model_as_round" in info else ""
        )
        return f"eval: test pass@1 {info['pass_at_1']:.3f}, mean reward {info['mean_reward']:.3f} over {info['episodes']} episodes{again}"
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _show(phase: str, number: int, info: dict[str, Any]) -> None:
    """The progress display: a line as each phase begins and ends (rollouts and training draw their own bars)."""
    if phase == "stopped":
        print(f"[round {number}] stopped: {info['reason']}", flush=True)
        return
    if info.get("state") == "begin":
        print(f"[round {number}] {phase} …", flush=True)
        return
    line = _describe(phase, info) if info.get("state") == "end" else None
    if line is not None:
        print(f"[round {number}] {line} · {info['seconds']:.1f} s", flush=True)


def _print_result(result: LoopResult) -> None:
    print()
    print(result.table())
    print(f"results: {result.results_path}")
    print(f"plots: {', '.join(str(p) for p in result.plots)}")
    for record in result.rounds:
        files = [
            f"{name} {part['trajectories']}"
            for name, part in (
                ("rollouts", record.rollouts),
                ("replay", record.replay),
                ("eval", record.eval),
            )
            if part and "same_model_as_round" not in part
        ]
        if files:
            print(f"round {record.round} trajectories: {'; '.join(files)}")
    print(f"final model: {result.rounds[-1].model}")


def _run(settings: LoopSettings, quiet: bool) -> int:
    try:
        result = run_loop(settings, on_event=None if quiet else _show)
    except (ValueError, PolicyError, OSError, ModuleNotFoundError, gym.error.Error) as exc:
        # Bad settings, a model that cannot load, a missing file or matplotlib: a line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_result(result)
    return 0


def loop_settings(args: argparse.Namespace) -> LoopSettings:
    """The settings of ``toolgym self-improve``: the flags given, every other field the dataclass default.

    Args:
        args: Parsed arguments.

    Returns:
        The settings.

    Raises:
        ValueError: For a bad value.
    """
    settings: LoopSettings = settings_from_args(LoopSettings, args, _SAMPLING, progress=not args.quiet)
    return settings


def self_improve(args: argparse.Namespace) -> int:
    """Run the self-improvement loop.

    Args:
        args: Parsed arguments.

    Returns:
        0, or 2 for bad settings or a run that cannot go on.
    """
    try:
        settings = loop_settings(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"self-improvement: {settings.model} · {settings.rounds} rounds · challenger {settings.challenger} · "
        f"{settings.tasks_per_round} proposals a round · out {settings.out}",
        flush=True,
    )
    return _run(settings, args.quiet)


def demo(args: argparse.Namespace) -> int:
    """Run the small demonstration of the loop on the embedded model and the CPU.

    Args:
        args: Parsed arguments.

    Returns:
        0, or 2 if the run cannot go on (e.g. the embedded model is not installed).
    """
    settings = dataclasses.replace(DEMO, out=args.out or DEMO.out, progress=not args.quiet)
    print(
        f"demo: {settings.rounds} round of the self-improvement loop on {settings.model}, {settings.device}, "
        f"families {', '.join(settings.families or ())} (about 5 minutes on 2 cores) · out {settings.out}",
        flush=True,
    )
    return _run(settings, args.quiet)


def _option(parser: argparse.ArgumentParser, flag: str, text: str, **kwargs: Any) -> None:
    add_option(parser, _DEFAULTS, flag, text, **kwargs)


def add_loop_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``toolgym self-improve`` and ``toolgym demo``.

    Args:
        sub: The top-level subparsers.
    """
    s = sub.add_parser(
        "self-improve",
        help="the self-improvement loop: challenge, roll out, fine-tune on successes, evaluate, repeat",
        description="Rounds of challenger → executor: each round a challenger writes tasks, the model plays them, "
        "trains on its successes and is evaluated on held-out test tasks.",
    )
    _option(s, "--domain", "tool domain")
    _option(s, "--model", "the starting model: hf:default or hf:<folder or hub id>")
    _option(s, "--rounds", "rounds after the round-0 evaluation", type=int)
    _option(s, "--challenger", "scripted, self (the current model) or a policy spec (hf:…, openai:…)")
    _option(s, "--families", "scripted challenger: comma-separated task families (default: all)")
    _option(s, "--tasks-per-round", "proposals per round", type=int)
    _option(s, "--rollouts-per-task", "episodes per kept task", type=int)
    _option(
        s,
        "--replay-train",
        "replay the round's tasks with the trained model (train reward after training)",
        action=argparse.BooleanOptionalAction,
    )
    _option(s, "--eval-tasks", "held-out test tasks evaluated every round", type=int)
    _option(s, "--eval-samples", "episodes per test task", type=int)
    _option(s, "--eval-families", "evaluate only test tasks of these comma-separated families (default: all)")
    _option(s, "--max-turns", "agent turns per episode (default: the env's)", type=int)
    _option(s, "--action-format", "the env's action format (default: the model's own)")
    _option(s, "--guided", "constrain each turn to a valid action", action=argparse.BooleanOptionalAction)
    _option(s, "--first-call", "with --guided, the first turn must be a tool call", action="store_true")
    _option(s, "--demos", "worked episodes of other tasks shown first", type=int)
    _option(
        s,
        "--keep-demos",
        "keep shown demonstrations in the training examples",
        action=argparse.BooleanOptionalAction,
    )
    _option(s, "--max-new-tokens", "tokens per turn", type=int)
    _option(s, "--temperature", "sampling temperature", type=float)
    _option(s, "--epochs", "passes over each round's examples", type=float)
    _option(s, "--learning-rate", "peak learning rate", type=float)
    _option(s, "--grad-accum", "examples per optimiser step", type=int)
    _option(s, "--max-length", "longest training example in tokens (default: the model's context)", type=int)
    _option(s, "--seed", "seeds evaluation, rollouts, challenger and training", type=int)
    _option(s, "--out", "run folder: results.json, plots, round-<r>/", type=Path)
    _option(s, "--rollout-batch-size", "episodes generated together", type=int)
    _option(s, "--device", "cpu or cuda (default: the GPU when there is one)")
    s.add_argument("--quiet", action="store_true", help="no progress display")
    s.set_defaults(func=self_improve)
    d = sub.add_parser(
        "demo",
        help="the self-improvement loop, small: one round on the embedded model, CPU (about 5 minutes on 2 cores)",
        description="One round of the self-improvement loop on hf:default with the settings of "
        "toolgym.baselines.loop.DEMO; prints the before/after table and the files written.",
    )
    d.add_argument("--out", type=Path, default=None, help=f"run folder (default: {DEMO.out})")
    d.add_argument("--quiet", action="store_true", help="no progress display")
    d.set_defaults(func=demo)
