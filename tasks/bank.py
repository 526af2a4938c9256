"""Task banks: a folder holding ``tasks.jsonl`` (one CaT instance per line) and ``manifest.json``.

The manifest names the bank, its Gymnasium id, domain and version, and records the task count and the SHA-256 of
``tasks.jsonl``; loading checks both, so a bank edited by hand without a new manifest is refused rather than
silently used. Tasks without a fixed split are assigned one from their id, so the split never depends on file
order. Banks shipped in the package live in ``toolgym/tasks/banks/<name>/``.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from toolgym.domains import get_domain

from .format import SPLITS, CodeAsTask, TaskFormatError

TASKS_FILE = "tasks.jsonl"
MANIFEST_FILE = "manifest.json"
TEST_SHARE = 0.2
"""Share of tasks without a fixed split that go to the test split."""

_MANIFEST_KEYS = ("name", "env_id", "domain", "version", "count", "sha256", "source")


class BankError(ValueError):
    """A bank that is missing, malformed or does not match its manifest; the message names the file."""


def split_of(task_id: str, test_share: float = TEST_SHARE) -> str:
    """The split a task goes to when it has none: decided by its id alone, so it is stable.

    Args:
        task_id: The task's id.
        test_share: Share of tasks that go to ``test``.

    Returns:
        ``"train"`` or ``"test"``.
    """
    return "test" if _bucket(task_id) < test_share else "train"


def _bucket(task_id: str) -> float:
    """A number in [0, 1) drawn from the id's hash."""
    return int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) / 16**8


@dataclass(frozen=True)
class Bank:
    """A loaded task bank.

    Attributes:
        name: The bank's name, e.g. ``"retail-v0"``.
        manifest: The manifest's fields.
        tasks: Every task, in file order, each with its split set.
        path: The folder it was loaded from, if any.
    """

    name: str
    manifest: dict[str, Any]
    tasks: tuple[CodeAsTask, ...]
    path: Path | None = None

    def split(self, name: str | None) -> list[CodeAsTask]:
        """The tasks of one split (``None`` or ``"all"``: every task).

        Args:
            name: ``"train"``, ``"test"``, ``"all"`` or ``None``.

        Returns:
            The tasks, in file order.

        Raises:
            ValueError: For another split name.
        """
        if name in (None, "all"):
            return list(self.tasks)
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {[*SPLITS, 'all']}")
        return [t for t in self.tasks if t.split == name]

    def get(self, task_id: str) -> CodeAsTask:
        """Look a task up by id.

        Args:
            task_id: The id.

        Returns:
            The task.

        Raises:
            KeyError: If the bank has no such task.
        """
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(f"bank {self.name!r} has no task {task_id!r}")

    def __len__(self) -> int:
        return len(self.tasks)


def read_tasks(path: str | Path) -> list[CodeAsTask]:
    """Read a JSONL file of tasks (blank lines are skipped).

    Args:
        path: The file.

    Returns:
        The tasks, splits as written.

    Raises:
        FileNotFoundError: If the file is missing.
        TaskFormatError: For a malformed line, naming the file and line.
    """
    file = Path(path)
    tasks = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                tasks.append(CodeAsTask.from_json(line, where=f"{file}, line {number}"))
    return tasks


def shipped_banks() -> dict[str, Path]:
    """The banks shipped in the package, by name.

    Returns:
        ``{name: folder}`` for every folder of ``toolgym/tasks/banks`` holding a manifest.
    """
    root = resources.files(__package__).joinpath("banks")
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for entry in root.iterdir():
        if entry.is_dir() and entry.joinpath(MANIFEST_FILE).is_file():
            found[entry.name] = Path(str(entry))
    return dict(sorted(found.items()))


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and check a bank's manifest.

    Args:
        folder: The bank folder.

    Returns:
        The manifest.

    Raises:
        BankError: If it is missing, not JSON, or lacks a field.
    """
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise BankError(f"{path}: no manifest; a bank folder holds {TASKS_FILE} and {MANIFEST_FILE}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BankError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise BankError(f"{path}: the manifest must be a JSON object")
    missing = [k for k in _MANIFEST_KEYS if k not in manifest]
    if missing:
        raise BankError(f"{path}: missing manifest fields {missing}")
    return manifest


def load_bank(name_or_path: str | Path, *, verify: bool = True) -> Bank:
    """Load a bank by the name of a shipped bank or by folder.

    Args:
        name_or_path: E.g. ``"retail-v0"``, or a folder holding ``tasks.jsonl`` and ``manifest.json``.
        verify: Check the task count and the SHA-256 against the manifest.

    Returns:
        The bank; every task has its split.

    Raises:
        BankError: If the bank is unknown, or does not match its manifest, or repeats a task.
        TaskFormatError: For a malformed task line.
    """
    shipped = shipped_banks()
    folder = shipped.get(str(name_or_path)) or Path(name_or_path)
    if not folder.is_dir():
        raise BankError(f"no bank {str(name_or_path)!r}: not a shipped bank ({sorted(shipped)}) nor a folder")
    stamps = tuple(_stamp(folder / name) for name in (TASKS_FILE, MANIFEST_FILE))
    # Every environment loads its bank on construction (vector envs, rollouts make several): unchanged files are
    # read and checked once.
    return _load_bank(folder.resolve(), verify, stamps)


def _stamp(path: Path) -> tuple[int, int] | None:
    """When and how big a file was last written, or ``None`` if it is missing."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=16)
