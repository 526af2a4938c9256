"""``toolgym bank …``: validate task files and build task banks from the command line."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from .bank import TASKS_FILE, BankError, composition, load_bank, read_tasks, write_bank
from .format import CodeAsTask, TaskFormatError
from .validate import TaskRunner, validate_many


def _read(path: Path) -> list[CodeAsTask]:
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
    """Validate a JSONL file of tasks and write the kept ones as a bank folder with its manifest.

    Args:
        args: Parsed command-line arguments.

    Returns:
        0 when the bank was written (and, with ``--strict``, every task was kept).
    """
    try:
        tasks = read_tasks(args.tasks)
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
    sources = Counter(str(t.provenance.get("author", t.provenance.get("source", "unknown"))) for t in kept)
    bank = write_bank(
        kept,
        args.out,
        name=args.name,
        env_id=args.env_id,
        version=args.version,
        source=args.source,
        extra={
            "authors": dict(sources),
            "composition": composition(kept),
            "validation": {s: report.survived(s) for s in report.yields()},
        },
    )
    print(f"wrote {len(bank)} tasks to {args.out} ({bank.manifest['splits']})")
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
    b.add_argument("tasks", type=Path, help="a .jsonl file of tasks")
    b.add_argument("out", type=Path, help="the bank folder to write")
    b.add_argument("--name", required=True, help="bank name, e.g. retail-v1")
    b.add_argument("--env-id", required=True, help="Gymnasium id without namespace, e.g. Retail-CaT-v1")
    b.add_argument("--version", type=int, required=True, help="bank version number")
    b.add_argument("--source", required=True, help="how the tasks were made")
    b.add_argument("--strict", action="store_true", help="write nothing unless every task is kept")
    b.set_defaults(func=bank_build)
