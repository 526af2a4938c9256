"""Registering user banks: the copy under the data folder, the registry file, gym ids in this and later processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from task_samples import cancel_task
from toolgym.tasks import CodeAsTask, TaskRunner
from toolgym.tasks.user_banks import (
    data_home,
    env_name,
    register_bank,
    register_user_banks,
    registered_banks,
    unregister_bank,
)

from toolgym.world import World


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("TOOLGYM_HOME", str(folder))
    yield folder
    for env_id in [k for k in gym.registry if k.startswith("toolgym/Mine")]:
        del gym.registry[env_id]


@pytest.fixture()
def tasks(small_world: World) -> list[CodeAsTask]:
    base = cancel_task(small_world)
    made = [cancel_task(small_world, instruction=f"{base.instruction} (take {i})") for i in range(3)]
    return [made[0].with_split("test"), *(t.with_split("train") for t in made[1:])]


def write_jsonl(tasks: list[CodeAsTask], path: Path) -> Path:
    path.write_text("".join(t.to_json() + "\n" for t in tasks))
    return path


def test_data_home_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOOLGYM_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "toolgym"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_home() == Path.home() / ".local" / "share" / "toolgym"


def test_register_copies_validates_and_makes_the_id(
    tasks: list[CodeAsTask], tmp_path: Path, home: Path, runner: TaskRunner
) -> None:
    source = write_jsonl(tasks, tmp_path / "mine.jsonl")
    bank = register_bank(source, "toolgym/MineA-CaT-v0", runner=runner)
    assert bank.path is not None and bank.path.is_relative_to(home)
    assert registered_banks() == {"toolgym/MineA-CaT-v0": bank.path}
    source.unlink()  # the registered copy does not depend on the user's file
    env = gym.make("toolgym/MineA-CaT-v0", split="train")
    _obs, info = env.reset(seed=0)
    assert info["task_id"] in {t.id for t in tasks[1:]}
    env.close()


def test_a_later_process_sees_the_registered_id(tasks: list[CodeAsTask], home: Path) -> None:
    register_bank(tasks, "MineB-CaT-v3", validate=False)
    code = (
        "import gymnasium as gym, toolgym\n"
        "env = gym.make('toolgym/MineB-CaT-v3', split='test')\n"
        "print(env.unwrapped.task_ids)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True
    )
    assert tasks[0].id in out.stdout


def test_rejected_tasks_register_nothing(small_world: World, home: Path, runner: TaskRunner) -> None:
    always = "def evaluate(state, answer):\n    return True\n"
    bad = cancel_task(small_world, verifier=always)
    with pytest.raises(ValueError, match=r"fail the CaT filter.*(noop_passes|failure_case)"):
        register_bank([bad], "toolgym/MineC-CaT-v0", runner=runner)
    assert registered_banks() == {}
    assert "toolgym/MineC-CaT-v0" not in gym.registry


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("other/Mine-CaT-v0", "namespace"),
        ("toolgym/Mine-CaT", "-vN"),
        ("toolgym/Retail-CaT-v0", "shipped"),
    ],
)
def test_bad_ids_are_refused(tasks: list[CodeAsTask], env_id: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        register_bank(tasks, env_id, validate=False)


def test_an_id_is_replaced_only_when_asked(tasks: list[CodeAsTask]) -> None:
    register_bank(tasks[:2], "toolgym/MineD-CaT-v0", validate=False)
    with pytest.raises(ValueError, match="already registered"):
        register_bank(tasks, "toolgym/MineD-CaT-v0", validate=False)
    register_bank(tasks, "toolgym/MineD-CaT-v0", validate=False, replace=True)
    env = gym.make("toolgym/MineD-CaT-v0", split="all")
    assert len(env.unwrapped.task_ids) == 3
    env.close()


def test_empty_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no tasks"):
        register_bank(write_jsonl([], tmp_path / "empty.jsonl"), "toolgym/MineE-CaT-v0")


def test_unregister_forgets_the_id_and_the_copy(tasks: list[CodeAsTask]) -> None:
    bank = register_bank(tasks, "toolgym/MineF-CaT-v0", validate=False)
    unregister_bank("toolgym/MineF-CaT-v0")
    assert registered_banks() == {}
    assert bank.path is not None and not bank.path.exists()
    assert "toolgym/MineF-CaT-v0" not in gym.registry
    with pytest.raises(KeyError, match="no bank"):
        unregister_bank("toolgym/MineF-CaT-v0")


def test_a_broken_registry_warns_instead_of_breaking_import(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "registry.json").write_text("[1, 2")
    with pytest.warns(UserWarning, match="registry.json, line 1"):
        assert register_user_banks() == []
    (home / "registry.json").write_text(json.dumps(["not", "a", "mapping"]))
    with pytest.warns(UserWarning, match="expected a JSON object"):
        assert register_user_banks() == []


def test_env_name_checks_the_form() -> None:
    assert env_name("toolgym/My-CaT-v2") == "My-CaT-v2"
    assert env_name("My-CaT-v2") == "My-CaT-v2"
    with pytest.raises(ValueError, match="namespace"):
        env_name("gym/My-CaT-v2")


def test_the_command_reports_refusals(
    tasks: list[CodeAsTask], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from toolgym.tasks.cli import bank_register

    args = argparse.Namespace(
        path=str(tmp_path / "missing.jsonl"), id="toolgym/MineG-CaT-v0", no_validate=True, replace=False
    )
    assert bank_register(args) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    args.path = str(write_jsonl(tasks, tmp_path / "ok.jsonl"))
    assert bank_register(args) == 0
    assert 'gymnasium.make("toolgym/MineG-CaT-v0")' in capsys.readouterr().out
    assert bank_register(args) == 1
    assert "already registered" in capsys.readouterr().err
