"""τ-bench's retail tasks as Code-as-Task instances, and ``toolgym/TauRetail-v0`` to play them.

Each τ-bench task (``{"user_id", "actions", "instruction", "outputs"}``) becomes a :class:`CodeAsTask` whose world
is τ-bench's database and whose verifier applies τ-bench's reward: the final database must hash like the one the
gold actions produce, and every required output must appear, case-insensitively, in what the agent said to the
user with commas removed. The expected hash is computed here, by replaying the gold actions (terminate tools
skipped, failing calls ignored, as τ-bench does) on a fork of the loaded world, and embedded in the verifier.

The solution is the gold action list as a code action: one tool call per line; a call that fails in the gold
replay (τ-bench's own gold actions sometimes pass an item id as a product id, or misspell an e-mail) is wrapped in
``try: … except ToolError: pass`` so that the script goes on, as τ-bench's replay does. A task with outputs ends
by printing a sentence that holds them all.

The failure cases are, in order: doing nothing (only saying "I cannot help with that."); the gold actions without
their last write; the gold actions with a closing sentence that omits the outputs. These tasks are an evaluation
set, not the output of the CaT filter, and need not pass it: some τ-bench tasks have no write and no output (the
agent must refuse or transfer), so doing nothing passes them, and a task without writes or outputs has failure
cases equal in effect to its solution.

τ-bench's ``dev`` split is served as CaT split ``"train"`` (it is not part of τ-bench's test set); the
provenance keeps τ-bench's own split name. Task ids leave out where the data lies, so they are the same on every
machine.
"""

from __future__ import annotations

import functools
import json
import keyword
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolgym.domains import get_domain
from toolgym.sandbox import Limits, SandboxPool
from toolgym.users import User

from .env import CaTEnv
from .format import CodeAsTask

TAU_BENCH_SPLITS = {"test": "test", "train": "train", "dev": "train"}
"""τ-bench's split names and the CaT split each is served as."""

DATA_FILES = ("users.json", "products.json", "orders.json")
NOOP_MESSAGE = "I cannot help with that."
DONE_MESSAGE = "Your request has been handled."


def resolve_data_dir(data_dir: str | Path) -> Path:
    """Find τ-bench's retail data folder: ``data_dir`` itself, or its ``retail`` subfolder.

    Args:
        data_dir: The folder holding ``users.json``, ``products.json``, ``orders.json`` and ``tasks_*.json``.

    Returns:
        The resolved folder.

    Raises:
        FileNotFoundError: If the folder or one of the database files is missing.
    """
    folder = Path(data_dir).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"τ-bench retail data folder not found: {folder}")
    if not (folder / DATA_FILES[0]).is_file() and (folder / "retail" / DATA_FILES[0]).is_file():
        folder = folder / "retail"
    missing = [name for name in DATA_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"τ-bench retail data folder {folder} lacks {', '.join(missing)}")
    return folder


def _check_split(split: str) -> None:
    if split not in TAU_BENCH_SPLITS:
        raise ValueError(f"unknown τ-bench split {split!r}; use one of {', '.join(TAU_BENCH_SPLITS)}")


def _read_tasks(folder: Path, split: str) -> list[dict[str, Any]]:
    path = folder / f"tasks_{split}.json"
    if not path.is_file():
        raise FileNotFoundError(f"τ-bench retail data folder {folder} lacks {path.name}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid JSON file: {exc}") from None
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of tasks")
    for i, task in enumerate(raw):
        ok = (
            isinstance(task, dict)
            and isinstance(task.get("user_id"), str)
            and isinstance(task.get("instruction"), str)
            and task["instruction"].strip() != ""
            and isinstance(task.get("outputs", []), list)
            and all(isinstance(o, str) for o in task.get("outputs", []))
            and isinstance(task.get("actions"), list)
            and all(
                isinstance(a, dict) and isinstance(a.get("name"), str) and isinstance(a.get("kwargs"), dict)
                for a in task["actions"]
            )
        )
        if not ok:
            raise ValueError(
                f"{path}, task {i}: expected {{user_id, instruction, actions: [{{name, kwargs}}], outputs}}"
            )
    return raw


def _call_line(name: str, kwargs: Mapping[str, Any]) -> str:
    for key in kwargs:
        if not key.isidentifier() or keyword.iskeyword(key):
            raise ValueError(f"{name}: argument name {key!r} cannot be written as a keyword argument")
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _script(calls: list[tuple[str, bool]], closing: str | None) -> str:
    """A code action from ``(call line, fails)`` pairs and an optional sentence to print."""
    lines: list[str] = []
    for line, fails in calls:
        lines += ["try:", f"    {line}", "except ToolError:", "    pass"] if fails else [line]
    if closing is not None:
        lines.append(f"print({closing!r})")
    return "\n".join(lines) + "\n" if lines else "pass\n"


def _verifier(split: str, index: int, user_id: str, expected: str, outputs: list[str]) -> str:
    return (
        f"# tau-bench retail {split} task {index} (user {user_id}): the final database must equal the gold\n"
        "# replay's, and every output must appear in the agent's messages (case-insensitive, commas removed).\n"
        f"EXPECTED_HASH = {expected!r}\n"
        f"OUTPUTS = {outputs!r}\n"
        "\n\n"
        "def evaluate(state, answer):\n"
        "    said = (answer or '').lower().replace(',', '')\n"
        "    return state_hash(state) == EXPECTED_HASH and all(o.lower() in said for o in OUTPUTS)\n"
    )


