"""``toolgym bank …``: validate, build, describe and register task banks from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .bank import (
    MANIFEST_FILE,
    TASKS_FILE,
    BankError,
    authors,
    composition,
    load_bank,
    read_manifest,
    read_tasks,
    shipped_banks,
    stratified_splits,
    write_bank,
)
from .challenge_cli import add_challenge_command
from .format import CodeAsTask, TaskFormatError
from .registration import shipped_env_ids
from .stats import bank_stats, format_stats, skill_of
from .user_banks import env_name, register_bank, registered_banks, unregister_bank
from .validate import STAGES, TaskRunner, validate_many


def _resolve(path: Path) -> Path:
    """A shipped bank's name (``retail-v1``) stands for its folder; anything else is a path."""
    return shipped_banks().get(str(path), path) if not path.exists() else path


def _read(path: Path) -> list[CodeAsTask]:
    path = _resolve(path)
    if path.is_dir():
        return (
            list(load_bank(path).tasks)
            if (path / "manifest.json").is_file()
            else read_tasks(path / TASKS_FILE)
        )
    return read_tasks(path)


def bank_validate(args: argparse.Namespace) -> int:
    """Validate every task of a JSONL file or bank folder and print the yield of each stage.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0 when every task is kept, 1 otherwise.
    """
    try:
        tasks = _read(Path(args.path))
    except (OSError, BankError, TaskFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with TaskRunner() as runner:
        report = validate_many(tasks, runner)
    print(f"{report.total} tasks validated in {report.seconds:.1f} s")
    print(report.table())
    for r in report.reports:
        if not r.passed and args.verbose:
            print(f"  {r.task_id}: {r.stage} / {r.reason}: {r.detail}")
    return 0 if len(report.kept) == report.total else 1


def bank_build(args: argparse.Namespace) -> int:
    """Validate JSONL files of tasks and write the kept ones as one bank folder with its manifest.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0 when the bank was written (and, with ``--strict``, every task was kept).
    """
    try:
        tasks = [task for path in args.tasks for task in read_tasks(path)]
    except (OSError, TaskFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with TaskRunner() as runner:
        report = validate_many(tasks, runner)
    print(report.table())
    rejected = [r for r in report.reports if not r.passed]
    for r in rejected:
        print(f"  rejected {r.task_id}: {r.stage} / {r.reason}: {r.detail}")
    if rejected and args.strict:
        print("error: --strict and some tasks were rejected; nothing written", file=sys.stderr)
        return 1
    kept_ids = set(report.kept)
    kept = [t for t in tasks if t.id in kept_ids]
    if args.stratify:
        kept = stratified_splits(kept, skill_of)
    bank = write_bank(
        kept,
        args.out,
        name=args.name,
        env_id=args.env_id,
        version=args.version,
        source=args.source,
        extra={
            "authors": authors(kept),
            "composition": {**composition(kept), "skills": bank_stats(kept)["skills"]},
            "validation": {s: report.survived(s) for s in report.yields()},
        },
    )
    print(f"wrote {len(bank)} tasks to {args.out} ({bank.manifest['splits']})")
    return 0


def bank_stats_command(args: argparse.Namespace) -> int:
    """Print what a task file or bank holds: counts per skill and tool, solution lengths, duplicates, yields.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0, or 2 when the file cannot be read.
    """
    path = Path(args.path)
    try:
        tasks = _read(path)
    except (OSError, BankError, TaskFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    yields = _recorded_yields(_resolve(path))
    if args.validate:
        with TaskRunner() as runner:
            report = validate_many(tasks, runner)
        yields = {s: report.survived(s) for s in STAGES}
    stats = bank_stats(tasks, yields=yields)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0


def _recorded_yields(path: Path) -> dict[str, int] | None:
    """The stage counts recorded when the tasks were made: a bank's manifest or a challenge run's report."""
    if path.is_dir() and (path / MANIFEST_FILE).is_file():
        recorded = read_manifest(path).get("validation")
        return dict(recorded) if isinstance(recorded, dict) else None
    report = path.with_suffix("").with_name(path.with_suffix("").name + ".report.json")
    if path.is_file() and report.is_file():
        try:
            steps = json.loads(report.read_text(encoding="utf-8")).get("steps")
        except (json.JSONDecodeError, AttributeError):
            return None
        return dict(steps) if isinstance(steps, dict) else None
    return None


def bank_register(args: argparse.Namespace) -> int:
    """Register a task file or bank under a Gymnasium id, for every later ``import toolgym``.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0 when registered, 1 when refused, 2 when the input cannot be read.
    """
    try:
        bank = register_bank(args.path, args.id, validate=not args.no_validate, replace=args.replace)
    except (OSError, BankError, TaskFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    full_id = f"toolgym/{env_name(args.id)}"
    print(f"registered {full_id}: {len(bank)} tasks ({bank.manifest['splits']}) in {bank.path}")
    print(f'after `import toolgym`, gymnasium.make("{full_id}") serves them')
    return 0


def bank_unregister(args: argparse.Namespace) -> int:
    """Forget a registered bank.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0, or 1 when no bank has that id.
    """
    try:
        unregister_bank(args.id)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"unregistered {args.id}")
    return 0


def bank_list(args: argparse.Namespace) -> int:
    """List the shipped and registered banks.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0.
    """
    for env_id, name in shipped_env_ids().items():
        print(f"{env_id:<36} shipped    {name}")
    for env_id, folder in registered_banks().items():
        print(f"{env_id:<36} registered {folder}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bank`` command group to the ``toolgym`` parser.

    Args:
        sub: The top-level subparsers.
    """
    bank = sub.add_parser("bank", help="validate task files and build task banks")
    cmds = bank.add_subparsers(dest="bank_command", required=True)
    v = cmds.add_parser("validate", help="run the CaT filter on a JSONL file or bank folder")
    v.add_argument("path", help="a .jsonl file of tasks or a bank folder")
    v.add_argument("-v", "--verbose", action="store_true", help="print why each rejected task was rejected")
    v.set_defaults(func=bank_validate)
    b = cmds.add_parser("build", help="validate tasks and write the kept ones as a bank")
    b.add_argument("tasks", type=Path, nargs="+", help=".jsonl files of tasks")
    b.add_argument("out", type=Path, help="the bank folder to write")
    b.add_argument("--name", required=True, help="bank name, e.g. retail-v1")
    b.add_argument("--env-id", required=True, help="Gymnasium id without namespace, e.g. Retail-CaT-v1")
    b.add_argument("--version", type=int, required=True, help="bank version number")
    b.add_argument("--source", required=True, help="how the tasks were made")
    b.add_argument("--strict", action="store_true", help="write nothing unless every task is kept")
    b.add_argument(
        "--stratify", action="store_true", help="fix splits so every skill (task family) is in both splits"
    )
    b.set_defaults(func=bank_build)
    st = cmds.add_parser(
        "stats", help="counts per skill and tool, solution lengths, duplicates, stage yields"
    )
    st.add_argument("path", help="a .jsonl file of tasks, a bank folder or a shipped bank's name")
    st.add_argument("--validate", action="store_true", help="run the filter now for the stage yields")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=bank_stats_command)
    r = cmds.add_parser("register", help="register tasks as a gym id (kept under the toolgym data folder)")
    r.add_argument("path", help="a .jsonl file of tasks or a bank folder")
    r.add_argument("--id", required=True, help="the env id, e.g. toolgym/MyRetail-CaT-v0")
    r.add_argument("--replace", action="store_true", help="replace a bank registered under the same id")
    r.add_argument("--no-validate", action="store_true", help="skip the CaT filter (tasks already validated)")
    r.set_defaults(func=bank_register)
    u = cmds.add_parser("unregister", help="forget a registered bank")
    u.add_argument("id", help="the env id it was registered under")
    u.set_defaults(func=bank_unregister)
    cmds.add_parser("list", help="list shipped and registered banks").set_defaults(func=bank_list)
    add_challenge_command(sub)
