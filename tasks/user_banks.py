"""Banks a user registers: a copy of their tasks under toolgym's data folder and an id ``gym.make`` knows.

``register_bank`` checks the tasks (schema, and by default the CaT filter), writes them as a bank folder with a
manifest under ``<data>/banks/<name>/`` and records ``{env_id: folder}`` in ``<data>/registry.json``. Every later
``import toolgym`` registers those ids again, so ``gym.make("toolgym/MyRetail-CaT-v0")`` works in any process.
The data folder is ``$TOOLGYM_HOME``, else ``$XDG_DATA_HOME/toolgym``, else ``~/.local/share/toolgym``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolgym.registry import NAMESPACE, register_env

from .bank import (
    MANIFEST_FILE,
    TASKS_FILE,
    Bank,
    BankError,
    atomic_write,
    authors,
    composition,
    load_bank,
    read_tasks,
    write_bank,
)
from .format import CodeAsTask
from .validate import TaskRunner, validate_many

REGISTRY_FILE = "registry.json"
ENV_ENTRY_POINT = "toolgym.tasks.env:CaTEnv"
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*-v\d+$")


def data_home() -> Path:
    """Where toolgym keeps what users register.

    Returns:
        ``$TOOLGYM_HOME``, else ``$XDG_DATA_HOME/toolgym``, else ``~/.local/share/toolgym``.
    """
    if os.environ.get("TOOLGYM_HOME"):
        return Path(os.environ["TOOLGYM_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "toolgym"


def env_name(env_id: str) -> str:
    """The id without its namespace, checked.

    Args:
        env_id: ``"toolgym/MyRetail-CaT-v0"`` or ``"MyRetail-CaT-v0"``.

    Returns:
        ``"MyRetail-CaT-v0"``.

    Raises:
        ValueError: For another namespace or a name without a ``-vN`` version suffix.
    """
    namespace, sep, name = env_id.rpartition("/")
    if sep and namespace != NAMESPACE:
        raise ValueError(f"bank ids live in the {NAMESPACE!r} namespace, got {env_id!r}")
    if not _ENV_NAME.match(name):
        raise ValueError(
            f"an env id looks like '{NAMESPACE}/MyRetail-CaT-v0' (a name and -vN), got {env_id!r}"
        )
    return name


def _registry_path() -> Path:
    return data_home() / REGISTRY_FILE


def registered_banks() -> dict[str, Path]:
    """The banks users registered, by full env id.

    Returns:
        ``{"toolgym/Name-vN": folder}``; empty when nothing is registered.

    Raises:
        BankError: If the registry file is not a JSON object of strings.
    """
    path = _registry_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BankError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BankError(f"{path}: expected a JSON object mapping env ids to bank folders")
    return {str(k): Path(v) for k, v in sorted(data.items())}


def _write_registry(entries: dict[str, Path]) -> None:
    path = _registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({k: str(v) for k, v in sorted(entries.items())}, indent=2) + "\n"
    atomic_write(path, text.encode())


def _read_source(source: Path) -> list[CodeAsTask]:
    if source.is_dir():
        if (source / MANIFEST_FILE).is_file():
            return list(load_bank(source).tasks)
        return read_tasks(source / TASKS_FILE)
    return read_tasks(source)


def register_bank(
    source: str | Path | Sequence[CodeAsTask],
    env_id: str,
    *,
    validate: bool = True,
    replace: bool = False,
    runner: TaskRunner | None = None,
) -> Bank:
    """Make a set of tasks a registered, reward-bearing env.

    Args:
        source: A JSONL file of tasks, a bank folder, or the tasks themselves.
        env_id: The id to register, e.g. ``"toolgym/MyRetail-CaT-v0"``.
        validate: Put every task through the CaT filter first; any rejection refuses the whole bank.
        replace: Allow an id already registered to point at the new bank.
        runner: Where validation runs (a private sandbox pool when ``None``).

    Returns:
        The bank as written under the data folder.

    Raises:
        ValueError: For a malformed id, an id taken by a shipped bank or (without ``replace``) a registered one,
            or tasks the filter rejects (the message lists the first few and why).
        BankError: For a malformed source or registry.
        TaskFormatError: For a malformed task line.
    """
    name = env_name(env_id)
    full_id = f"{NAMESPACE}/{name}"
    tasks = _read_source(Path(source)) if isinstance(source, (str, Path)) else list(source)
    if not tasks:
        raise ValueError(f"no tasks to register as {full_id}")
    from .registration import shipped_env_ids

    if full_id in shipped_env_ids():
        raise ValueError(f"{full_id} is a bank shipped with toolgym; choose another id")
    entries = registered_banks()
    if full_id in entries and not replace:
        raise ValueError(
            f"{full_id} is already registered ({entries[full_id]}); pass replace=True to replace it"
        )
    if validate:
        report = validate_many(tasks, runner)
        rejected = [r for r in report.reports if not r.passed]
        if rejected:
            lines = "; ".join(f"{r.task_id}: {r.reason} ({r.detail})" for r in rejected[:3])
            raise ValueError(
                f"{len(rejected)} of {len(tasks)} tasks fail the CaT filter, nothing registered: {lines}"
            )
    folder = data_home() / "banks" / name
    bank = _write(tasks, folder, name, full_id)
    entries[full_id] = folder
    _write_registry(entries)
    _register(full_id, folder)
    return bank


def _write(tasks: list[CodeAsTask], folder: Path, name: str, full_id: str) -> Bank:
    return write_bank(
        tasks,
        folder,
        name=name,
        env_id=name,
        version=int(name.rsplit("-v", 1)[1]),
        source=f"registered by the user as {full_id}",
        extra={"authors": authors(tasks), "composition": composition(tasks)},
    )


def _register(full_id: str, folder: Path) -> None:
    import gymnasium as gym

    kwargs: dict[str, Any] = {"bank": str(folder)}
    existing = gym.registry.get(full_id)
    if existing is not None and dict(existing.kwargs) != kwargs:
        del gym.registry[full_id]
    register_env(env_name(full_id), ENV_ENTRY_POINT, kwargs=kwargs)


def unregister_bank(env_id: str) -> None:
    """Forget a registered bank: its id and its copy under the data folder.

    Args:
        env_id: The id it was registered under.

    Raises:
        KeyError: If no bank is registered under that id.
    """
    import shutil

    import gymnasium as gym

    full_id = f"{NAMESPACE}/{env_name(env_id)}"
    entries = registered_banks()
    if full_id not in entries:
        raise KeyError(f"no bank is registered as {full_id}")
    folder = entries.pop(full_id)
    _write_registry(entries)
    gym.registry.pop(full_id, None)
    if folder.is_relative_to(data_home()):
        shutil.rmtree(folder, ignore_errors=True)


def register_user_banks() -> list[str]:
    """Register the ids of every bank in the registry (done at import); a broken registry only warns.

    Returns:
        The ids registered.
    """
    try:
        entries = registered_banks()
    except BankError as exc:
        warnings.warn(f"user banks not registered: {exc}", stacklevel=2)
        return []
    done = []
    for full_id, folder in entries.items():
        try:
            _register(full_id, folder)
        except ValueError as exc:
            warnings.warn(f"user bank {full_id} not registered: {exc}", stacklevel=2)
            continue
        done.append(full_id)
    return done
