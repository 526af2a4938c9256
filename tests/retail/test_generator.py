"""Tests of the seeded retail world generator: τ-bench schema, integrity, determinism and distributions."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toolgym.envs.retail.generator import generate_world
from toolgym.envs.retail.vocabulary import PRODUCT_TYPES

TAU_BENCH_RETAIL = Path("/work/shared/data/taubench/retail")

World = dict[str, dict[str, dict[str, Any]]]

# Key lists (in τ-bench's order) and value types of every kind of record, as in τ-bench's retail data.
EXPECTED_SHAPES: dict[str, set[tuple[tuple[str, str], ...]]] = {
    "user": {
        (
            ("name", "dict"),
            ("address", "dict"),
            ("email", "str"),
            ("payment_methods", "dict"),
            ("orders", "list"),
        )
    },
    "name": {(("first_name", "str"), ("last_name", "str"))},
    "address": {
        (
            ("address1", "str"),
            ("address2", "str"),
            ("city", "str"),
            ("country", "str"),
            ("state", "str"),
            ("zip", "str"),
        )
    },
    "payment_method": {
        (("source", "str"), ("brand", "str"), ("last_four", "str"), ("id", "str")),
        (("source", "str"), ("balance", "int"), ("id", "str")),
        (("source", "str"), ("id", "str")),
    },
    "product": {(("name", "str"), ("product_id", "str"), ("variants", "dict"))},
    "variant": {(("item_id", "str"), ("options", "dict"), ("available", "bool"), ("price", "float"))},
    "order": {
        (
            ("order_id", "str"),
            ("user_id", "str"),
            ("address", "dict"),
            ("items", "list"),
            ("fulfillments", "list"),
            ("status", "str"),
            ("payment_history", "list"),
        )
    },
    "order_item": {
        (("name", "str"), ("product_id", "str"), ("item_id", "str"), ("price", "float"), ("options", "dict"))
    },
    "fulfillment": {(("tracking_id", "list"), ("item_ids", "list"))},
    "payment": {(("transaction_type", "str"), ("amount", "float"), ("payment_method_id", "str"))},
}

TAU_STATUS_SHARES = {"pending": 0.423, "delivered": 0.373, "processed": 0.102, "cancelled": 0.102}


def _shape(record: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((key, type(value).__name__) for key, value in record.items())


def shapes(world: World) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Every distinct (key, type) list of every kind of record in a world."""
    found: dict[str, set[tuple[tuple[str, str], ...]]] = {kind: set() for kind in EXPECTED_SHAPES}
    for user in world["users"].values():
        found["user"].add(_shape(user))
        found["name"].add(_shape(user["name"]))
        found["address"].add(_shape(user["address"]))
        for method in user["payment_methods"].values():
            found["payment_method"].add(_shape(method))
    for product in world["products"].values():
        found["product"].add(_shape(product))
        for variant in product["variants"].values():
            found["variant"].add(_shape(variant))
    for order in world["orders"].values():
        found["order"].add(_shape(order))
        found["address"].add(_shape(order["address"]))
        found["order_item"].update(_shape(item) for item in order["items"])
        found["fulfillment"].update(_shape(f) for f in order["fulfillments"])
        found["payment"].update(_shape(p) for p in order["payment_history"])
    return found


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _containers(item)
    elif isinstance(value, list):
        yield value
        for item in value:
            yield from _containers(item)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def check_integrity(world: World) -> None:
    """Assert the formats and cross-references that τ-bench's tools and tasks rely on."""
    users, products, orders = world["users"], world["products"], world["orders"]
    assert set(world) == {"users", "products", "orders"}
    assert all(type(leaf) in (str, int, float, bool) for leaf in _leaves(world))
    # Tools edit records in place: no dict or list may be shared between two places.
    containers = list(_containers(world))
    assert len({id(c) for c in containers}) == len(containers)

    emails: list[str] = []
    name_zips: list[tuple[str, str, str]] = []
    method_ids: list[str] = []
    for user_id, user in users.items():
        first, last = user["name"]["first_name"], user["name"]["last_name"]
        assert re.fullmatch(rf"{first.lower()}_{last.lower()}_\d{{4}}", user_id)
        assert re.fullmatch(rf"{first.lower()}\.{last.lower()}\d{{4}}@example\.com", user["email"])
        address = user["address"]
        assert address["country"] == "USA"
        assert re.fullmatch(r"[A-Z]{2}", address["state"])
        assert re.fullmatch(r"\d{5}", address["zip"])
        assert re.fullmatch(r"\d{3} \S.*", address["address1"])
        emails.append(user["email"])
        name_zips.append((first, last, address["zip"]))
        assert 1 <= len(user["payment_methods"]) <= 4
        kinds = Counter(method["source"] for method in user["payment_methods"].values())
        assert kinds["gift_card"] <= 1 and kinds["paypal"] <= 1
        for method_id, method in user["payment_methods"].items():
            assert method["id"] == method_id
            assert re.fullmatch(rf"{method['source']}_\d{{7}}", method_id)
            if method["source"] == "credit_card":
                assert method["brand"] in {"visa", "mastercard", "amex", "discover"}
                assert re.fullmatch(r"\d{4}", method["last_four"])
            if method["source"] == "gift_card":
                assert 0 <= method["balance"] <= 100
            method_ids.append(method_id)
        listed = [order_id for order_id, order in orders.items() if order["user_id"] == user_id]
        assert user["orders"] == listed
    assert len(set(emails)) == len(emails)
    assert len(set(name_zips)) == len(name_zips)
    assert len(set(method_ids)) == len(method_ids)

    ten_digit_ids = list(products)
    for product_id, product in products.items():
        assert product["product_id"] == product_id
        assert re.fullmatch(r"[1-9]\d{9}", product_id)
        assert 5 <= len(product["variants"]) <= 20
        assert sum(v["available"] for v in product["variants"].values()) >= 2
        combos = {tuple(sorted(v["options"].items())) for v in product["variants"].values()}
        assert len(combos) == len(product["variants"])
        for item_id, variant in product["variants"].items():
            assert variant["item_id"] == item_id
            assert re.fullmatch(r"[1-9]\d{9}", item_id)
            assert variant["price"] > 0 and round(variant["price"], 2) == variant["price"]
            assert all(type(k) is str and type(v) is str for k, v in variant["options"].items())
            ten_digit_ids.append(item_id)
    assert len(set(ten_digit_ids)) == len(ten_digit_ids), "product and item ids must all differ"

    tracking_ids: list[str] = []
    for order_id, order in orders.items():
        assert order["order_id"] == order_id
        assert re.fullmatch(r"#W\d{7}", order_id)
        assert order["user_id"] in users
        assert order_id in users[order["user_id"]]["orders"]
        assert "cancel_reason" not in order
        assert 1 <= len(order["items"]) <= 5
        for item in order["items"]:
            product = products[item["product_id"]]
            variant = product["variants"][item["item_id"]]
            assert item["name"] == product["name"]
            assert item["price"] == variant["price"]
            assert item["options"] == variant["options"]
        item_ids = [item["item_id"] for item in order["items"]]
        if order["status"] == "pending":
            assert order["fulfillments"] == []
        else:
            assert order["status"] in {"delivered", "processed", "cancelled"}
            [fulfillment] = order["fulfillments"]
            assert fulfillment["item_ids"] == item_ids
            [tracking_id] = fulfillment["tracking_id"]
            assert re.fullmatch(r"[1-9]\d{11}", tracking_id)
            tracking_ids.append(tracking_id)
        payment, *rest = order["payment_history"]
        total = round(sum(item["price"] for item in order["items"]), 2)
        assert payment == {
            "transaction_type": "payment",
            "amount": total,
            "payment_method_id": payment["payment_method_id"],
        }
        assert payment["payment_method_id"] in users[order["user_id"]]["payment_methods"]
        if order["status"] == "cancelled":
            assert rest == [{**payment, "transaction_type": "refund"}]
        else:
            assert rest == []
    assert len(set(tracking_ids)) == len(tracking_ids)


