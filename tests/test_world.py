from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolgym.world import World, WorldError, canonical, canonical_json


def small_world() -> World:
    return World(
        {
            "users": {
                "u1": {"name": "Ann", "balance": 10.0, "tags": ["a"]},
                "u2": {"name": "Bo", "balance": 5},
            },
            "orders": {"o1": {"user": "u1", "total": 25}},
        }
    )


def test_get_and_table_read_current_records() -> None:
    w = small_world()
    assert w.get("users", "u1")["name"] == "Ann"  # type: ignore[index]
    assert w.get("users", "nope") is None
    assert [k for k, _ in w.table("users")] == ["u1", "u2"]
    assert ("orders", "o1") in w
    assert ("orders", "o9") not in w
    with pytest.raises(KeyError, match="unknown table 'flights'"):
        w.get("flights", "x")


def test_constructor_copies_input_and_rejects_non_tables() -> None:
    data = {"t": {"k": {"v": 1}}}
    w = World(data)
    data["t"]["k"]["v"] = 2
    assert w.get("t", "k") == {"v": 1}
    with pytest.raises(WorldError, match="mapping of tables"):
        World([1, 2])  # type: ignore[arg-type]
    with pytest.raises(WorldError, match="table 't'"):
        World({"t": [1]})  # type: ignore[dict-item]


def test_forks_are_isolated_from_each_other_and_from_the_base() -> None:
    base = small_world()
    h0 = base.hash()
    a, b = base.fork(), base.fork()
    a.edit("users", "u1")["balance"] = 0
    assert a.get("users", "u1")["balance"] == 0  # type: ignore[index]
    assert b.get("users", "u1")["balance"] == 10.0  # type: ignore[index]
    assert base.hash() == h0 == b.hash() != a.hash()
    c = a.fork()
    c.edit("users", "u1")["balance"] = 7
    assert a.get("users", "u1")["balance"] == 0  # type: ignore[index]
    assert c.pristine().hash() == h0
    assert a.changed == {"users": ["u1"]}


def test_edit_of_missing_record_raises() -> None:
    with pytest.raises(KeyError, match="no record 'u9'"):
        small_world().edit("users", "u9")


def test_transaction_rolls_back_every_edit_on_error() -> None:
    w = small_world().fork()
    w.edit("users", "u2")["balance"] = 6
    before = w.hash()
    with pytest.raises(RuntimeError), w.transaction():
        w.edit("users", "u1")["balance"] = -1
        w.edit("users", "u2")["balance"] = -2
        w.put("orders", "o2", {"user": "u2", "total": 1})
        raise RuntimeError("tool failed midway")
    assert w.hash() == before
    assert w.get("users", "u2")["balance"] == 6  # type: ignore[index]
    assert w.get("orders", "o2") is None


def test_transaction_commits_and_nested_joins_outer() -> None:
    w = small_world().fork()
    with w.transaction():
        w.edit("users", "u1")["balance"] = 1
        with w.transaction():
            w.put("orders", "o2", {"user": "u1", "total": 3})
    assert w.get("orders", "o2") == {"user": "u1", "total": 3}
    assert [k for k, _ in w.table("orders")] == ["o1", "o2"]


def test_hash_normalises_numbers_and_key_order() -> None:
    a = World({"t": {"k": {"x": 25, "y": [1.0, 2.5]}}})
    b = World({"t": {"k": {"y": [1, 2.5], "x": 25.0}}})
    assert a.hash() == b.hash()
    assert a == b
    assert World({"t": {"k": {"x": True}}}).hash() != World({"t": {"k": {"x": 1}}}).hash()


def test_hash_of_edit_then_revert_equals_original() -> None:
    w = small_world().fork()
    h = w.hash()
    rec = w.edit("orders", "o1")
    rec["total"] = 26
    assert w.hash() != h
    rec["total"] = 25.0
    assert w.hash() == h


def test_to_dict_is_an_independent_copy() -> None:
    w = small_world().fork()
    w.edit("users", "u2")["name"] = "Bob"
    d = w.to_dict()
    assert d["users"]["u2"]["name"] == "Bob"
    d["users"]["u1"]["name"] = "changed"
    assert w.get("users", "u1")["name"] == "Ann"  # type: ignore[index]
    assert World(d).hash() != w.hash()


def test_canonical_rejects_non_json() -> None:
    with pytest.raises(WorldError, match="not JSON data: set"):
        canonical({"a": {1, 2}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_is_stable_under_float_respelling(value: object) -> None:
    def respell(v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**53:
            return float(v)
        if isinstance(v, list):
            return [respell(x) for x in v]
        if isinstance(v, dict):
            return {k: respell(x) for k, x in reversed(list(v.items()))}
        return v

    assert canonical_json(value) == canonical_json(respell(value))
    assert canonical(canonical(value)) == canonical(value)
