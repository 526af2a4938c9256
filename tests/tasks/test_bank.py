"""Task banks: writing, loading with integrity checks, deterministic splits, and the shipped banks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from task_samples import cancel_task
from toolgym.tasks import (
    BankError,
    CodeAsTask,
    TaskFormatError,
    load_bank,
    read_tasks,
    shipped_banks,
    split_of,
    write_bank,
)
from toolgym.tasks.bank import read_manifest

from toolgym.world import World


@pytest.fixture()
def tasks(small_world: World) -> list[CodeAsTask]:
    base = cancel_task(small_world)
    made = [cancel_task(small_world, instruction=f"{base.instruction} ({i})") for i in range(6)]
    return [made[0].with_split("test"), *made[1:]]


def write(tasks: list[CodeAsTask], folder: Path) -> None:
    write_bank(tasks, folder, name="demo-v0", env_id="Demo-CaT-v0", version=0, source="tests")


def test_write_then_load_round_trips(tasks: list[CodeAsTask], tmp_path: Path) -> None:
    bank = write_bank(
        tasks,
        tmp_path / "b",
        name="demo-v0",
        env_id="Demo-CaT-v0",
        version=0,
        source="tests",
        extra={"note": "x"},
    )
    assert [t.id for t in bank.tasks] == [t.id for t in tasks]
    assert bank.name == "demo-v0" and len(bank) == 6
    manifest = read_manifest(tmp_path / "b")
    assert manifest["count"] == 6 and manifest["domain"] == "retail" and manifest["note"] == "x"
    assert sum(manifest["splits"].values()) == 6
    assert bank.tasks[0].split == "test"  # a fixed split is kept
    assert all(t.split in ("train", "test") for t in bank.tasks)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["manifest.json", "tasks.jsonl"]
    assert bank.get(tasks[2].id) == bank.tasks[2]
    with pytest.raises(KeyError, match="has no task"):
        bank.get("retail-0")
    assert len(bank.split("train")) + len(bank.split("test")) == len(bank.split("all")) == 6
    with pytest.raises(ValueError, match="unknown split"):
        bank.split("dev")


def test_splits_come_from_ids_and_are_stable() -> None:
    ids = [f"retail-{i:016x}" for i in range(2000)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]
    assert 0.17 < Counter(splits)["test"] / len(ids) < 0.23


def test_an_edited_bank_is_refused(tasks: list[CodeAsTask], tmp_path: Path) -> None:
    write(tasks, tmp_path)
    path = tmp_path / "tasks.jsonl"
    path.write_text(path.read_text().replace("cancel", "cancel now", 1))
    with pytest.raises(BankError, match="SHA-256 does not match"):
        load_bank(tmp_path)
    with pytest.raises(TaskFormatError, match=r"tasks.jsonl, line 1: id .* does not match"):
        load_bank(tmp_path, verify=False)


def test_count_and_duplicates_are_checked(tasks: list[CodeAsTask], tmp_path: Path) -> None:
    write(tasks, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["count"] = 7
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BankError, match="6 tasks, but the manifest says 7"):
        load_bank(tmp_path)
    lines = (tmp_path / "tasks.jsonl").read_text().splitlines()
    (tmp_path / "tasks.jsonl").write_text("\n".join([*lines, lines[0]]) + "\n")
    with pytest.raises(BankError, match="appears twice"):
        load_bank(tmp_path, verify=False)
    with pytest.raises(BankError, match="same task twice"):
        write([*tasks, tasks[0]], tmp_path / "dup")


def test_malformed_lines_name_the_file_and_line(tasks: list[CodeAsTask], tmp_path: Path) -> None:
    path = tmp_path / "draft.jsonl"
    path.write_text(tasks[0].to_json() + "\n\n" + '{"domain": "retail"}\n')
    with pytest.raises(TaskFormatError, match=r"draft.jsonl, line 3: "):
        read_tasks(path)


def test_missing_pieces_are_reported(tasks: list[CodeAsTask], tmp_path: Path) -> None:
    with pytest.raises(BankError, match="not a shipped bank"):
        load_bank(tmp_path / "nowhere")
    with pytest.raises(BankError, match="no manifest"):
        load_bank(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(BankError, match="invalid JSON"):
        load_bank(tmp_path)
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(BankError, match="missing manifest fields"):
        load_bank(tmp_path)
    write(tasks, tmp_path / "ok")
    (tmp_path / "ok" / "tasks.jsonl").unlink()
    with pytest.raises(BankError, match="missing"):
        load_bank(tmp_path / "ok")


def test_a_bank_holds_one_domain(tasks: list[CodeAsTask], tmp_path: Path) -> None:
    other = CodeAsTask(**{**tasks[0].content(), "domain": "airline"})
    with pytest.raises(BankError, match="exactly one domain"):
        write([tasks[0], other], tmp_path)
    with pytest.raises(BankError, match="exactly one domain"):
        write([], tmp_path)


def test_the_shipped_retail_bank_loads_and_covers_both_splits() -> None:
    banks = shipped_banks()
    assert "retail-v0" in banks
    bank = load_bank("retail-v0")
    assert bank.manifest["env_id"] == "Retail-CaT-v0"
    assert len(bank) >= 30 and bank.split("train") and bank.split("test")
    assert {t.domain for t in bank.tasks} == {"retail"}


def test_composition_counts_write_tools_from_the_solutions(tasks: list[CodeAsTask]) -> None:
    from toolgym.tasks.bank import composition, tools_called

    assert tools_called("x = f(1)\ny.g()\nprint(h(k(2)))") == {"f", "print", "h", "k"}
    assert tools_called("def (") == set()
    reader = CodeAsTask(**{**tasks[0].content(), "solution": "print(get_order_details(order_id='#W1'))"})
    assert composition([*tasks[:2], reader]) == {"write_tools": {"cancel_pending_order": 2}, "read_only": 1}


def test_the_shipped_bank_covers_every_write_tool_in_its_manifest() -> None:
    from toolgym.domains import get_domain

    manifest = load_bank("retail-v0").manifest
    writers = {name for name, t in get_domain("retail").toolset.items() if t.writes}
    assert set(manifest["composition"]["write_tools"]) == writers
    assert manifest["composition"]["read_only"] >= 5