@pytest.fixture(scope="module")
def world() -> World:
    generated: World = generate_world()
    return generated


@pytest.fixture(scope="module")
def tau_world() -> World:
    if not TAU_BENCH_RETAIL.is_dir():
        pytest.skip(f"τ-bench retail data not found at {TAU_BENCH_RETAIL}")
    tables = ("users", "products", "orders")
    return {
        name: json.loads((TAU_BENCH_RETAIL / f"{name}.json").read_text(encoding="utf-8")) for name in tables
    }


def test_schema_matches_hard_coded_shapes(world: World) -> None:
    assert shapes(world) == EXPECTED_SHAPES


def test_schema_matches_tau_bench_data(world: World, tau_world: World) -> None:
    assert shapes(world) == shapes(tau_world)


def test_tau_bench_data_has_the_invariants_we_mirror(tau_world: World) -> None:
    # If τ-bench's data ever changes, these say which of our choices to revisit.
    orders = tau_world["orders"]
    assert not any("cancel_reason" in order for order in orders.values())
    assert all((order["fulfillments"] == []) == (order["status"] == "pending") for order in orders.values())
    products = tau_world["products"]
    for order in orders.values():
        for item in order["items"]:
            assert item["price"] == products[item["product_id"]]["variants"][item["item_id"]]["price"]


