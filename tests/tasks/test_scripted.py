"""The scripted challenger: deterministic, covers every write tool, and its tasks pass the filter for the right reasons."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from toolgym.envs.retail.family_world import STATUSES, TRIES, Draw, drawn_from, index, record
from toolgym.tasks import CodeAsTask, TaskRunner, scripted, validate_many
from toolgym.tasks.bank import tools_called
from toolgym.tasks.scripted import ScriptedChallenger, TaskFamily, task_families

from toolgym import domains
from toolgym.domains import Domain, get_domain
from toolgym.world import World

FAMILIES = task_families("retail")
BY_NAME = {f.name: f for f in FAMILIES}
TOOLSET = get_domain("retail").toolset
WRITE_TOOLS = sorted(name for name, t in TOOLSET.items() if t.writes)


@pytest.fixture(scope="module")
def two_worlds() -> list[CodeAsTask]:
    """One task per family on world 0, then one per family on world 1."""
    return list(ScriptedChallenger("retail", world_seeds=[0, 1]).propose(2 * len(FAMILIES)))


def first_of(tasks: list[CodeAsTask], family: str) -> CodeAsTask:
    return next(t for t in tasks if t.provenance["family"] == family)


def test_same_arguments_give_the_same_tasks_byte_for_byte() -> None:
    def lines(seed: int) -> list[str]:
        return [t.to_json() for t in ScriptedChallenger("retail", world_seeds=[2, 3], seed=seed).propose(30)]

    first = lines(0)
    assert len(first) == 30
    assert first == lines(0)
    assert first != lines(1)


def test_a_familys_tasks_do_not_depend_on_the_other_families(two_worlds: list[CodeAsTask]) -> None:
    alone = list(ScriptedChallenger("retail", families=["order_status"], world_seeds=[0, 1]).propose(2))
    assert [t.to_json() for t in alone] == [
        t.to_json() for t in two_worlds if t.provenance["family"] == "order_status"
    ]


def test_round_robin_over_families_then_worlds_with_provenance(two_worlds: list[CodeAsTask]) -> None:
    names = [f.name for f in FAMILIES]
    assert [t.provenance["family"] for t in two_worlds] == names + names
    for i, task in enumerate(two_worlds):
        world_seed = i // len(FAMILIES)
        assert task.provenance == {
            "author": "scripted",
            "challenger": "toolgym.tasks.scripted",
            "family": names[i % len(names)],
            "seed": 0,
            "world_seed": world_seed,
        }
        assert task.split is None
        assert dict(task.world) == get_domain("retail").world_spec(world_seed)  # type: ignore[misc]
    assert len({t.id for t in two_worlds}) == len(two_worlds)


def test_every_family_passes_the_filter_on_two_worlds(
    two_worlds: list[CodeAsTask], runner: TaskRunner
) -> None:
    report = validate_many(two_worlds, runner)
    failed = {
        t.provenance["family"]: r for t, r in zip(two_worlds, report.reports, strict=True) if not r.passed
    }
    assert failed == {}
    seeds: dict[str, set[int]] = {}
    for task in two_worlds:
        seeds.setdefault(task.provenance["family"], set()).add(task.provenance["world_seed"])
    assert all(s == {0, 1} for s in seeds.values()) and len(seeds) == len(FAMILIES)


def test_every_retail_write_tool_is_covered(two_worlds: list[CodeAsTask]) -> None:
    assert sorted({tool for f in FAMILIES for tool in f.tools}) == WRITE_TOOLS
    assert 15 <= len(FAMILIES) <= 25
    assert {f.kind for f in FAMILIES} == {"read", "write"}
    for task in two_worlds:
        family = BY_NAME[task.provenance["family"]]
        writes = {name for name in tools_called(task.solution) if name in WRITE_TOOLS}
        assert writes == set(family.tools), family.name


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_failure_cases_are_rejected_for_the_right_reason(
    family: str, two_worlds: list[CodeAsTask], runner: TaskRunner
) -> None:
    task = first_of(two_worlds, family)
    kind = BY_NAME[family].kind
    solution = runner.play(task, task.solution)
    assert solution.verdict.value is True
    assert 3 <= len(task.failure_cases) <= 4
    writes = 0
    for case in task.failure_cases:
        assert case.startswith("# near miss: ")
        episode = runner.play(task, case)
        # A tool refusing the near-miss is fine; a broken script is not.
        assert episode.run.result.status == "ok" or (episode.run.error or "").startswith("ToolError"), case
        assert episode.verdict.value is False, case
        changed = episode.world.hash() != solution.world.pristine().hash()
        writes += changed
        if kind == "write":
            # Write verifiers judge the world: the failure's world fails even with the solution's message, and
            # the failure's message alone would not have failed the solution's world.
            assert runner.judge(task, episode.world, solution.answer).value is False, case
            assert runner.judge(task, solution.world, episode.answer).value is True, case
        elif changed:
            assert runner.judge(task, episode.world, solution.answer).value is False, case
        else:
            assert runner.judge(task, solution.world, episode.answer).value is False, case
    if kind == "write":
        assert writes >= 1, "a write task needs at least one near-miss that writes"


def test_numbers_in_answers_count_however_they_are_written(
    two_worlds: list[CodeAsTask], runner: TaskRunner
) -> None:
    task = first_of(two_worlds, "refund_estimate")
    solution = runner.play(task, task.solution)
    value = float(solution.answer.split()[-1])
    world = solution.world
    for text in (f"${value:,.2f}", f"{value}", f"{value:.2f}", f"You'd get ${value:,.2f} back."):
        assert runner.judge(task, world, text).value is True, text
    for text in (f"${value + 1:,.2f}", f"{value * 10:.2f}", "I can't tell."):
        assert runner.judge(task, world, text).value is False, text


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_each_family_draws_many_distinct_tasks_from_one_world(family: TaskFamily) -> None:
    domain = get_domain("retail")
    spec = domain.world_spec(4)  # type: ignore[misc]
    world = domain.build_world(spec)
    checks = set()
    for k in range(25):
        task = family.make(world, spec, np.random.default_rng([9, k]))
        assert task is not None
        assert task.domain == "retail" and dict(task.world) == spec
        checks.add(task.verifier)
    assert len(checks) >= 15
    assert not world.changed


def test_a_family_maker_tries_random_candidates_with_one_draw() -> None:
    spec = get_domain("retail").world_spec(0)  # type: ignore[misc]
    world = get_domain("retail").build_world(spec)
    tried: list[str] = []

    def never(d: Draw, key: str) -> CodeAsTask | None:
        """Never fits."""
        assert d.world is world and d.spec is spec and d.index is index(world)
        tried.append(key)
        return None

    make = drawn_from(lambda d: ["a", "b", "c"])(never)
    assert make(world, spec, np.random.default_rng(0)) is None
    assert len(tried) == TRIES and set(tried) == {"a", "b", "c"}
    assert (make.__name__, make.__doc__) == ("never", "Never fits.")
    tried.clear()
    assert drawn_from(lambda d: [])(never)(world, spec, np.random.default_rng(0)) is None
    assert tried == []


def test_the_world_index_lists_orders_status_by_status() -> None:
    world = get_domain("retail").build_world(get_domain("retail").world_spec(0))  # type: ignore[misc]
    ix = index(world)
    assert ix.with_status("pending", "delivered") == ix.orders["pending"] + ix.orders["delivered"]
    assert ix.products == tuple(key for key, _ in world.table("products"))
    for user_id in ix.users:
        mine = ix.of_user(user_id, *STATUSES)
        assert sorted(mine) == sorted(record(world, "users", user_id)["orders"])
        statuses = [record(world, "orders", o)["status"] for o in mine]
        assert statuses == sorted(statuses, key=STATUSES.index)
        for order_id in mine:
            order = record(world, "orders", order_id)
            others = ix.others(order)
            assert order_id not in others
            assert {record(world, "orders", o)["status"] for o in others} <= {order["status"]}
            assert len(others) == len(ix.of_user(user_id, order["status"])) - 1


def test_n_is_respected() -> None:
    challenger = ScriptedChallenger("retail", world_seeds=[0])
    assert len(list(challenger.propose(5))) == 5
    assert list(challenger.propose(0)) == []
    with pytest.raises(ValueError, match="non-negative"):
        list(challenger.propose(-1))


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown task families \['no_such_family'\]"):
        ScriptedChallenger("retail", families=["order_status", "no_such_family"])
    with pytest.raises(ValueError, match="not one string"):
        ScriptedChallenger("retail", families="order_status")
    with pytest.raises(ValueError, match="listed twice"):
        ScriptedChallenger("retail", families=["order_status", "order_status"])
    with pytest.raises(ValueError, match="names no seed"):
        ScriptedChallenger("retail", world_seeds=[])
    with pytest.raises(ValueError, match="non-negative"):
        ScriptedChallenger("retail", seed=-1)
    with pytest.raises(KeyError, match="unknown domain"):
        ScriptedChallenger("no-such-domain")
    with pytest.raises(ValueError, match="kind"):
        TaskFamily("x", "other", (), "", lambda w, s, r: None)
    with pytest.raises(ValueError, match="write tools"):
        TaskFamily("x", "read", ("cancel_pending_order",), "", lambda w, s, r: None)


def test_a_domain_without_families_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    retail = get_domain("retail")
    bare = Domain("bare", retail.toolset, retail.policy, retail.build_world, world_spec=retail.world_spec)
    monkeypatch.setitem(domains._DOMAINS, "bare", bare)
    with pytest.raises(ValueError, match="'bare' has no scripted task families"):
        task_families("bare")
    with pytest.raises(ValueError, match="no scripted task families"):
        ScriptedChallenger("bare")
    no_generator = dataclasses.replace(bare, world_spec=None, task_families=retail.task_families)
    monkeypatch.setitem(domains._DOMAINS, "bare", no_generator)
    with pytest.raises(ValueError, match="no world generator"):
        ScriptedChallenger("bare")


def test_it_stops_when_nothing_new_can_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    task = next(ScriptedChallenger("retail", families=["order_status"], world_seeds=[0]).propose(1))

    def same(world: World, spec: Mapping[str, Any], rng: np.random.Generator) -> CodeAsTask | None:
        return dataclasses.replace(task, provenance={})

    def never(world: World, spec: Mapping[str, Any], rng: np.random.Generator) -> CodeAsTask | None:
        return None

    families = (
        TaskFamily("same", "read", (), "always one task", same),
        TaskFamily("never", "read", (), "", never),
    )
    monkeypatch.setattr(scripted, "task_families", lambda domain: families)
    made = list(ScriptedChallenger("retail", world_seeds=[0, 1]).propose(100))
    assert [t.id for t in made] == [task.id]
    assert made[0].provenance["family"] == "same"


def test_settings_are_json_data() -> None:
    challenger = ScriptedChallenger(
        "retail", families=["order_status", "return_items"], world_seeds=[3, 1], seed=7
    )
    settings = challenger.settings()
    assert json.loads(json.dumps(settings)) == {
        "domain": "retail",
        "families": ["order_status", "return_items"],
        "world_seeds": [3, 1],
        "seed": 7,
    }
    assert challenger.name == "scripted"


def test_proposals_wrap_the_proposed_tasks_as_usable() -> None:
    made = list(ScriptedChallenger("retail", world_seeds=[0]).proposals(3))
    assert [p.reason for p in made] == ["ok"] * 3
    assert [p.task for p in made] == list(ScriptedChallenger("retail", world_seeds=[0]).propose(3))
