"""``toolgym challenge``: have a challenger (an LLM, or the scripted one) write tasks, filter them, save a bank."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolgym.domains import available_domains
from toolgym.policies import PolicyError, Sampling, load_policy

from .challenge import Band, ChallengeResult, run_challenge, write_challenge
from .proposal import Proposal
from .scripted import ScriptedChallenger
from .validate import TaskRunner


def _seeds(text: str) -> list[int]:
    """``"0-7"`` or ``"0,3,5"`` → the seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            first, dash, last = part.strip().partition("-")
            seeds += list(range(int(first), int(last) + 1)) if dash else [int(first)]
    except ValueError:
        raise SystemExit(f"--world-seeds expects e.g. 0-7 or 0,3,5, got {text!r}") from None
    if not seeds:
        raise SystemExit("--world-seeds names no seed")
    return seeds


def _scripted(args: argparse.Namespace, seeds: list[int]) -> tuple[Iterator[Proposal], dict[str, Any]]:
    families = [f.strip() for f in args.families.split(",")] if args.families else None
    challenger = ScriptedChallenger(args.domain, families=families, world_seeds=seeds, seed=args.seed)
    return challenger.proposals(args.n), {"challenger": "scripted", **challenger.settings()}


def _llm(args: argparse.Namespace, seeds: list[int]) -> tuple[Iterator[Proposal], dict[str, Any]]:
    from .challenger import LLMChallenger

    policy = load_policy(args.policy, model=args.model)
    explore = Sampling(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.explore_tokens)
    write = Sampling(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens)
    challenger = LLMChallenger(
        policy,
        args.domain,
        explore_turns=args.explore_turns,
        sampling=explore,
        write_sampling=write,
        world_seeds=seeds,
        guided=args.guided,
        batch_size=args.batch_size,
        max_observation_chars=args.max_observation_chars,
    )

    settings = {
        **challenger.settings(),
        "policy": args.policy,
        "served_model": args.model,
        "max_observation_chars": args.max_observation_chars,
        "seed": args.seed,
    }
    return challenger.proposals(args.n, seed=args.seed, progress=not args.quiet), settings


def challenge(args: argparse.Namespace) -> int:
    """Generate tasks with a challenger, filter them and write the kept ones with a yield report.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0 when the run finished (even if nothing was kept), 2 for bad arguments or a policy that cannot load.
    """
    if args.domain not in available_domains():
        print(f"error: unknown domain {args.domain!r}; known: {available_domains()}", file=sys.stderr)
        return 2
    if (args.policy is None) == (not args.scripted):
        print("error: give either --policy SPEC (an LLM challenger) or --scripted", file=sys.stderr)
        return 2
    if args.n < 1:
        print(f"error: --n must be positive, got {args.n}", file=sys.stderr)
        return 2
    seeds = _seeds(args.world_seeds)
    band = None
    if args.band_policy:
        low, high = args.band
        band = Band(args.band_policy, low, high, args.band_samples, {"max_turns": args.band_max_turns})
    try:
        proposals, settings = (_scripted if args.scripted else _llm)(args, seeds)
        with TaskRunner() as runner:
            result = run_challenge(
                proposals, runner=runner, screen=not args.no_screen, band=band, settings=settings
            )
    except (PolicyError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tasks_path, report_path, proposals_path = write_challenge(result, args.out)
    _print(result, tasks_path, report_path, proposals_path)
    return 0


def _print(result: ChallengeResult, tasks: Path, report: Path, proposals: Path) -> None:
    seconds = result.seconds
    print(
        f"{result.steps['proposed']} proposals in {seconds['propose']:.1f} s, "
        f"validated in {seconds['validate']:.1f} s, screened in {seconds['screen']:.1f} s"
    )
    print(result.table())
    print(f"kept {len(result.kept)} tasks: {tasks}")
    print(f"report: {report}\nevery proposal: {proposals}")


def add_challenge_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``toolgym challenge`` to the ``toolgym`` parser.

    Args:
        sub: The top-level subparsers.
    """
    c = sub.add_parser(
        "challenge", help="write Code-as-Task tasks with a challenger and keep the verified ones"
    )
    c.add_argument("--domain", default="retail", help="tool domain (default: %(default)s)")
    c.add_argument("--policy", default=None, help="LLM challenger: hf:default, hf:<path>, openai:<url>")
    c.add_argument("--model", default=None, help="model name for openai: policies")
    c.add_argument("--scripted", action="store_true", help="use the domain's scripted task families instead")
    c.add_argument("--families", default=None, help="scripted: comma-separated family names (default: all)")
    c.add_argument("--n", type=int, default=200, help="proposals to make (default: %(default)s)")
    c.add_argument("--out", required=True, help="the tasks file to write, e.g. banks/my-retail.jsonl")
    c.add_argument(
        "--world-seeds", default="0-7", help="worlds to explore, e.g. 0-7 or 0,3 (default: %(default)s)"
    )
    c.add_argument("--seed", type=int, default=0, help="base seed (default: %(default)s)")
    c.add_argument("--explore-turns", type=int, default=4, help="LLM: tool-call turns before writing")
    c.add_argument("--explore-tokens", type=int, default=192, help="LLM: tokens per exploration turn")
    c.add_argument("--max-new-tokens", type=int, default=1024, help="LLM: tokens for the written task")
    c.add_argument("--temperature", type=float, default=0.7, help="LLM sampling temperature")
    c.add_argument("--top-p", type=float, default=0.95, help="LLM nucleus sampling mass")
    c.add_argument("--batch-size", type=int, default=16, help="LLM: episodes generated together")
    c.add_argument("--guided", action="store_true", help="LLM: guided decoding while exploring")
    c.add_argument(
        "--max-observation-chars",
        type=int,
        default=2000,
        help="LLM: cut tool results longer than this while exploring (default: %(default)s)",
    )
    c.add_argument("--no-screen", action="store_true", help="skip the ambiguity screen")
    c.add_argument("--band-policy", default=None, help="keep tasks this executor solves sometimes")
    c.add_argument(
        "--band",
        type=float,
        nargs=2,
        default=(0.0, 1.0),
        metavar=("LOW", "HIGH"),
        help="pass-rate band, exclusive (default: 0 1)",
    )
    c.add_argument("--band-samples", type=int, default=4, help="episodes per task for the band")
    c.add_argument("--band-max-turns", type=int, default=8, help="agent turns per band episode")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=challenge)
