"""The ``toolgym`` command line."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

import toolgym
from toolgym.actions import CodeBlock, Message, ToolCall
from toolgym.env import ToolEnv


def _env_kwargs(pairs: Sequence[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--kw expects KEY=VALUE, got {pair!r}")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    return kwargs


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def play(args: argparse.Namespace) -> int:
    """Run the env's demonstration episode and print every turn.

    Args:
        args: Parsed command-line arguments.

    Returns:
        The exit status.
    """
    kwargs = _env_kwargs(args.kw)
    if args.action_format is not None:
        kwargs["action_format"] = args.action_format
    env = gym.make(args.env, **kwargs)
    tool_env = env.unwrapped
    walkthrough = getattr(tool_env, "walkthrough", None)
    if not isinstance(tool_env, ToolEnv) or walkthrough is None:
        print(f"{args.env} has no demonstration episode", file=sys.stderr)
        return 2
    obs, info = env.reset(seed=args.seed)
    print(
        f"{args.env} · seed {args.seed} · {len(info['tools'])} tools · action format {info['action_format']}"
    )
    print(f"user: {obs}")
    fmt = tool_env.format
    for action in walkthrough():
        if isinstance(action, ToolCall):
            text = fmt.render(action)
        elif isinstance(action, CodeBlock):
            text = f"```python\n{action.source.rstrip()}\n```"
        else:
            text = action.content
        obs, reward, terminated, truncated, _step_info = env.step(text)
        who = "agent" if isinstance(action, Message) else "agent →"
        if isinstance(action, CodeBlock):
            text = text.replace("\n", "\n    ")
        print(f"{who} {text}")
        print(f"  ← {_clip(obs) or '(no reply)'}")
        if terminated or truncated:
            print(f"episode over: reward {reward}, terminated={terminated}, truncated={truncated}")
            break
    print(f"world hash: {tool_env.world.hash()}")
    env.close()
    return 0


def list_envs(args: argparse.Namespace) -> int:
    """Print the registered environment ids.

    Args:
        args: Parsed command-line arguments (unused).

    Returns:
        The exit status.
    """
    print("\n".join(toolgym.registered_ids()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``toolgym`` command.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(prog="toolgym", description="Gymnasium environments for LLM tool use.")
    parser.add_argument("--version", action="version", version=f"toolgym {toolgym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("play", help="run an environment's demonstration episode and print it")
    p.add_argument("--env", default="toolgym/Retail-v0", help="environment id (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="reset seed (default: %(default)s)")
    p.add_argument("--action-format", default=None, help="action format (default: the env's own)")
    p.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE", help="env argument (JSON value)")
    p.set_defaults(func=play)
    sub.add_parser("envs", help="list the registered environment ids").set_defaults(func=list_envs)
    for room in ("tasks", "baselines"):  # the outer rooms add their own command groups, if they have any
        module = f"toolgym.{room}.cli"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolgym`` command.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status