def test_integrity_default_size(world: World) -> None:
    check_integrity(world)


def test_default_sizes(world: World) -> None:
    assert len(world["users"]) == 500
    assert len(world["products"]) == 50
    assert len(world["orders"]) == 1000
    assert len({p["name"] for p in world["products"].values()}) == 50
    assert 500 <= sum(len(p["variants"]) for p in world["products"].values()) <= 700


@pytest.mark.parametrize(
    ("n_users", "n_products", "n_orders"), [(1, 1, 1), (5, 3, 10), (2, 50, 7), (40, 1, 3)]
)
def test_small_sizes(n_users: int, n_products: int, n_orders: int) -> None:
    small = generate_world(3, n_users=n_users, n_products=n_products, n_orders=n_orders)
    assert (len(small["users"]), len(small["products"]), len(small["orders"])) == (
        n_users,
        n_products,
        n_orders,
    )
    check_integrity(small)


def test_same_seed_same_world() -> None:
    a = json.dumps(generate_world(7), sort_keys=True)
    b = json.dumps(generate_world(7), sort_keys=True)
    assert a == b
    small = [
        json.dumps(generate_world(1, n_users=5, n_products=3, n_orders=10), sort_keys=True) for _ in range(2)
    ]
    assert small[0] == small[1]


def test_different_seeds_differ() -> None:
    worlds = {json.dumps(generate_world(seed, n_users=5, n_products=3, n_orders=10)) for seed in range(10)}
    assert len(worlds) == 10
    assert generate_world(0)["users"].keys() != generate_world(1)["users"].keys()


def test_json_round_trip(world: World) -> None:
    assert json.loads(json.dumps(world)) == world


def test_status_distribution(world: World) -> None:
    counts = Counter(order["status"] for order in world["orders"].values())
    assert counts == {"pending": 423, "delivered": 373, "processed": 102, "cancelled": 102}
    small = Counter(
        o["status"] for o in generate_world(0, n_users=5, n_products=3, n_orders=10)["orders"].values()
    )
    assert small == {"pending": 4, "delivered": 4, "processed": 1, "cancelled": 1}


def test_user_distributions(world: World) -> None:
    users = list(world["users"].values())
    n = len(users)
    per_user = Counter(len(user["payment_methods"]) for user in users)
    for count, share, tolerance in [(1, 0.674, 0.07), (2, 0.272, 0.06), (3, 0.044, 0.03), (4, 0.01, 0.015)]:
        assert abs(per_user[count] / n - share) <= tolerance, (count, per_user)
    kinds = Counter(m["source"] for user in users for m in user["payment_methods"].values())
    for kind in ("credit_card", "gift_card", "paypal"):
        assert 0.25 <= kinds[kind] / kinds.total() <= 0.42
    without_orders = sum(not user["orders"] for user in users) / n
    assert 0.07 <= without_orders <= 0.19
    balances = [
        m["balance"] for u in users for m in u["payment_methods"].values() if m["source"] == "gift_card"
    ]
    assert 35 <= sum(balances) / len(balances) <= 65


