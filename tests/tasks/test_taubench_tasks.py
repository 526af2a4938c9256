"""τ-bench's retail tasks as Code-as-Task instances, played in ``toolgym/TauRetail-v0``.

The data is read from the folder named by ``TOOLGYM_TAUBENCH_DIR`` (default: ``../shared/data/taubench`` next to
the repository); tests that need it skip when it is absent. The expected outcomes come from an independent replay
of τ-bench's gold actions on the loaded database, not from the converter.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from toolgym.envs.retail import RETAIL_TOOLS, load_tau_bench
from toolgym.tasks import TaskRunner, validate
from toolgym.tasks.taubench import (
    NOOP_MESSAGE,
    TauRetailEnv,
    convert_tau_bench,
    tau_bench_tasks,
)

from toolgym.world import World

ROOT = Path(
    os.environ.get(
        "TOOLGYM_TAUBENCH_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "taubench"
    )
)
RETAIL = ROOT / "retail"
needs_data = pytest.mark.skipif(
    not (RETAIL / "tasks_test.json").is_file(), reason=f"τ-bench data not found in {RETAIL}"
)


@dataclass(frozen=True)
class GoldReplay:
    """τ-bench's replay of one task's gold actions, computed here without the converter."""

    initial_hash: str
    gold_hash: str
    successful_writes: int
    without_last_write_hash: str
    outputs: tuple[str, ...]


def replay(world: World, actions: list[dict[str, Any]], *, drop_last_write: bool = False) -> tuple[str, int]:
    """Replay actions as τ-bench does (terminate tools skipped, errors ignored); the final hash and writes done."""
    episode = world.fork()
    steps = [a for a in actions if not RETAIL_TOOLS[a["name"]].terminates]
    writes = [i for i, a in enumerate(steps) if RETAIL_TOOLS[a["name"]].writes]
    if drop_last_write and writes:
        del steps[writes[-1]]
    done = 0
    for action in steps:
        result = RETAIL_TOOLS.call(episode, action["name"], action["kwargs"])
        done += result.error is None and RETAIL_TOOLS[action["name"]].writes
    return episode.hash(), done


@pytest.fixture(scope="module")
def gold() -> dict[str, list[GoldReplay]]:
    world = load_tau_bench(RETAIL)
    out = {}
    for split in ("test", "train", "dev"):
        raw = json.loads((RETAIL / f"tasks_{split}.json").read_text())
        out[split] = []
        for task in raw:
            gold_hash, writes = replay(world, task["actions"])
            dropped, _ = replay(world, task["actions"], drop_last_write=True)
            out[split].append(GoldReplay(world.hash(), gold_hash, writes, dropped, tuple(task["outputs"])))
    return out


@pytest.fixture(scope="module")
def make_env() -> Iterator[Callable[[str], TauRetailEnv]]:
    made: dict[str, TauRetailEnv] = {}

    def get(split: str) -> TauRetailEnv:
        if split not in made:
            made[split] = TauRetailEnv(RETAIL, split=split, action_format="code")
        return made[split]

    yield get
    for env in made.values():
        env.close()


def play(env: TauRetailEnv, task_id: str, source: str) -> tuple[float, dict[str, Any]]:
    """Run a script as one code action, then send what it printed (or a plain closing) as the final message."""
    env.reset(options={"task_id": task_id})
    obs, _, terminated, _, info = env.step(f"```python\n{source}```")
    assert not terminated
    printed = "print(" in source and "error" not in info
    _, reward, terminated, _, _ = env.step(obs.strip() if printed else "Thank you, goodbye.")
    assert terminated
    return reward, info


@needs_data
@pytest.mark.parametrize("split", ["test", "train", "dev"])
def test_gold_solutions_score_one(
    make_env: Callable[[str], TauRetailEnv], gold: dict[str, list[GoldReplay]], split: str
) -> None:
    env = make_env(split)
    started = time.perf_counter()
    failed = []
    for task, replayed in zip(env.tasks, gold[split], strict=True):
        reward, info = play(env, task.id, task.solution)
        assert "error" not in info, (task.provenance, info["error"])
        if reward != 1.0 or env.world.hash() != replayed.gold_hash:
            failed.append((task.provenance["index"], env.verdict_error))
    per_task_ms = (time.perf_counter() - started) / len(env.tasks) * 1000
    print(f"\n{split}: {len(env.tasks)} gold replays, {per_task_ms:.1f} ms per task")
    assert failed == []
    assert len(env.tasks) == {"test": 115, "train": 500, "dev": 20}[split]


@needs_data
@pytest.mark.parametrize("split", ["test", "train", "dev"])
def test_do_nothing_scores_zero_when_the_gold_replay_writes(
    make_env: Callable[[str], TauRetailEnv], gold: dict[str, list[GoldReplay]], split: str
) -> None:
    env = make_env(split)
    passes = []
    for task, replayed in zip(env.tasks, gold[split], strict=True):
        env.reset(options={"task_id": task.id})
        _, reward, terminated, _, _ = env.step(NOOP_MESSAGE)
        assert terminated
        if replayed.successful_writes:
            assert reward == 0.0, task.provenance
        elif reward == 1.0:
            passes.append(task.provenance["index"])
        # Doing nothing passes exactly the tasks whose gold replay leaves the database as it was, with no output.
        assert reward == float(replayed.gold_hash == replayed.initial_hash and not replayed.outputs)
    print(f"\n{split}: do-nothing passes {len(passes)} write-free tasks: {passes}")
    # test: 5 tasks without a write action, and 12 and 106 whose only write fails in τ-bench too; train: 5 whose
    # only write fails (gift card balance too low); dev: task 17, which has no gold action at all.
    assert len(passes) == {"test": 7, "train": 5, "dev": 1}[split]


@needs_data
@pytest.mark.parametrize("split", ["test", "train", "dev"])
def test_gold_without_its_last_write_scores_zero(
    make_env: Callable[[str], TauRetailEnv], gold: dict[str, list[GoldReplay]], split: str
) -> None:
    env = make_env(split)
    checked = 0
    for task, replayed in zip(env.tasks, gold[split], strict=True):
        if replayed.without_last_write_hash == replayed.gold_hash:
            continue
        reward, _ = play(env, task.id, task.failure_cases[1])
        assert reward == 0.0, task.provenance
        checked += 1
    # The others have no write (test: 9, dev: 1) or a last write that fails in τ-bench too (test: 2, train: 9).
    assert checked == {"test": 104, "train": 491, "dev": 19}[split]


@needs_data
def test_outputs_are_required_in_some_message(
    make_env: Callable[[str], TauRetailEnv], gold: dict[str, list[GoldReplay]]
) -> None:
    env = make_env("test")
    with_outputs = [(t, g.outputs) for t, g in zip(env.tasks, gold["test"], strict=True) if g.outputs]
    assert len(with_outputs) == 37
    for task, _ in with_outputs:
        reward, _ = play(env, task.id, task.failure_cases[2])  # the gold actions, outputs left out
        assert reward == 0.0, task.provenance

    # τ-bench checks every message to the user, so outputs may be spread over several; case and commas do not matter.
    task, outputs = next((t, o) for t, o in with_outputs if len(o) >= 2)
    spread = TauRetailEnv(
        RETAIL, action_format="code", user="scripted", user_kwargs={"replies": ["Go on.", "Thanks."]}
    )
    try:
        spread.reset(options={"task_id": task.id})
        source = task.solution[: task.solution.rindex("print(")]
        spread.step(f"```python\n{source}```")
        first, second = f"First, {outputs[0]}.", "Then, " + ", ".join(outputs[1:]).upper()
        spread.step(first)
        spread.step("```python\n```")  # malformed: not a message to the user
        _, reward, terminated, _, _ = spread.step(second)
        assert terminated and reward == 1.0
        assert spread.messages() == [first, second]
    finally:
        spread.close()


@needs_data
def test_conversion_is_stable_cached_and_hides_the_machine() -> None:
    first = {s: convert_tau_bench(RETAIL, s) for s in ("test", "train", "dev")}
    again = {s: convert_tau_bench(RETAIL, s) for s in ("test", "train", "dev")}
    assert {s: [t.id for t in v] for s, v in first.items()} == {
        s: [t.id for t in v] for s, v in again.items()
    }
    assert [t.to_dict() for t in first["test"]] == [t.to_dict() for t in again["test"]]
    cached = tau_bench_tasks(RETAIL, "train")
    assert [t.id for t in cached] == [t.id for t in first["train"]]
    assert tau_bench_tasks(str(RETAIL), "train")[0] is cached[0]
    assert tau_bench_tasks(ROOT, "train")[0] is cached[0]  # the parent of the retail folder is accepted too
    started = time.perf_counter()
    convert_tau_bench(RETAIL, "train")
    assert time.perf_counter() - started < 10.0

    every = [t for tasks in first.values() for t in tasks]
    assert len({t.id for t in every}) == len(every) == 635  # test tasks 93 and 95 are identical in τ-bench
    folder = str(RETAIL.resolve())
    for split, tasks in first.items():
        for i, task in enumerate(tasks):
            assert task.split == ("test" if split == "test" else "train")
            assert task.domain == "retail" and task.world == {"dataset": "tau-bench", "data_dir": folder}
            assert task.provenance == {"source": "tau-bench", "split": split, "index": i, "user_id": ANY_STR}
            assert len(task.failure_cases) == 3
            for code in (task.verifier, task.solution, *task.failure_cases):
                assert folder not in code and str(ROOT.resolve()) not in code and "data_dir" not in code


class _AnyStr:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)


ANY_STR: Any = _AnyStr()


@needs_data
def test_reset_info_hides_the_verifier_and_solution(make_env: Callable[[str], TauRetailEnv]) -> None:
    env = make_env("test")
    for task in env.tasks:
        obs, info = env.reset(options={"task_id": task.id})
        seen = obs + json.dumps(info, default=str)
        expected = next(x for x in task.verifier.splitlines() if x.startswith("EXPECTED_HASH"))
        assert info["task_id"] == task.id and obs == task.instruction
        assert expected.split("'")[1] not in seen and "def evaluate" not in seen
        assert task.solution.splitlines()[-1] not in seen


@needs_data
def test_gym_make() -> None:
    env = gym.make("toolgym/TauRetail-v0", data_dir=str(RETAIL), split="dev")
    try:
        obs, info = env.reset(seed=3)
        assert info["task_id"] in env.unwrapped.task_ids and obs
        assert env.unwrapped.tau_bench_split == "dev"
    finally:
        env.close()


@needs_data
def test_cat_filter_keeps_tasks_with_writes_and_outputs_but_not_refusals(
    gold: dict[str, list[GoldReplay]],
) -> None:
    tasks = tau_bench_tasks(RETAIL, "test")
    replays = gold["test"]
    full = next(
        t
        for t, g in zip(tasks, replays, strict=True)
        if g.outputs and g.without_last_write_hash != g.gold_hash
    )
    refusal = next(
        t for t, g in zip(tasks, replays, strict=True) if not g.outputs and g.gold_hash == g.initial_hash
    )
    with TaskRunner() as runner:
        kept = validate(full, runner)
        assert kept.passed, kept
        rejected = validate(refusal, runner)
        assert (rejected.passed, rejected.reason) == (False, "failure_case_passes")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        TauRetailEnv(tmp_path / "nowhere")
    (tmp_path / "users.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"products\.json, orders\.json"):
        tau_bench_tasks(tmp_path)


def test_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="test, train, dev"):
        TauRetailEnv(tmp_path, split="validation")


@needs_data
def test_missing_or_malformed_tasks_file(tmp_path: Path) -> None:
    for name in ("users", "products", "orders"):
        (tmp_path / f"{name}.json").symlink_to(RETAIL / f"{name}.json")
    with pytest.raises(FileNotFoundError, match=r"tasks_test\.json"):
        tau_bench_tasks(tmp_path)
    (tmp_path / "tasks_test.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"tasks_test\.json, task 0"):
        tau_bench_tasks(tmp_path)
    (tmp_path / "tasks_test.json").write_text("[1, ")
    with pytest.raises(ValueError, match=r"tasks_test\.json: not a valid JSON"):
        tau_bench_tasks(tmp_path)


@pytest.mark.skipif(not (RETAIL / "orders.json").is_file(), reason="τ-bench data not found")
def test_ids_do_not_depend_on_where_the_data_lies(tmp_path: Path) -> None:
    for name in ("users", "products", "orders", "tasks_dev"):
        (tmp_path / f"{name}.json").symlink_to(RETAIL / f"{name}.json")
    elsewhere = tau_bench_tasks(tmp_path, split="dev")
    here = tau_bench_tasks(RETAIL, split="dev")
    assert [t.id for t in elsewhere] == [t.id for t in here]
    assert elsewhere[0].world["data_dir"] != here[0].world["data_dir"]