def convert_tau_bench(data_dir: str | Path, split: str = "test") -> list[CodeAsTask]:
    """Convert one τ-bench retail split to CaT instances, without the cache of :func:`tau_bench_tasks`.

    Args:
        data_dir: τ-bench's retail data folder (or a folder with a ``retail`` subfolder).
        split: ``"test"``, ``"train"`` or ``"dev"``.

    Returns:
        The tasks, in τ-bench's order.

    Raises:
        FileNotFoundError: If the folder or one of its files is missing.
        ValueError: For an unknown split or a malformed tasks file.
    """
    _check_split(split)
    folder = resolve_data_dir(data_dir)
    raw_tasks = _read_tasks(folder, split)
    spec = {"dataset": "tau-bench", "data_dir": str(folder)}
    domain = get_domain("retail")
    start = domain.build_world(spec)
    tasks = []
    for index, raw in enumerate(raw_tasks):
        world = start.fork()
        calls: list[tuple[str, bool]] = []
        writes: list[int] = []
        for action in raw["actions"]:
            tool = domain.toolset.get(action["name"])
            if tool is None:
                raise ValueError(f"{split} task {index}: unknown retail tool {action['name']!r}")
            if tool.terminates:  # τ-bench's replay skips terminate tools
                continue
            result = domain.toolset.call(world, action["name"], action["kwargs"])
            if tool.writes:
                writes.append(len(calls))
            calls.append((_call_line(action["name"], action["kwargs"]), result.error is not None))
        outputs = list(raw.get("outputs", []))
        closing = f"Here is what you asked for: {'; '.join(outputs)}." if outputs else None
        without_last_write = [c for i, c in enumerate(calls) if not writes or i != writes[-1]]
        tasks.append(
            CodeAsTask(
                domain="retail",
                world=spec,
                instruction=raw["instruction"],
                verifier=_verifier(split, index, raw["user_id"], world.hash(), outputs),
                solution=_script(calls, closing),
                failure_cases=(
                    _script([], NOOP_MESSAGE),
                    _script(without_last_write, closing),
                    _script(calls, DONE_MESSAGE),
                ),
                split=TAU_BENCH_SPLITS[split],
                provenance={"source": "tau-bench", "split": split, "index": index, "user_id": raw["user_id"]},
            )
        )
    return tasks


@functools.lru_cache(maxsize=16)
def _cached(folder: str, split: str) -> tuple[CodeAsTask, ...]:
    return tuple(convert_tau_bench(folder, split))


def tau_bench_tasks(data_dir: str | Path, split: str = "test") -> list[CodeAsTask]:
    """τ-bench's retail tasks of a split as CaT instances, converted once per folder and split.

    Args:
        data_dir: τ-bench's retail data folder (or a folder with a ``retail`` subfolder).
        split: ``"test"`` (CaT split ``"test"``), ``"train"`` or ``"dev"`` (both CaT split ``"train"``).

    Returns:
        A new list of the (shared, immutable) tasks, in τ-bench's order.

    Raises:
        FileNotFoundError: If the folder or one of its files is missing.
        ValueError: For an unknown split or a malformed tasks file.
    """
    _check_split(split)
    return list(_cached(str(resolve_data_dir(data_dir)), split))


class TauRetailEnv(CaTEnv):
    """``toolgym/TauRetail-v0``: τ-bench's retail tasks, rewarded like τ-bench.

    The reward is τ-bench's: the final database equals the gold replay's, and every required output appears in
    some message of the agent to the user (all messages of the episode are checked, not only the last).

    Args:
        data_dir: τ-bench's retail data folder (``users.json``, ``products.json``, ``orders.json``,
            ``tasks_<split>.json``), or a folder with a ``retail`` subfolder holding them.
        split: τ-bench's split: ``"test"``, ``"train"`` or ``"dev"``.
        action_format: Name of a registered action format.
        max_turns: Agent turns before truncation.
        user: A registered user kind or a user object.
        user_kwargs: Arguments for the user factory.
        render_mode: ``None`` or ``"ansi"``.
        sandbox: The pool running code actions and verifiers (the shared pool by default).
        code_limits: Limits of one code action.
        verifier_limits: Limits of one verifier run.
        max_observation_chars: Cut tool results longer than this, with a notice (``None``: keep them whole).

    Raises:
        FileNotFoundError: If the data folder or one of its files is missing.
        ValueError: For an unknown split or a malformed tasks file.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        split: str = "test",
        action_format: str = "auto",
        max_turns: int = 30,
        user: str | User = "direct",
        user_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        sandbox: SandboxPool | None = None,
        code_limits: Limits | None = None,
        verifier_limits: Limits | None = None,
        max_observation_chars: int | None = None,
    ) -> None:
        tasks = tau_bench_tasks(data_dir, split)
        super().__init__(
            tasks,
            split="all",  # the list is already τ-bench's split (dev tasks carry CaT split "train")
            action_format=action_format,
            max_turns=max_turns,
            user=user,
            user_kwargs=user_kwargs,
            render_mode=render_mode,
            sandbox=sandbox,
            code_limits=code_limits,
            verifier_limits=verifier_limits,
            max_observation_chars=max_observation_chars,
        )
        self.tau_bench_split = split

    def messages(self) -> list[str]:
        """What the agent said to the user this episode: each message answered by the user, in order.

        Returns:
            The messages' texts (malformed actions, code and tool calls are not messages).
        """
        pairs = zip(self.transcript, self.transcript[1:], strict=False)
        return [
            entry["content"]
            for entry, after in pairs
            if entry.get("role") == "assistant" and "content" in entry and after.get("role") == "user"
        ]

    def compute_reward(self, answer: str | None) -> float:
        """Judge the final world and all the agent's messages to the user, joined by newlines.

        Args:
            answer: The agent's last message (all messages are used instead, as τ-bench does).

        Returns:
            1.0 if the verifier accepts, else 0.0.
        """
        return super().compute_reward("\n".join(self.messages()))