def test_product_and_order_distributions(world: World) -> None:
    variants = [v for p in world["products"].values() for v in p["variants"].values()]
    assert 0.56 <= sum(v["available"] for v in variants) / len(variants) <= 0.72
    orders = list(world["orders"].values())
    per_order = Counter(len(order["items"]) for order in orders)
    assert all(0.15 <= per_order[k] / len(orders) <= 0.25 for k in range(1, 6)), per_order
    users = world["users"]
    elsewhere = sum(order["address"] != users[order["user_id"]]["address"] for order in orders) / len(orders)
    assert 0.14 <= elsewhere <= 0.26
    repeated = sum(len(o["items"]) != len({i["item_id"] for i in o["items"]}) for o in orders)
    assert repeated <= 20
    items = [item for order in orders for item in order["items"]]
    unavailable = sum(
        not world["products"][i["product_id"]]["variants"][i["item_id"]]["available"] for i in items
    )
    assert 0.2 <= unavailable / len(items) <= 0.5


def test_enough_material_for_tasks(world: World) -> None:
    products = world["products"]

    def exchangeable(item: dict[str, Any]) -> bool:
        variants = products[item["product_id"]]["variants"].values()
        return any(v["available"] and v["item_id"] != item["item_id"] for v in variants)

    orders = list(world["orders"].values())
    modifiable = [o for o in orders if o["status"] == "pending" and len(o["items"]) >= 2]
    assert sum(any(exchangeable(i) for i in o["items"]) for o in modifiable) >= 200
    assert sum(o["status"] == "delivered" for o in orders) >= 300
    gift_cards = [
        m
        for u in world["users"].values()
        for m in u["payment_methods"].values()
        if m["source"] == "gift_card"
    ]
    assert sum(m["balance"] > 0 for m in gift_cards) >= 150
    paid_by_gift_card = [
        o for o in orders if o["payment_history"][0]["payment_method_id"].startswith("gift_card_")
    ]
    assert any(o["status"] == "pending" for o in paid_by_gift_card)
    assert sum(len(u["payment_methods"]) >= 2 for u in world["users"].values()) >= 100


def test_generation_is_fast() -> None:
    best = float("inf")
    for seed in range(3):
        start = time.perf_counter()
        generate_world(seed)
        best = min(best, time.perf_counter() - start)
    assert best < 1.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_users": 0}, "n_users"),
        ({"n_users": -3}, "n_users"),
        ({"n_users": 2.0}, "n_users"),
        ({"n_users": "5"}, "n_users"),
        ({"n_users": True}, "n_users"),
        ({"n_products": 0}, "n_products"),
        ({"n_products": len(PRODUCT_TYPES) + 1}, "n_products"),
        ({"n_products": None}, "n_products"),
        ({"n_orders": 0}, "n_orders"),
        ({"n_orders": 1.5}, "n_orders"),
        ({"seed": -1}, "seed"),
        ({"seed": 0.5}, "seed"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        generate_world(**kwargs)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**63),
    n_users=st.integers(min_value=1, max_value=25),
    n_products=st.integers(min_value=1, max_value=len(PRODUCT_TYPES)),
    n_orders=st.integers(min_value=1, max_value=40),
)
def test_integrity_property(seed: int, n_users: int, n_products: int, n_orders: int) -> None:
    small = generate_world(seed, n_users=n_users, n_products=n_products, n_orders=n_orders)
    assert (len(small["users"]), len(small["products"]), len(small["orders"])) == (
        n_users,
        n_products,
        n_orders,
    )
    check_integrity(small)
