"""The CaT format: JSON round trips, content-hash ids and clear errors for malformed tasks."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toolgym.tasks import TASK_SCHEMA, CodeAsTask, TaskFormatError


def example(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "domain": "retail",
        "world": {"generator": "retail", "seed": 1},
        "instruction": "Cancel order #W1.",
        "verifier": "def evaluate(state, answer):\n    return False\n",
        "solution": "print(1)",
        "failure_cases": ["print(2)", "print(3)", "print(4)"],
    }
    obj.update(changes)
    return obj


def test_round_trip_keeps_every_field() -> None:
    task = CodeAsTask.from_dict(example(split="test", provenance={"author": "me", "model": None}))
    again = CodeAsTask.from_json(task.to_json())
    assert again == task
    assert json.loads(task.to_json())["id"] == task.id
    assert next(iter(task.to_dict())) == "id"


def test_the_id_is_a_hash_of_the_content_only() -> None:
    base = CodeAsTask.from_dict(example())
    assert base.id.startswith("retail-") and len(base.id) == len("retail-") + 16
    assert CodeAsTask.from_dict(example(split="train", provenance={"x": 1})).id == base.id
    assert CodeAsTask.from_dict(example(instruction="Cancel order #W2.")).id != base.id
    assert CodeAsTask.from_dict(example(world={"seed": 1, "generator": "retail"})).id == base.id
    assert CodeAsTask.from_dict(example(world={"generator": "retail", "seed": 1.0})).id == base.id
    assert base.with_split("test").id == base.id and base.with_split("test").split == "test"


def test_family_comes_from_the_provenance() -> None:
    assert (
        CodeAsTask.from_dict(example(provenance={"family": "gift_card_balance"})).family
        == "gift_card_balance"
    )
    assert CodeAsTask.from_dict(example(provenance={"family": ""})).family is None
    assert CodeAsTask.from_dict(example(provenance={"family": 3})).family is None
    assert CodeAsTask.from_dict(example()).family is None


def test_a_stale_id_is_refused() -> None:
    obj = example()
    obj["id"] = CodeAsTask.from_dict(example(instruction="other")).id
    with pytest.raises(TaskFormatError, match=r"bank.jsonl, line 3: id .* does not match"):
        CodeAsTask.from_dict(obj, where="bank.jsonl, line 3")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({k: v for k, v in example().items() if k != "verifier"}, "must contain"),
        (example(failure_cases=["a", "b"]), "failure_cases"),
        (example(failure_cases=["a", "b", 3]), "failure_cases"),
        (example(instruction=""), "instruction"),
        (example(split="dev"), "split"),
        (example(world="seed 1"), "world"),
        (example(extra=1), r"task: must not contain \{'extra'\}"),
        ([1, 2], "must be object"),
    ],
)
def test_malformed_tasks_name_the_problem(obj: Any, message: str) -> None:
    with pytest.raises(TaskFormatError, match=message) as info:
        CodeAsTask.from_dict(obj, where="f.jsonl, line 9")
    assert str(info.value).startswith("f.jsonl, line 9: ")


def test_invalid_json_names_the_column() -> None:
    with pytest.raises(TaskFormatError, match=r"^x.jsonl, line 2: invalid JSON at column 2"):
        CodeAsTask.from_json("{,}", where="x.jsonl, line 2")


def test_with_split_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        CodeAsTask.from_dict(example()).with_split("dev")


def test_the_schema_is_json() -> None:
    assert json.loads(json.dumps(TASK_SCHEMA))["required"][0] == "domain"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(text=st.text(max_size=200))
@settings(max_examples=100, deadline=None)
def test_from_json_only_raises_format_errors_on_any_text(text: str) -> None:
    with contextlib.suppress(TaskFormatError):
        CodeAsTask.from_json(text)


@given(
    obj=st.dictionaries(st.sampled_from([*example(), "id", "split", "provenance"]), json_values, max_size=9)
)
@settings(max_examples=200, deadline=None)
def test_from_dict_only_raises_format_errors_on_any_object(obj: dict[str, Any]) -> None:
    try:
        task = CodeAsTask.from_dict(obj)
    except TaskFormatError:
        return
    assert CodeAsTask.from_json(task.to_json()) == task


def test_where_a_dataset_lies_is_not_part_of_the_id() -> None:
    here = CodeAsTask.from_dict(example(world={"dataset": "tau-bench", "data_dir": "/a/data"}))
    there = CodeAsTask.from_dict(example(world={"dataset": "tau-bench", "data_dir": "/b/data"}))
    assert here.id == there.id
    assert here.to_dict()["world"]["data_dir"] == "/a/data"
    assert CodeAsTask.from_json(here.to_json()) == here
