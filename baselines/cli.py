"""``toolgym train …``: rejection fine-tuning and GRPO from the command line (and the self-improvement loop).

``toolgym train rft`` maps its flags onto :class:`~toolgym.baselines.rft.RFTSettings` and runs one round;
``toolgym train grpo`` reads :class:`~toolgym.baselines.grpo.GRPOSettings` from a config with overrides, exactly
as ``python -m toolgym.baselines.grpo`` does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym

from toolgym.cli import _env_kwargs
from toolgym.policies import PolicyError, Sampling
from toolgym.trajectories import TrajectoryFileError, read_trajectories

from .cli_flags import add_option, field_defaults, settings_from_args
from .grpo import SettingsError, add_arguments, load_settings, overrides_from_args, train_grpo
from .loop_cli import add_loop_commands
from .rft import RFTResult, RFTSettings, run_rft
from .sft_data import KEEP_CHOICES

_SAMPLING = ("temperature", "top_p", "max_new_tokens")
_DEFAULTS = field_defaults(Sampling, RFTSettings)


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _check_env(env_id: str) -> None:
    """Fail on an unknown env id now, not after minutes of loading a model."""
    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"unknown environment {env_id!r}: {exc}") from exc


def rft_settings(args: argparse.Namespace) -> RFTSettings:
    """The settings of ``toolgym train rft``: the flags the user gave, every other field the dataclass default.

    Args:
        args: Parsed ``toolgym train rft`` arguments.

    Returns:
        The settings.

    Raises:
        ValueError: For a bad value (checked by the settings and :class:`~toolgym.policies.Sampling`) or a
            malformed ``--kw``.
    """
    try:
        env_kwargs = _env_kwargs(args.kw)
    except (
        SystemExit
    ) as exc:  # exiting suits `toolgym eval`; here it is one more bad argument, reported alike
        raise ValueError(str(exc.code)) from None
    settings: RFTSettings = settings_from_args(
        RFTSettings, args, _SAMPLING, env_kwargs=env_kwargs, progress=not args.quiet
    )
    return settings


def _eval_hint(result: RFTResult, settings: RFTSettings) -> str:
    """The ``toolgym eval`` line that plays the trained model the way it was trained."""
    action_format = settings.action_format
    if action_format is None:  # the rolling-out policy's own, as recorded with each trajectory
        first = next(read_trajectories(result.trajectories_path), None)
        action_format = first.action_format if first is not None else None
    fmt = f" --action-format {action_format}" if action_format else ""
    return f"toolgym eval --env {settings.env} --policy hf:{result.model_path}{fmt}"


def train_rft(args: argparse.Namespace) -> int:
    """One round of rejection fine-tuning: roll out, keep the successes, fine-tune, save.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0, or 2 for bad settings, a model that cannot be loaded, or nothing to train on.
    """
    try:
        settings = rft_settings(args)
        _check_env(settings.env)
        source = settings.trajectories or f"rollouts of {settings.teacher or settings.model}"
        print(
            f"{settings.env} · split {settings.split} · training {settings.model} on {source}"
            f" · keep {settings.keep}"
        )
        result = run_rft(settings)
    except (ValueError, PolicyError, OSError, gym.error.Error) as exc:
        # NoTrainingDataError, TrajectoryFileError and bad settings are ValueErrors; OSError is a missing file.
        return _fail(exc)
    losses = result.losses
    loss = f"loss {losses[0]:.3f} → {losses[-1]:.3f}" if losses else "no loss logged"
    print(
        f"{result.rollouts} rollouts, {result.successes} successes → {result.examples} examples "
        f"({result.dropped} too long)"
    )
    print(
        f"{len(losses)} steps · {loss} · {result.step_s:.2f} s/step · {result.tokens_per_s:,.0f} tokens/s · "
        f"{result.seconds:.1f} s ({result.rollout_s:.1f} s rolling out, {result.train_s:.1f} s training)"
    )
    print(f"model: {result.model_path}\nreport: {settings.out / 'rft.json'}")
    try:
        print(f"evaluate: {_eval_hint(result, settings)}")
    except (OSError, TrajectoryFileError):  # the hint is a courtesy; the run itself succeeded
        print(f"evaluate: toolgym eval --env {settings.env} --policy hf:{result.model_path}")
    return 0


def train_grpo_command(args: argparse.Namespace) -> int:
    """Train with GRPO, or print the settings with ``--dry-run``.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0, or 2 for bad settings, a missing config or a run that cannot start.
    """
    try:
        settings = load_settings(args.config, overrides_from_args(args))
    except (SettingsError, OSError) as exc:
        return _fail(exc)
    if args.dry_run:
        print(json.dumps(dataclasses.asdict(settings), indent=2))
        return 0
    print(
        f"{settings.env_id} · split {settings.split} · model {settings.model} · {settings.max_steps} steps · "
        f"{settings.num_generations} generations per prompt"
    )
    try:
        _check_env(settings.env_id)
        result = train_grpo(settings)
    except (ValueError, PolicyError, OSError, gym.error.Error) as exc:
        return _fail(exc)
    rewards = ", ".join(f"{r:.2f}" for r in result.rewards)
    print(
        f"{result.steps} steps ({result.path} path, {result.action_format} format) · rewards per step: {rewards}"
    )
    print(
        f"{result.step_s:.1f} s/step · {result.tokens_per_s:,.0f} tokens/s "
        f"({result.generated_tokens_per_s:,.1f} generated/s)"
    )
    print(f"model: {result.model_dir or 'not saved'}\nreport: {Path(settings.output_dir) / 'result.json'}")
    return 0


def _option(parser: argparse.ArgumentParser, flag: str, text: str, **kwargs: Any) -> None:
    add_option(parser, _DEFAULTS, flag, text, **kwargs)


def _add_rft(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = cmds.add_parser(
        "rft",
        help="rejection fine-tuning: roll out, keep the successes, fine-tune",
        description="One round of rejection fine-tuning (or distillation with --teacher and --keep all).",
    )
    _option(r, "--env", "environment id")
    _option(r, "--model", "the model to train: hf:default or hf:<folder or hub id>")
    _option(r, "--split", "task split to roll out on")
    _option(r, "--rollouts-per-task", "episodes per task", type=int)
    _option(r, "--max-tasks", "play only the first N tasks (default: all)", type=int)
    _option(r, "--max-turns", "agent turns per episode (default: the env's)", type=int)
    _option(r, "--action-format", "the env's action format (default: the rolling-out policy's own)")
    _option(r, "--guided", "constrain each turn to a valid action", action="store_true")
    _option(r, "--first-call", "with --guided, the first turn must be a tool call", action="store_true")
    _option(r, "--demos", "worked episodes of other train tasks shown first", type=int)
    _option(r, "--temperature", "sampling temperature", type=float)
    _option(r, "--top-p", "nucleus sampling mass", type=float)
    _option(r, "--max-new-tokens", "tokens per turn", type=int)
    _option(r, "--teacher", "a policy spec that plays the rollouts instead of --model (e.g. openai:<url>)")
    _option(r, "--trajectories", "train on this trajectories.jsonl instead of rolling out", type=Path)
    _option(r, "--keep", "success (rejection fine-tuning) or all (distillation)", choices=KEEP_CHOICES)
    _option(
        r, "--no-keep-demos", "drop demonstrations from the context", action="store_false", dest="keep_demos"
    )
    _option(r, "--max-length", "longest example in tokens (default: the model's context)", type=int)
    _option(r, "--epochs", "passes over the examples", type=float)
    _option(r, "--learning-rate", "peak learning rate", type=float)
    _option(r, "--batch-size", "examples per forward pass", type=int)
    _option(r, "--grad-accum", "forward passes per optimiser step", type=int)
    _option(r, "--lora", "train a LoRA adapter, merged into the saved model", action="store_true")
    _option(r, "--lora-rank", "the adapter's rank", type=int)
    _option(r, "--seed", "seeds rollouts and training", type=int)
    _option(r, "--out", "run folder: trajectories.jsonl, model/, rft.json", type=Path)
    _option(r, "--rollout-batch-size", "episodes generated together", type=int)
    _option(r, "--device", "cpu or cuda (default: the GPU when there is one)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE", help="env argument (JSON value)")
    r.set_defaults(func=train_rft)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` command group, ``self-improve`` and ``demo`` to the ``toolgym`` parser.

    Args:
        sub: The top-level subparsers.
    """
    train = sub.add_parser("train", help="train a policy on an env's tasks (rejection fine-tuning, GRPO)")
    cmds = train.add_subparsers(dest="train_command", required=True)
    _add_rft(cmds)
    g = cmds.add_parser(
        "grpo",
        help="GRPO with TRL, settings from a config with overrides",
        description="GRPO on a toolgym env: --config, then the flags below, then each --set, later ones winning.",
    )
    add_arguments(g)
    g.set_defaults(func=train_grpo_command)
    add_loop_commands(sub)