def _load_bank(folder: Path, verify: bool, stamps: tuple[object, ...]) -> Bank:
    manifest = read_manifest(folder)
    tasks_path = folder / TASKS_FILE
    if not tasks_path.is_file():
        raise BankError(f"{tasks_path}: missing")
    data = tasks_path.read_bytes()
    if verify and hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise BankError(
            f"{tasks_path}: SHA-256 does not match {folder / MANIFEST_FILE}; the tasks changed without a new "
            "manifest (a changed bank needs a new version)"
        )
    tasks = read_tasks(tasks_path)
    if verify and len(tasks) != manifest["count"]:
        raise BankError(f"{tasks_path}: {len(tasks)} tasks, but the manifest says {manifest['count']}")
    seen: dict[str, int] = {}
    for number, task in enumerate(tasks, start=1):
        if task.id in seen:
            raise BankError(
                f"{tasks_path}: task {task.id} appears twice (tasks {seen[task.id]} and {number})"
            )
        seen[task.id] = number
    with_splits = tuple(t if t.split else t.with_split(split_of(t.id)) for t in tasks)
    return Bank(str(manifest["name"]), manifest, with_splits, folder)


def write_bank(
    tasks: Iterable[CodeAsTask],
    folder: str | Path,
    *,
    name: str,
    env_id: str,
    version: int,
    source: str,
    extra: dict[str, Any] | None = None,
) -> Bank:
    """Write a bank folder atomically: the tasks file, then the manifest that vouches for it.

    Args:
        tasks: The tasks (ids are their content hashes; duplicates are refused).
        folder: Where to write; created if missing.
        name: The bank's name, e.g. ``"retail-v1"``.
        env_id: The Gymnasium id without namespace, e.g. ``"Retail-CaT-v1"``.
        version: The version number.
        source: How the tasks were made.
        extra: More manifest fields (e.g. composition counts).

    Returns:
        The bank, as loaded back.

    Raises:
        BankError: If the tasks mix domains or repeat an id.
    """
    batch: Sequence[CodeAsTask] = list(tasks)
    domains = sorted({t.domain for t in batch})
    if len(domains) != 1:
        raise BankError(f"a bank holds tasks of exactly one domain, got {domains or 'none'}")
    ids = [t.id for t in batch]
    if len(set(ids)) != len(ids):
        raise BankError("a bank cannot hold the same task twice")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    data = "".join(t.to_json() + "\n" for t in batch).encode()
    manifest = {
        "name": name,
        "env_id": env_id,
        "domain": domains[0],
        "version": version,
        "count": len(batch),
        "sha256": hashlib.sha256(data).hexdigest(),
        "source": source,
        "splits": {s: sum((t.split or split_of(t.id)) == s for t in batch) for s in SPLITS},
        **(extra or {}),
    }
    atomic_write(out / TASKS_FILE, data)
    atomic_write(out / MANIFEST_FILE, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    return load_bank(out)


def stratified_splits(
    tasks: Sequence[CodeAsTask], group: Callable[[CodeAsTask], str], test_share: float = TEST_SHARE
) -> list[CodeAsTask]:
    """Fix the split of every task that has none, so that each group (e.g. each task family) is in both splits.

    Within a group, tasks are ordered by the same hash of their id that :func:`split_of` uses, and the first
    ``round(test_share * size)`` (at least one, when the group has two tasks or more) go to ``test``. The choice
    depends on the ids alone, never on file order.

    Args:
        tasks: The tasks; those with a split keep it.
        group: Names each task's group.
        test_share: Share of each group's unsplit tasks that go to ``test``.

    Returns:
        The tasks in their order, every one with a split.
    """
    groups: dict[str, list[CodeAsTask]] = {}
    for task in tasks:
        if task.split is None:
            groups.setdefault(group(task), []).append(task)
    test_ids: set[str] = set()
    for members in groups.values():
        ordered = sorted(members, key=lambda t: (_bucket(t.id), t.id))
        n_test = max(1, round(test_share * len(ordered))) if len(ordered) > 1 else 0
        test_ids.update(t.id for t in ordered[:n_test])
    return [t if t.split else t.with_split("test" if t.id in test_ids else "train") for t in tasks]


def tools_called(source: str) -> set[str]:
    """Names of the functions a script calls directly (``f(...)``), read from its syntax tree.

    Args:
        source: A code action.

    Returns:
        The called names; empty when the source does not parse.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def authors(tasks: Iterable[CodeAsTask]) -> dict[str, int]:
    """How many tasks each author wrote (``provenance["author"]``, else ``["source"]``), the most prolific first.

    Args:
        tasks: The tasks.

    Returns:
        ``{author: tasks}``; tasks that name no author count as ``"unknown"``.
    """
    names = (str(t.provenance.get("author", t.provenance.get("source", "unknown"))) for t in tasks)
    return dict(Counter(names).most_common())


def composition(tasks: Iterable[CodeAsTask]) -> dict[str, Any]:
    """What a bank's example solutions do: tasks per write tool, and tasks that only read.

    Args:
        tasks: Tasks of one domain.

    Returns:
        ``{"write_tools": {tool: tasks}, "read_only": tasks}``.
    """
    per_tool: Counter[str] = Counter()
    read_only = 0
    for task in tasks:
        toolset = get_domain(task.domain).toolset
        writes = {name for name in tools_called(task.solution) if name in toolset and toolset[name].writes}
        per_tool.update(writes)
        read_only += not writes
    return {"write_tools": dict(sorted(per_tool.items())), "read_only": read_only}


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old content or the new, never a part.

    Args:
        path: The file.
        data: Its new content.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "MANIFEST_FILE",
    "TASKS_FILE",
    "Bank",
    "BankError",
    "TaskFormatError",
    "atomic_write",
    "authors",
    "composition",
    "load_bank",
    "read_manifest",
    "read_tasks",
    "shipped_banks",
    "split_of",
    "stratified_splits",
    "tools_called",
    "write_bank",
]
