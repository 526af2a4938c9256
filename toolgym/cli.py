"""The ``toolgym`` command line."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
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


def evaluate(args: argparse.Namespace) -> int:
    """Roll a policy out on an env's tasks and report Pass@k, pass^k and per-task results.

    Args:
        args: Parsed command-line arguments.

    Returns:
        The exit status.
    """
    from toolgym.policies import PolicyError, Sampling, load_policy
    from toolgym.rollout import rollout
    from toolgym.view import write_html

    kwargs = _env_kwargs(args.kw)
    if args.data_dir is not None:
        kwargs["data_dir"] = args.data_dir
    if args.max_turns is not None:
        kwargs["max_turns"] = args.max_turns
    options: dict[str, Any] = {}
    if args.action_format_override:
        options["action_format"] = args.action_format_override
    try:
        policy = load_policy(args.policy, model=args.model, **options)
        if args.user == "llm":
            user_policy = policy if args.user_policy in (None, args.policy) else load_policy(args.user_policy)
            kwargs.update(user="llm", user_kwargs={"policy": user_policy})
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.action_format is not None:
        kwargs["action_format"] = args.action_format
    guided = args.guided == "on" or (args.guided == "auto" and _guide_by_default(policy, args, kwargs))
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / f"{args.env.replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens)
    print(
        f"{args.env} · split {args.split} · policy {policy.name} ({policy.action_format}) · {args.samples} samples"
        f" · guided {'on' if guided else 'off'} · {args.demos} demonstrations"
    )
    try:
        results = rollout(
            policy,
            args.env,
            split=args.split,
            tasks=args.tasks.split(",") if args.tasks else None,
            max_tasks=args.max_tasks,
            samples=args.samples,
            seed=args.seed,
            sampling=sampling,
            env_kwargs=kwargs,
            batch_size=args.batch_size,
            out=out / "trajectories.jsonl",
            progress=not args.quiet,
            guided=guided,
            demos=args.demos,
            first_call=guided and args.first_call,
        )
    except (PolicyError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        policy.close()
    summary = results.summary()
    report = {
        "env": args.env,
        "split": args.split,
        "policy": policy.describe(),
        "sampling": sampling.to_dict(),
        "samples": args.samples,
        "guided": guided,
        "demos": args.demos,
        "first_call": guided and args.first_call,
        "seed": args.seed,
        "results": summary.to_dict(),
        "timings": {"wall_s": results.wall_s, "generate_s": results.generate_s, "env_s": results.env_s},
    }
    (out / "summary.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    html = write_html(out / "trajectories.jsonl", out / "trajectories.html")
    print(summary.table(per_task=args.per_task))
    print(f"\n{results.wall_s:.1f} s ({results.generate_s:.1f} s generating, {results.env_s:.2f} s in envs)")
    print(f"trajectories: {out / 'trajectories.jsonl'}\nsummary: {out / 'summary.json'}\nview: {html}")
    return 0


SMALL_MODEL_PARAMETERS = 3_000_000_000


def _guide_by_default(policy: Any, args: argparse.Namespace, env_kwargs: dict[str, Any]) -> bool:
    """Guidance is on by default for small local models in a format that has a grammar."""
    from toolgym.policies.guidance import GUIDED_FORMATS

    model = getattr(policy, "model", None)
    if model is None or not hasattr(model, "num_parameters"):
        return False
    action_format = env_kwargs.get("action_format")
    if action_format is None:
        probe = gym.make(args.env, **{k: v for k, v in env_kwargs.items() if k != "user_kwargs"})
        action_format = probe.unwrapped.format.name if isinstance(probe.unwrapped, ToolEnv) else None
        probe.close()
    return action_format in GUIDED_FORMATS and int(model.num_parameters()) < SMALL_MODEL_PARAMETERS


def view(args: argparse.Namespace) -> int:
    """Write a static HTML page of a trajectory file.

    Args:
        args: Parsed command-line arguments.

    Returns:
        The exit status.
    """
    from toolgym.trajectories import TrajectoryFileError
    from toolgym.view import write_html

    try:
        html = write_html(args.path, args.out)
    except (OSError, TrajectoryFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(html)
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
    e = sub.add_parser(
        "eval", help="evaluate a policy on an env's tasks (Pass@k, pass^k, trajectories, HTML view)"
    )
    e.add_argument("--env", default="toolgym/Retail-CaT-v1", help="environment id (default: %(default)s)")
    e.add_argument("--split", default="test", help="task split (default: %(default)s)")
    e.add_argument("--samples", type=int, default=1, help="episodes per task (default: %(default)s)")
    e.add_argument("--max-tasks", type=int, default=None, help="evaluate only the first N tasks")
    e.add_argument("--tasks", default=None, help="comma-separated task ids")
    e.add_argument(
        "--policy",
        default="hf:default",
        help="hf:default, hf:<path or id>, openai:<url> (default: %(default)s)",
    )
    e.add_argument("--model", default=None, help="model name for openai: policies")
    e.add_argument(
        "--policy-format",
        dest="action_format_override",
        default=None,
        help="override the policy's natural action format",
    )
    e.add_argument("--action-format", default=None, help="the env's action format (default: the env's own)")
    e.add_argument(
        "--user",
        choices=["direct", "llm"],
        default="direct",
        help="who the agent talks to (default: %(default)s)",
    )
    e.add_argument(
        "--user-policy", default=None, help="policy spec of the llm user (default: the agent's policy)"
    )
    e.add_argument("--data-dir", default=None, help="τ-bench data folder, for toolgym/TauRetail-v0")
    e.add_argument(
        "--guided",
        choices=["auto", "on", "off"],
        default="auto",
        help="constrain turns to valid calls or messages (auto: on for local models under 3B params in a "
        "format with a grammar: hermes, json, llama3)",
    )
    e.add_argument(
        "--demos", type=int, default=0, help="worked episodes of train tasks shown first (default: 0)"
    )
    e.add_argument(
        "--first-call", action="store_true", help="with guidance, the first turn must be a tool call"
    )
    e.add_argument("--max-turns", type=int, default=None, help="agent turns per episode")
    e.add_argument(
        "--temperature", type=float, default=0.7, help="sampling temperature (default: %(default)s)"
    )
    e.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default: %(default)s)")
    e.add_argument("--max-new-tokens", type=int, default=256, help="tokens per turn (default: %(default)s)")
    e.add_argument(
        "--batch-size", type=int, default=16, help="episodes generated together (default: %(default)s)"
    )
    e.add_argument("--seed", type=int, default=0, help="base seed (default: %(default)s)")
    e.add_argument("--out", default=None, help="run folder (default: runs/<env>-<time>)")
    e.add_argument("--per-task", action="store_true", help="print every task's result")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE", help="env argument (JSON value)")
    e.set_defaults(func=evaluate)
    v = sub.add_parser("view", help="write an HTML page of a trajectories.jsonl file")
    v.add_argument("path", help="the trajectories file")
    v.add_argument("--out", default=None, help="the HTML file (default: next to the trajectories)")
    v.set_defaults(func=view)
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
