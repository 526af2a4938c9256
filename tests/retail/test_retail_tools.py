"""Unit tests of the 16 retail tools (``toolgym.envs.retail.tools``) against τ-bench's semantics.

Every test builds a small hand-made world with τ-bench's schema (three users, three products, orders in every
status, plus a few deliberately broken orders to exercise atomicity) and checks exact observations and the
exact resulting state.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from toolgym.envs.retail.tools import CANCEL_REASONS, RETAIL_TOOLS

from toolgym.tools import ToolResult
from toolgym.world import World

Data = dict[str, dict[str, Any]]

# ---------------------------------------------------------------------------------------------------------------
# The hand-made world
# ---------------------------------------------------------------------------------------------------------------

NOAH, AVA, MIA = "noah_brown_1234", "ava_moore_5678", "mia_lee_9012"
GHOST_USER = "ghost_user_0000"  # referenced by an order, absent from the users table

NOAH_CC, NOAH_PAYPAL = "credit_card_1111111", "paypal_2222222"
NOAH_GC, NOAH_GC_LOW = "gift_card_3333333", "gift_card_8888888"  # balances 300 and 5
AVA_GC, AVA_CC, AVA_GC_BIG = "gift_card_4444444", "credit_card_5555555", "gift_card_7777777"  # 60.5, -, 1000
MIA_PAYPAL = "paypal_6666666"
GHOST_GC = "gift_card_0000000"  # appears in payment histories but in nobody's payment methods

TSHIRT, BOOTS, CAMERA = "9523456873", "7363354090", "3377618313"
GHOST_PRODUCT = "0000000000"
TS_BLUE, TS_PURPLE, TS_RED, TS_BLACK = (
    "1000000001",
    "1000000002",
    "1000000003",
    "1000000004",
)  # TS_RED unavailable
BOOTS_7, BOOTS_8, BOOTS_9 = "2000000001", "2000000002", "2000000003"  # BOOTS_9 unavailable
CAM_4K = "3000000001"

P_CC = "#W1000001"  # noah, pending, [TS_BLUE, BOOTS_7], paid by credit card
P_GC = "#W1000002"  # ava, pending, [TS_PURPLE], paid by gift card
P_DUP = "#W1000003"  # noah, pending, [TS_BLUE, TS_BLUE], paid by paypal
P_SPLIT = "#W1000004"  # ava, pending, two payments (gift card + credit card)
P_AVA_CC = "#W1000005"  # ava, pending, [BOOTS_7], paid by credit card
PROCESSED = "#W1000006"  # noah
DELIVERED = "#W1000007"  # noah, [BOOTS_7, TS_PURPLE, TS_PURPLE], paid by credit card
DELIVERED_GC = "#W1000008"  # ava, [TS_BLUE], paid by gift card
CANCELLED = "#W1000009"  # ava
MODIFIED = "#W1000010"  # noah, "pending (item modified)"
BROKEN_CANCEL = "#W1000011"  # ava, pending, second payment by GHOST_GC
BROKEN_PAYMENT = "#W1000012"  # ava, pending, paid by GHOST_GC
GHOST_USER_ORDER = "#W1000013"  # pending order of GHOST_USER
GHOST_PRODUCT_ORDER = "#W1000014"  # noah, pending, an item of GHOST_PRODUCT
MISSING = "#W9999999"

NEW_ADDRESS = {
    "address1": "1 Infinite Loop",
    "address2": "Suite 42",
    "city": "Cupertino",
    "state": "CA",
    "country": "USA",
    "zip": "95014",
}
ADDRESS_KEYS = ["address1", "address2", "city", "state", "country", "zip"]


def _variant(item_id: str, price: float, available: bool, **options: str) -> dict[str, Any]:
    return {"item_id": item_id, "options": options, "available": available, "price": price}


def _products() -> dict[str, Any]:
    # Inserted out of name order so that list_all_product_types has to sort.
    return {
        TSHIRT: {
            "name": "T-Shirt",
            "product_id": TSHIRT,
            "variants": {
                TS_BLUE: _variant(TS_BLUE, 50.88, True, color="blue", size="M"),
                TS_PURPLE: _variant(TS_PURPLE, 49.67, True, color="purple", size="XL"),
                TS_RED: _variant(TS_RED, 53.27, False, color="red", size="S"),
                TS_BLACK: _variant(TS_BLACK, 54.99, True, color="black", size="L"),
            },
        },
        BOOTS: {
            "name": "Hiking Boots",
            "product_id": BOOTS,
            "variants": {
                BOOTS_7: _variant(BOOTS_7, 244.34, True, size="7", material="leather"),
                BOOTS_8: _variant(BOOTS_8, 253.89, True, size="8", material="synthetic"),
                BOOTS_9: _variant(BOOTS_9, 211.11, False, size="9", material="leather"),
            },
        },
        CAMERA: {
            "name": "Action Camera",
            "product_id": CAMERA,
            "variants": {CAM_4K: _variant(CAM_4K, 466.75, True, resolution="4K", waterproof="yes")},
        },
    }


def _item(products: dict[str, Any], product_id: str, item_id: str) -> dict[str, Any]:
    variant = products[product_id]["variants"][item_id]
    return {
        "name": products[product_id]["name"],
        "product_id": product_id,
        "item_id": item_id,
        "price": variant["price"],
        "options": dict(variant["options"]),
    }


def _payment(amount: float, method: str, kind: str = "payment") -> dict[str, Any]:
    return {"transaction_type": kind, "amount": amount, "payment_method_id": method}


def _address(address1: str, city: str, state: str, zip_code: str) -> dict[str, str]:
    # τ-bench's data files store addresses with country before state.
    return {
        "address1": address1,
        "address2": "",
        "city": city,
        "country": "USA",
        "state": state,
        "zip": zip_code,
    }


def make_data() -> Data:
    """A fresh τ-bench-schema database (users, products, orders)."""
    products = _products()
    users = {
        NOAH: {
            "name": {"first_name": "Noah", "last_name": "Brown"},
            "address": _address("986 Sunset Drive", "Denver", "CO", "80279"),
            "email": "Noah.Brown1234@example.com",
            "payment_methods": {
                NOAH_CC: {"source": "credit_card", "brand": "visa", "last_four": "9212", "id": NOAH_CC},
                NOAH_PAYPAL: {"source": "paypal", "id": NOAH_PAYPAL},
                NOAH_GC: {"source": "gift_card", "balance": 300, "id": NOAH_GC},
                NOAH_GC_LOW: {"source": "gift_card", "balance": 5, "id": NOAH_GC_LOW},
            },
            "orders": [P_CC, P_DUP, PROCESSED, DELIVERED, MODIFIED, GHOST_PRODUCT_ORDER],
        },
        AVA: {
            "name": {"first_name": "Ava", "last_name": "Moore"},
            "address": _address("996 Cedar Street", "San Antonio", "TX", "78234"),
            "email": "ava.moore5678@example.com",
            "payment_methods": {
                AVA_GC: {"source": "gift_card", "balance": 60.5, "id": AVA_GC},
                AVA_CC: {"source": "credit_card", "brand": "mastercard", "last_four": "1234", "id": AVA_CC},
                AVA_GC_BIG: {"source": "gift_card", "balance": 1000, "id": AVA_GC_BIG},
            },
            "orders": [P_GC, P_SPLIT, P_AVA_CC, DELIVERED_GC, CANCELLED, BROKEN_CANCEL, BROKEN_PAYMENT],
        },
        MIA: {
            "name": {"first_name": "Mia", "last_name": "Lee"},
            "address": _address("12 Elm Street", "Denver", "CO", "80279"),
            "email": "mia.lee9012@example.com",
            "payment_methods": {MIA_PAYPAL: {"source": "paypal", "id": MIA_PAYPAL}},
            "orders": [],
        },
    }

    def order(
        order_id: str, user_id: str, status: str, items: list[tuple[str, str]], payments: list[dict[str, Any]]
    ) -> dict[str, Any]:
        item_records = [_item(products, pid, iid) for pid, iid in items]
        shipped = status not in ("pending", "pending (item modified)", "cancelled")
        fulfillments = (
            [{"tracking_id": ["123456789012"], "item_ids": [i["item_id"] for i in item_records]}]
            if shipped
            else []
        )
        address = users.get(user_id, users[NOAH])["address"]
        return {
            "order_id": order_id,
            "user_id": user_id,
            "address": dict(address),
            "items": item_records,
            "fulfillments": fulfillments,
            "status": status,
            "payment_history": payments,
        }

    ghost_item = {
        "name": "Ghost",
        "product_id": GHOST_PRODUCT,
        "item_id": "9000000001",
        "price": 10.0,
        "options": {},
    }
    orders = [
        order(P_CC, NOAH, "pending", [(TSHIRT, TS_BLUE), (BOOTS, BOOTS_7)], [_payment(295.22, NOAH_CC)]),
        order(P_GC, AVA, "pending", [(TSHIRT, TS_PURPLE)], [_payment(49.67, AVA_GC)]),
        order(
            P_DUP, NOAH, "pending", [(TSHIRT, TS_BLUE), (TSHIRT, TS_BLUE)], [_payment(101.76, NOAH_PAYPAL)]
        ),
        order(
            P_SPLIT, AVA, "pending", [(BOOTS, BOOTS_7)], [_payment(44.34, AVA_GC), _payment(200.0, AVA_CC)]
        ),
        order(P_AVA_CC, AVA, "pending", [(BOOTS, BOOTS_7)], [_payment(244.34, AVA_CC)]),
        order(PROCESSED, NOAH, "processed", [(CAMERA, CAM_4K)], [_payment(466.75, NOAH_CC)]),
        order(
            DELIVERED,
            NOAH,
            "delivered",
            [(BOOTS, BOOTS_7), (TSHIRT, TS_PURPLE), (TSHIRT, TS_PURPLE)],
            [_payment(343.68, NOAH_CC)],
        ),
        order(DELIVERED_GC, AVA, "delivered", [(TSHIRT, TS_BLUE)], [_payment(50.88, AVA_GC)]),
        order(
            CANCELLED,
            AVA,
            "cancelled",
            [(TSHIRT, TS_BLACK)],
            [_payment(54.99, AVA_CC), _payment(54.99, AVA_CC, "refund")],
        ),
        order(
            MODIFIED,
            NOAH,
            "pending (item modified)",
            [(TSHIRT, TS_BLACK)],
            [_payment(50.88, NOAH_CC), _payment(4.11, NOAH_CC)],
        ),
        order(
            BROKEN_CANCEL,
            AVA,
            "pending",
            [(TSHIRT, TS_BLUE)],
            [_payment(10.0, AVA_GC), _payment(40.88, GHOST_GC)],
        ),
        order(BROKEN_PAYMENT, AVA, "pending", [(TSHIRT, TS_BLUE)], [_payment(50.88, GHOST_GC)]),
        order(GHOST_USER_ORDER, GHOST_USER, "pending", [(TSHIRT, TS_BLUE)], [_payment(50.88, NOAH_CC)]),
        order(GHOST_PRODUCT_ORDER, NOAH, "pending", [], [_payment(10.0, NOAH_CC)]),
    ]
    orders[-1]["items"] = [ghost_item]
    return {"users": users, "products": products, "orders": {o["order_id"]: o for o in orders}}


@pytest.fixture
def data() -> Data:
    return make_data()


@pytest.fixture
def world(data: Data) -> World:
    return World(data)


@pytest.fixture
def expected(data: Data) -> Data:
    """A copy of the initial data that a test edits into the state it expects."""
    return copy.deepcopy(data)


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def call(world: World, name: str, **arguments: Any) -> ToolResult:
    return RETAIL_TOOLS.call(world, name, arguments)


def ok(world: World, name: str, **arguments: Any) -> str:
    """Call a tool that must succeed and return its observation."""
    result = call(world, name, **arguments)
    assert result.error is None, result.observation
    assert result.ok
    assert result.wrote is RETAIL_TOOLS[name].writes
    return result.observation


def fails(world: World, name: str, message: str, **arguments: Any) -> None:
    """Call a tool that must fail with ``message`` and leave the world untouched."""
    before = world.hash()
    state = world.to_dict()
    result = call(world, name, **arguments)
    assert result.observation == f"Error: {message}"
    assert result.error == message
    assert not result.ok
    assert result.wrote is False
    assert world.hash() == before
    assert world.to_dict() == state


def balance(world: World, user_id: str, method_id: str) -> float:
    user = world.get("users", user_id)
    assert user is not None
    return user["payment_methods"][method_id]["balance"]  # type: ignore[no-any-return]


def variant(data: Data, product_id: str, item_id: str) -> dict[str, Any]:
    return data["products"][product_id]["variants"][item_id]  # type: ignore[no-any-return]


def swap_item(data: Data, order_id: str, index: int, product_id: str, new_item_id: str) -> None:
    """Edit ``data`` as modify_pending_order_items swaps the item at ``index``."""
    item = data["orders"][order_id]["items"][index]
    new = variant(data, product_id, new_item_id)
    item["item_id"] = new_item_id
    item["price"] = new["price"]
    item["options"] = copy.deepcopy(new["options"])


# ---------------------------------------------------------------------------------------------------------------
# The toolset and the schemas
# ---------------------------------------------------------------------------------------------------------------

TAU_BENCH_ORDER = [
    "calculate",
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "find_user_id_by_email",
    "find_user_id_by_name_zip",
    "get_order_details",
    "get_product_details",
    "get_user_details",
    "list_all_product_types",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
    "think",
    "transfer_to_human_agents",
]
WRITE_TOOLS = {
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
}
_ADDRESS_PARAMS = dict.fromkeys(ADDRESS_KEYS, "string")
EXPECTED_PARAMETERS: dict[str, dict[str, str]] = {
    "calculate": {"expression": "string"},
    "cancel_pending_order": {"order_id": "string", "reason": "string"},
    "exchange_delivered_order_items": {
        "order_id": "string",
        "item_ids": "array",
        "new_item_ids": "array",
        "payment_method_id": "string",
    },
    "find_user_id_by_email": {"email": "string"},
    "find_user_id_by_name_zip": {"first_name": "string", "last_name": "string", "zip": "string"},
    "get_order_details": {"order_id": "string"},
    "get_product_details": {"product_id": "string"},
    "get_user_details": {"user_id": "string"},
    "list_all_product_types": {},
    "modify_pending_order_address": {"order_id": "string", **_ADDRESS_PARAMS},
    "modify_pending_order_items": {
        "order_id": "string",
        "item_ids": "array",
        "new_item_ids": "array",
        "payment_method_id": "string",
    },
    "modify_pending_order_payment": {"order_id": "string", "payment_method_id": "string"},
    "modify_user_address": {"user_id": "string", **_ADDRESS_PARAMS},
    "return_delivered_order_items": {
        "order_id": "string",
        "item_ids": "array",
        "payment_method_id": "string",
    },
    "think": {"thought": "string"},
    "transfer_to_human_agents": {"summary": "string"},
}


def test_toolset_has_tau_bench_tools_in_order() -> None:
    assert list(RETAIL_TOOLS) == TAU_BENCH_ORDER
    assert len(RETAIL_TOOLS) == 16
    assert [s["function"]["name"] for s in RETAIL_TOOLS.schemas] == TAU_BENCH_ORDER


@pytest.mark.parametrize("name", TAU_BENCH_ORDER)
def test_schema(name: str) -> None:
    t = RETAIL_TOOLS[name]
    assert t.name == name
    schema = t.schema
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == name
    assert function["description"].strip()
    params = function["parameters"]
    assert params["type"] == "object"
    expected = EXPECTED_PARAMETERS[name]
    assert {k: v["type"] for k, v in params["properties"].items()} == expected
    assert list(params["properties"]) == list(expected)
    assert params.get("required", []) == list(expected)
    for arg, spec in params["properties"].items():
        assert spec["description"].strip(), arg
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}
    assert "world" not in params["properties"]


def test_cancel_reason_schema_enum() -> None:
    reason = RETAIL_TOOLS["cancel_pending_order"].parameters["properties"]["reason"]
    assert reason["enum"] == ["no longer needed", "ordered by mistake"]
    assert list(CANCEL_REASONS) == ["no longer needed", "ordered by mistake"]


@pytest.mark.parametrize("name", TAU_BENCH_ORDER)
def test_writes_and_terminates_flags(name: str) -> None:
    assert RETAIL_TOOLS[name].writes is (name in WRITE_TOOLS)
    assert RETAIL_TOOLS[name].terminates is (name == "transfer_to_human_agents")


# ---------------------------------------------------------------------------------------------------------------
# Lookups and read tools
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "user_id"),
    [
        ("Noah.Brown1234@example.com", NOAH),
        ("noah.brown1234@example.com", NOAH),
        ("NOAH.BROWN1234@EXAMPLE.COM", NOAH),
        ("Ava.Moore5678@Example.com", AVA),
        ("mia.lee9012@example.com", MIA),
    ],
)
def test_find_user_id_by_email(world: World, email: str, user_id: str) -> None:
    assert ok(world, "find_user_id_by_email", email=email) == user_id


@pytest.mark.parametrize("email", ["nobody@example.com", " noah.brown1234@example.com", "noah.brown1234", ""])
def test_find_user_id_by_email_not_found(world: World, email: str) -> None:
    fails(world, "find_user_id_by_email", "user not found", email=email)


@pytest.mark.parametrize(
    ("first", "last", "zip_code", "user_id"),
    [
        ("Noah", "Brown", "80279", NOAH),
        ("noah", "BROWN", "80279", NOAH),
        ("MIA", "lee", "80279", MIA),
        ("Ava", "Moore", "78234", AVA),
    ],
)
def test_find_user_id_by_name_zip(world: World, first: str, last: str, zip_code: str, user_id: str) -> None:
    assert ok(world, "find_user_id_by_name_zip", first_name=first, last_name=last, zip=zip_code) == user_id


@pytest.mark.parametrize(
    ("first", "last", "zip_code"),
    [
        ("Noah", "Brown", "78234"),  # another user's zip
        ("Noah", "Brown", "80279 "),  # zip is matched exactly
        ("Noah", "Moore", "80279"),
        ("Noa", "Brown", "80279"),
        ("Noah ", "Brown", "80279"),
    ],
)
def test_find_user_id_by_name_zip_not_found(world: World, first: str, last: str, zip_code: str) -> None:
    fails(world, "find_user_id_by_name_zip", "user not found", first_name=first, last_name=last, zip=zip_code)


def test_find_user_id_returns_first_match_in_table_order(data: Data) -> None:
    twin = copy.deepcopy(data["users"][NOAH])
    data["users"] = {"noah_brown_0001": twin, **data["users"]}
    world = World(data)
    assert ok(world, "find_user_id_by_name_zip", first_name="Noah", last_name="Brown", zip="80279") == (
        "noah_brown_0001"
    )
    assert ok(world, "find_user_id_by_email", email=twin["email"]) == "noah_brown_0001"


def test_find_user_sees_modified_address(world: World) -> None:
    ok(world, "modify_user_address", user_id=MIA, **NEW_ADDRESS)
    assert ok(world, "find_user_id_by_name_zip", first_name="Mia", last_name="Lee", zip="95014") == MIA
    fails(world, "find_user_id_by_name_zip", "user not found", first_name="Mia", last_name="Lee", zip="80279")


@pytest.mark.parametrize("user_id", [NOAH, AVA, MIA])
def test_get_user_details(world: World, data: Data, user_id: str) -> None:
    assert ok(world, "get_user_details", user_id=user_id) == json.dumps(data["users"][user_id])


@pytest.mark.parametrize("user_id", ["nobody_0000", NOAH.upper(), "", GHOST_USER])
def test_get_user_details_not_found(world: World, user_id: str) -> None:
    fails(world, "get_user_details", "user not found", user_id=user_id)


@pytest.mark.parametrize("order_id", [P_CC, P_GC, P_DUP, PROCESSED, DELIVERED, CANCELLED, MODIFIED])
def test_get_order_details(world: World, data: Data, order_id: str) -> None:
    assert ok(world, "get_order_details", order_id=order_id) == json.dumps(data["orders"][order_id])


@pytest.mark.parametrize("order_id", [MISSING, P_CC.lstrip("#"), "", "#w1000001"])
def test_get_order_details_not_found(world: World, order_id: str) -> None:
    fails(world, "get_order_details", "order not found", order_id=order_id)


@pytest.mark.parametrize("product_id", [TSHIRT, BOOTS, CAMERA])
def test_get_product_details(world: World, data: Data, product_id: str) -> None:
    assert ok(world, "get_product_details", product_id=product_id) == json.dumps(data["products"][product_id])


@pytest.mark.parametrize("product_id", [TS_BLUE, GHOST_PRODUCT, "T-Shirt", ""])
def test_get_product_details_not_found(world: World, product_id: str) -> None:
    fails(world, "get_product_details", "product not found", product_id=product_id)


def test_list_all_product_types_sorted_by_name(world: World) -> None:
    observation = ok(world, "list_all_product_types")
    assert observation == json.dumps({"Action Camera": CAMERA, "Hiking Boots": BOOTS, "T-Shirt": TSHIRT})
    assert (
        observation
        == '{"Action Camera": "3377618313", "Hiking Boots": "7363354090", "T-Shirt": "9523456873"}'
    )


def test_list_all_product_types_empty() -> None:
    world = World({"users": {}, "products": {}, "orders": {}})
    assert ok(world, "list_all_product_types") == "{}"


def test_read_tools_see_writes(world: World, expected: Data) -> None:
    ok(world, "modify_user_address", user_id=NOAH, **NEW_ADDRESS)
    expected["users"][NOAH]["address"] = dict(NEW_ADDRESS)
    assert ok(world, "get_user_details", user_id=NOAH) == json.dumps(expected["users"][NOAH])


# ---------------------------------------------------------------------------------------------------------------
# calculate
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "observation"),
    [
        ("2 + 2", "4.0"),
        ("(59.99 + 20) * 2", "159.98"),
        ("1/3", "0.33"),
        ("2/3", "0.67"),
        ("2.675 * 1", "2.67"),  # round() of the float, not decimal half-up
        ("10", "10.0"),
        ("2**10", "1024.0"),
        ("2**-1", "0.5"),
        ("10 // 3", "3.0"),
        ("-(3 - 5)", "2.0"),
        ("+-+1", "-1.0"),
        (" 2+3", "5.0"),
        ("2+3 ", "5.0"),
        ("(((1)))", "1.0"),
        (".5 + 5.", "5.5"),
        ("0.1 + 0.2", "0.3"),
        ("1234.5678 * 100", "123456.78"),
        ("100 - 0.004", "100.0"),
        ("-0.001", "-0.0"),
    ],
)
def test_calculate(world: World, expression: str, observation: str) -> None:
    assert ok(world, "calculate", expression=expression) == observation


@pytest.mark.parametrize(
    "expression", ["2 + x", "abs(-1)", "2 ^ 3", "7 % 2", "1e5", "0x10", "1,5", "2\n+2", "1_000"]
)
def test_calculate_rejects_other_characters(world: World, expression: str) -> None:
    fails(world, "calculate", "invalid characters in expression", expression=expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1/0", "division by zero"),
        ("1 / (2 - 2)", "division by zero"),
        ("1.0/0", "float division by zero"),
        ("1//0", "integer division or modulo by zero"),
        ("0**-1", "0.0 cannot be raised to a negative power"),
        ("1+", "invalid syntax (<string>, line 1)"),
        ("1 2", "invalid syntax (<string>, line 1)"),
        ("1..2", "invalid syntax (<string>, line 1)"),
        ("", "invalid syntax (<string>, line 0)"),
        ("   ", "invalid syntax (<string>, line 0)"),
        ("((1)", "'(' was never closed (<string>, line 1)"),
        ("07", "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers "
         "(<string>, line 1)"),
        ("()", "float() argument must be a string or a real number, not 'tuple'"),
        ("...", "float() argument must be a string or a real number, not 'ellipsis'"),
        ("(-8)**(1/3)", "float() argument must be a string or a real number, not 'complex'"),
        ("10**400", "int too large to convert to float"),
    ],
)  # fmt: skip
def test_calculate_errors_are_pythons(world: World, expression: str, message: str) -> None:
    fails(world, "calculate", message, expression=expression)


@pytest.mark.parametrize("expression", ["9**9**9", "2**9999999999", "(10**9999)**2", "10**10**10"])
def test_calculate_refuses_huge_powers_quickly(world: World, expression: str) -> None:
    start = time.perf_counter()
    result = call(world, "calculate", expression=expression)
    assert time.perf_counter() - start < 2.0
    assert result.observation.startswith("Error: ")
    assert result.error


def _tau_bench_calculate(expression: str) -> str:
    """τ-bench's documented semantics: a restricted ``eval`` of the whitelisted text, rounded to 2 decimals."""
    if not all(ch in "0123456789+-*/(). " for ch in expression):
        return "Error: invalid characters in expression"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = eval(expression, {"__builtins__": None}, {})
        return str(round(float(value), 2))
    except Exception as exc:
        return f"Error: {exc}"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789+-*/(). ", max_size=14))
def test_calculate_matches_restricted_eval(expression: str) -> None:
    assume("**" not in expression)  # τ-bench's eval may hang on those
    world = World({"users": {}, "products": {}, "orders": {}})
    assert call(world, "calculate", expression=expression).observation == _tau_bench_calculate(expression)


@pytest.mark.parametrize("expression", ["(1)(2)", "2 * (3)(4)", "()()", "1.(2)"])
def test_calculate_call_error_matches_eval(world: World, expression: str) -> None:
    assert call(world, "calculate", expression=expression).observation == _tau_bench_calculate(expression)


# ---------------------------------------------------------------------------------------------------------------
# think and transfer_to_human_agents
# ---------------------------------------------------------------------------------------------------------------


def test_think(world: World) -> None:
    before = world.hash()
    result = call(world, "think", thought="The order is pending, so it can be cancelled.")
    assert result == ToolResult("think", "", None, False)
    assert world.hash() == before


def test_transfer_to_human_agents(world: World) -> None:
    before = world.hash()
    result = call(world, "transfer_to_human_agents", summary="The user wants a refund to a new card.")
    assert result == ToolResult(
        "transfer_to_human_agents", "Transfer successful", None, False, terminates=True
    )
    assert RETAIL_TOOLS["transfer_to_human_agents"].terminates is True
    assert world.hash() == before


# ---------------------------------------------------------------------------------------------------------------
# cancel_pending_order
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", CANCEL_REASONS)
def test_cancel_order_paid_by_credit_card(world: World, expected: Data, reason: str) -> None:
    observation = ok(world, "cancel_pending_order", order_id=P_CC, reason=reason)
    order = expected["orders"][P_CC]
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].append(_payment(295.22, NOAH_CC, "refund"))
    assert observation == json.dumps(order)
    assert list(json.loads(observation))[-1] == "cancel_reason"
    assert world.to_dict() == expected  # no balance moves for a credit card


def test_cancel_order_paid_by_gift_card_credits_it_at_once(world: World, expected: Data) -> None:
    observation = ok(world, "cancel_pending_order", order_id=P_GC, reason="ordered by mistake")
    order = expected["orders"][P_GC]
    order["status"] = "cancelled"
    order["cancel_reason"] = "ordered by mistake"
    order["payment_history"].append(_payment(49.67, AVA_GC, "refund"))
    expected["users"][AVA]["payment_methods"][AVA_GC]["balance"] = 110.17  # round(60.5 + 49.67, 2)
    assert observation == json.dumps(order)
    assert world.to_dict() == expected
    assert balance(world, AVA, AVA_GC) == 110.17


def test_cancel_refunds_every_payment(world: World, expected: Data) -> None:
    observation = ok(world, "cancel_pending_order", order_id=P_SPLIT, reason="no longer needed")
    order = expected["orders"][P_SPLIT]
    order["status"] = "cancelled"
    order["cancel_reason"] = "no longer needed"
    order["payment_history"] += [_payment(44.34, AVA_GC, "refund"), _payment(200.0, AVA_CC, "refund")]
    expected["users"][AVA]["payment_methods"][AVA_GC]["balance"] = 104.84
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_cancel_after_payment_change_refunds_every_history_entry(world: World) -> None:
    """τ-bench refunds each entry of the history, the refund entries included."""
    ok(world, "modify_pending_order_payment", order_id=P_GC, payment_method_id=AVA_CC)
    assert balance(world, AVA, AVA_GC) == 110.17
    observation = json.loads(ok(world, "cancel_pending_order", order_id=P_GC, reason="no longer needed"))
    assert observation["payment_history"] == [
        _payment(49.67, AVA_GC),
        _payment(49.67, AVA_CC),
        _payment(49.67, AVA_GC, "refund"),
        _payment(49.67, AVA_GC, "refund"),
        _payment(49.67, AVA_CC, "refund"),
        _payment(49.67, AVA_GC, "refund"),
    ]
    assert balance(world, AVA, AVA_GC) == 209.51  # 110.17 + 49.67 twice, rounded each time


@pytest.mark.parametrize("order_id", [PROCESSED, DELIVERED, CANCELLED, MODIFIED])
def test_cancel_non_pending(world: World, order_id: str) -> None:
    fails(
        world,
        "cancel_pending_order",
        "non-pending order cannot be cancelled",
        order_id=order_id,
        reason="no longer needed",
    )


def test_cancel_checks_status_before_reason(world: World) -> None:
    fails(
        world,
        "cancel_pending_order",
        "non-pending order cannot be cancelled",
        order_id=PROCESSED,
        reason="bad",
    )
    fails(world, "cancel_pending_order", "order not found", order_id=MISSING, reason="bad")


@pytest.mark.parametrize("reason", ["changed my mind", "No longer needed", "no longer needed ", "other", ""])
def test_cancel_invalid_reason(world: World, reason: str) -> None:
    fails(world, "cancel_pending_order", "invalid reason", order_id=P_CC, reason=reason)


def test_cancel_twice(world: World) -> None:
    ok(world, "cancel_pending_order", order_id=P_CC, reason="no longer needed")
    fails(
        world,
        "cancel_pending_order",
        "non-pending order cannot be cancelled",
        order_id=P_CC,
        reason="no longer needed",
    )


# ---------------------------------------------------------------------------------------------------------------
# modify_pending_order_address and modify_user_address
# ---------------------------------------------------------------------------------------------------------------


def test_modify_pending_order_address(world: World, expected: Data) -> None:
    observation = ok(world, "modify_pending_order_address", order_id=P_CC, **NEW_ADDRESS)
    expected["orders"][P_CC]["address"] = dict(NEW_ADDRESS)
    assert observation == json.dumps(expected["orders"][P_CC])
    assert list(json.loads(observation)["address"]) == ADDRESS_KEYS
    assert list(json.loads(observation)) == list(expected["orders"][P_CC])  # the address keeps its place
    assert world.to_dict() == expected


def test_modify_pending_order_address_twice(world: World, expected: Data) -> None:
    ok(world, "modify_pending_order_address", order_id=P_GC, **NEW_ADDRESS)
    second = {**NEW_ADDRESS, "address2": "", "zip": "95015"}
    observation = ok(world, "modify_pending_order_address", order_id=P_GC, **second)
    expected["orders"][P_GC]["address"] = second
    assert observation == json.dumps(expected["orders"][P_GC])
    assert world.to_dict() == expected


@pytest.mark.parametrize("order_id", [PROCESSED, DELIVERED, CANCELLED, MODIFIED])
def test_modify_pending_order_address_non_pending(world: World, order_id: str) -> None:
    fails(
        world,
        "modify_pending_order_address",
        "non-pending order cannot be modified",
        order_id=order_id,
        **NEW_ADDRESS,
    )


def test_modify_pending_order_address_not_found(world: World) -> None:
    fails(world, "modify_pending_order_address", "order not found", order_id=MISSING, **NEW_ADDRESS)


def test_modify_user_address(world: World, expected: Data) -> None:
    observation = ok(world, "modify_user_address", user_id=AVA, **NEW_ADDRESS)
    expected["users"][AVA]["address"] = dict(NEW_ADDRESS)
    assert observation == json.dumps(expected["users"][AVA])
    assert list(json.loads(observation)["address"]) == ADDRESS_KEYS  # τ-bench's order, unlike its data files
    assert world.to_dict() == expected  # the orders' addresses are untouched


@pytest.mark.parametrize("user_id", ["nobody_0000", NOAH.upper(), GHOST_USER])
def test_modify_user_address_not_found(world: World, user_id: str) -> None:
    fails(world, "modify_user_address", "user not found", user_id=user_id, **NEW_ADDRESS)


# ---------------------------------------------------------------------------------------------------------------
# modify_pending_order_payment
# ---------------------------------------------------------------------------------------------------------------


def test_modify_payment_credit_card_to_paypal(world: World, expected: Data) -> None:
    observation = ok(world, "modify_pending_order_payment", order_id=P_CC, payment_method_id=NOAH_PAYPAL)
    order = expected["orders"][P_CC]
    order["payment_history"] += [_payment(295.22, NOAH_PAYPAL), _payment(295.22, NOAH_CC, "refund")]
    assert observation == json.dumps(order)
    assert json.loads(observation)["status"] == "pending"
    assert world.to_dict() == expected


def test_modify_payment_to_gift_card_debits_it(world: World, expected: Data) -> None:
    observation = ok(world, "modify_pending_order_payment", order_id=P_CC, payment_method_id=NOAH_GC)
    order = expected["orders"][P_CC]
    order["payment_history"] += [_payment(295.22, NOAH_GC), _payment(295.22, NOAH_CC, "refund")]
    expected["users"][NOAH]["payment_methods"][NOAH_GC]["balance"] = 4.78  # round(300 - 295.22, 2)
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_modify_payment_from_gift_card_credits_it(world: World, expected: Data) -> None:
    observation = ok(world, "modify_pending_order_payment", order_id=P_GC, payment_method_id=AVA_CC)
    order = expected["orders"][P_GC]
    order["payment_history"] += [_payment(49.67, AVA_CC), _payment(49.67, AVA_GC, "refund")]
    expected["users"][AVA]["payment_methods"][AVA_GC]["balance"] = 110.17
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_modify_payment_gift_card_to_gift_card(world: World, expected: Data) -> None:
    observation = ok(world, "modify_pending_order_payment", order_id=P_GC, payment_method_id=AVA_GC_BIG)
    order = expected["orders"][P_GC]
    order["payment_history"] += [_payment(49.67, AVA_GC_BIG), _payment(49.67, AVA_GC, "refund")]
    methods = expected["users"][AVA]["payment_methods"]
    methods[AVA_GC_BIG]["balance"] = 950.33
    methods[AVA_GC]["balance"] = 110.17
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_modify_payment_gift_card_balance_exactly_enough(data: Data) -> None:
    data["users"][NOAH]["payment_methods"][NOAH_GC_LOW]["balance"] = 295.22
    world = World(data)
    ok(world, "modify_pending_order_payment", order_id=P_CC, payment_method_id=NOAH_GC_LOW)
    assert balance(world, NOAH, NOAH_GC_LOW) == 0.0


def test_modify_payment_only_once(world: World) -> None:
    ok(world, "modify_pending_order_payment", order_id=P_CC, payment_method_id=NOAH_PAYPAL)
    fails(
        world,
        "modify_pending_order_payment",
        "there should be exactly one payment for a pending order",
        order_id=P_CC,
        payment_method_id=NOAH_CC,
    )


def test_modify_payment_single_refund_entry(data: Data) -> None:
    data["orders"][P_CC]["payment_history"] = [_payment(295.22, NOAH_CC, "refund")]
    world = World(data)
    fails(
        world,
        "modify_pending_order_payment",
        "there should be exactly one payment for a pending order",
        order_id=P_CC,
        payment_method_id=NOAH_PAYPAL,
    )


# ---------------------------------------------------------------------------------------------------------------
# modify_pending_order_items
# ---------------------------------------------------------------------------------------------------------------


def test_modify_items_refund_recorded_unrounded(world: World, data: Data, expected: Data) -> None:
    observation = ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_PURPLE],
        payment_method_id=NOAH_CC,
    )
    diff = 49.67 - 50.88
    assert diff != round(diff, 2)  # the prices are chosen so that rounding would show
    order = expected["orders"][P_CC]
    swap_item(expected, P_CC, 0, TSHIRT, TS_PURPLE)
    order["payment_history"].append(_payment(abs(diff), NOAH_CC, "refund"))
    order["status"] = "pending (item modified)"
    assert observation == json.dumps(order)
    assert json.loads(observation)["payment_history"][-1]["amount"] == 1.2100000000000009
    assert world.to_dict() == expected


def test_modify_items_of_two_products_paid_by_gift_card(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[TS_BLUE, BOOTS_7],
        new_item_ids=[TS_BLACK, BOOTS_8],
        payment_method_id=NOAH_GC,
    )
    diff = (54.99 - 50.88) + (253.89 - 244.34)
    assert diff != round(diff, 2)
    order = expected["orders"][P_CC]
    swap_item(expected, P_CC, 0, TSHIRT, TS_BLACK)
    swap_item(expected, P_CC, 1, BOOTS, BOOTS_8)
    order["payment_history"].append(_payment(diff, NOAH_GC, "payment"))
    order["status"] = "pending (item modified)"
    expected["users"][NOAH]["payment_methods"][NOAH_GC]["balance"] = 286.34  # rounded
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_modify_items_refund_to_gift_card_credits_it(world: World) -> None:
    ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_PURPLE],
        payment_method_id=NOAH_GC_LOW,
    )
    assert balance(world, NOAH, NOAH_GC_LOW) == 6.21  # round(5 + 1.2100000000000009, 2)


def test_modify_items_same_variant_is_a_zero_refund(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_BLUE],
        payment_method_id=NOAH_CC,
    )
    order = expected["orders"][P_CC]
    order["payment_history"].append(_payment(0.0, NOAH_CC, "refund"))
    order["status"] = "pending (item modified)"
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_modify_items_duplicates_swapped_positionally(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "modify_pending_order_items",
        order_id=P_DUP,
        item_ids=[TS_BLUE, TS_BLUE],
        new_item_ids=[TS_PURPLE, TS_BLACK],
        payment_method_id=NOAH_PAYPAL,
    )
    order = expected["orders"][P_DUP]
    swap_item(expected, P_DUP, 0, TSHIRT, TS_PURPLE)
    swap_item(expected, P_DUP, 1, TSHIRT, TS_BLACK)
    diff = (49.67 - 50.88) + (54.99 - 50.88)
    order["payment_history"].append(_payment(diff, NOAH_PAYPAL, "payment"))
    order["status"] = "pending (item modified)"
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_modify_items_one_of_two_duplicates(world: World, expected: Data) -> None:
    ok(
        world,
        "modify_pending_order_items",
        order_id=P_DUP,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_BLACK],
        payment_method_id=NOAH_PAYPAL,
    )
    items = world.get("orders", P_DUP)["items"]  # type: ignore[index]
    assert [i["item_id"] for i in items] == [TS_BLACK, TS_BLUE]


def test_modify_items_searches_again_after_each_swap(data: Data) -> None:
    """τ-bench's quirk: swapping A→B then B→A finds the item just changed, so the order ends unchanged."""
    data["orders"][P_DUP]["items"][1] = _item(data["products"], TSHIRT, TS_PURPLE)
    world = World(data)
    ok(
        world,
        "modify_pending_order_items",
        order_id=P_DUP,
        item_ids=[TS_BLUE, TS_PURPLE],
        new_item_ids=[TS_PURPLE, TS_BLUE],
        payment_method_id=NOAH_PAYPAL,
    )
    order = world.get("orders", P_DUP)
    assert order is not None
    assert [i["item_id"] for i in order["items"]] == [TS_BLUE, TS_PURPLE]
    assert order["items"] == data["orders"][P_DUP]["items"]
    assert order["status"] == "pending (item modified)"


def test_modify_items_only_once_per_order(world: World) -> None:
    ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_PURPLE],
        payment_method_id=NOAH_CC,
    )
    fails(
        world,
        "modify_pending_order_items",
        "non-pending order cannot be modified",
        order_id=P_CC,
        item_ids=[BOOTS_7],
        new_item_ids=[BOOTS_8],
        payment_method_id=NOAH_CC,
    )
    # The exact status check also locks the other modifications and the cancellation.
    fails(
        world,
        "modify_pending_order_address",
        "non-pending order cannot be modified",
        order_id=P_CC,
        **NEW_ADDRESS,
    )
    fails(
        world,
        "modify_pending_order_payment",
        "non-pending order cannot be modified",
        order_id=P_CC,
        payment_method_id=NOAH_PAYPAL,
    )
    fails(
        world,
        "cancel_pending_order",
        "non-pending order cannot be cancelled",
        order_id=P_CC,
        reason="no longer needed",
    )


def test_modify_items_copies_options(world: World) -> None:
    ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_PURPLE],
        payment_method_id=NOAH_CC,
    )
    order, product = world.get("orders", P_CC), world.get("products", TSHIRT)
    assert order is not None
    assert product is not None
    assert order["items"][0]["options"] == product["variants"][TS_PURPLE]["options"]
    assert order["items"][0]["options"] is not product["variants"][TS_PURPLE]["options"]
    assert "products" not in world.changed


def test_modify_items_empty_lists_payload(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[],
        new_item_ids=[],
        payment_method_id=NOAH_CC,
    )
    order = expected["orders"][P_CC]
    order["payment_history"].append({"transaction_type": "refund", "amount": 0, "payment_method_id": NOAH_CC})
    order["status"] = "pending (item modified)"
    assert observation == json.dumps(order)


def test_modify_items_empty_lists_state(world: World, expected: Data) -> None:
    """Apart from the spelling of the zero above, an empty swap behaves as in τ-bench."""
    ok(
        world,
        "modify_pending_order_items",
        order_id=P_CC,
        item_ids=[],
        new_item_ids=[],
        payment_method_id=NOAH_CC,
    )
    order = expected["orders"][P_CC]
    order["payment_history"].append(_payment(0, NOAH_CC, "refund"))
    order["status"] = "pending (item modified)"
    assert World(expected).hash() == world.hash()


# ---------------------------------------------------------------------------------------------------------------
# return_delivered_order_items
# ---------------------------------------------------------------------------------------------------------------


def test_return_to_original_payment_method(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "return_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[TS_PURPLE, BOOTS_7, TS_PURPLE],
        payment_method_id=NOAH_CC,
    )
    order = expected["orders"][DELIVERED]
    order["status"] = "return requested"
    order["return_items"] = [TS_PURPLE, TS_PURPLE, BOOTS_7]  # sorted
    order["return_payment_method_id"] = NOAH_CC
    assert observation == json.dumps(order)
    assert world.to_dict() == expected  # no money moves


@pytest.mark.parametrize("method", [NOAH_GC, NOAH_GC_LOW])
def test_return_to_any_gift_card(world: World, expected: Data, method: str) -> None:
    observation = ok(
        world,
        "return_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[BOOTS_7],
        payment_method_id=method,
    )
    order = expected["orders"][DELIVERED]
    order["status"] = "return requested"
    order["return_items"] = [BOOTS_7]
    order["return_payment_method_id"] = method
    assert observation == json.dumps(order)
    assert world.to_dict() == expected  # the gift card is not credited yet


def test_return_gift_card_paid_order(world: World) -> None:
    observation = ok(
        world,
        "return_delivered_order_items",
        order_id=DELIVERED_GC,
        item_ids=[TS_BLUE],
        payment_method_id=AVA_GC,
    )
    assert json.loads(observation)["return_payment_method_id"] == AVA_GC
    assert balance(world, AVA, AVA_GC) == 60.5


def test_return_then_exchange_is_refused(world: World) -> None:
    ok(
        world,
        "return_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[BOOTS_7],
        payment_method_id=NOAH_CC,
    )
    fails(
        world,
        "exchange_delivered_order_items",
        "non-delivered order cannot be exchanged",
        order_id=DELIVERED,
        item_ids=[TS_PURPLE],
        new_item_ids=[TS_BLUE],
        payment_method_id=NOAH_CC,
    )
    fails(
        world,
        "return_delivered_order_items",
        "non-delivered order cannot be returned",
        order_id=DELIVERED,
        item_ids=[TS_PURPLE],
        payment_method_id=NOAH_CC,
    )


# ---------------------------------------------------------------------------------------------------------------
# exchange_delivered_order_items
# ---------------------------------------------------------------------------------------------------------------


def test_exchange(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "exchange_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[BOOTS_7, TS_PURPLE],
        new_item_ids=[BOOTS_8, TS_BLUE],
        payment_method_id=NOAH_CC,
    )
    diff = (253.89 - 244.34) + (50.88 - 49.67)
    assert diff != 10.76
    order = expected["orders"][DELIVERED]
    order["status"] = "exchange requested"
    order["exchange_items"] = [TS_PURPLE, BOOTS_7]  # sorted, each list on its own
    order["exchange_new_items"] = [TS_BLUE, BOOTS_8]
    order["exchange_payment_method_id"] = NOAH_CC
    order["exchange_price_difference"] = 10.76
    assert observation == json.dumps(order)
    assert world.to_dict() == expected  # items unchanged, no money moves


def test_exchange_with_gift_card_moves_no_money(world: World, expected: Data) -> None:
    observation = ok(
        world,
        "exchange_delivered_order_items",
        order_id=DELIVERED_GC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_BLACK],
        payment_method_id=AVA_GC,
    )
    order = expected["orders"][DELIVERED_GC]
    order["status"] = "exchange requested"
    order["exchange_items"] = [TS_BLUE]
    order["exchange_new_items"] = [TS_BLACK]
    order["exchange_payment_method_id"] = AVA_GC
    order["exchange_price_difference"] = 4.11  # round(54.99 - 50.88, 2)
    assert observation == json.dumps(order)
    assert world.to_dict() == expected


def test_exchange_negative_difference_with_empty_gift_card(data: Data) -> None:
    data["users"][AVA]["payment_methods"][AVA_GC]["balance"] = 0
    world = World(data)
    observation = ok(
        world,
        "exchange_delivered_order_items",
        order_id=DELIVERED_GC,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_PURPLE],
        payment_method_id=AVA_GC,
    )
    assert json.loads(observation)["exchange_price_difference"] == -1.21
    assert balance(world, AVA, AVA_GC) == 0


def test_exchange_duplicates(world: World) -> None:
    observation = json.loads(
        ok(
            world,
            "exchange_delivered_order_items",
            order_id=DELIVERED,
            item_ids=[TS_PURPLE, TS_PURPLE],
            new_item_ids=[TS_BLACK, TS_BLUE],
            payment_method_id=NOAH_PAYPAL,
        )
    )
    assert observation["exchange_items"] == [TS_PURPLE, TS_PURPLE]
    assert observation["exchange_new_items"] == [TS_BLUE, TS_BLACK]
    assert observation["exchange_price_difference"] == round((54.99 - 49.67) + (50.88 - 49.67), 2) == 6.53


def test_exchange_empty_lists_payload(world: World) -> None:
    observation = ok(
        world,
        "exchange_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[],
        new_item_ids=[],
        payment_method_id=NOAH_CC,
    )
    assert observation.endswith('"exchange_price_difference": 0}')


# ---------------------------------------------------------------------------------------------------------------
# Error paths of the write tools: exact messages and atomicity
# ---------------------------------------------------------------------------------------------------------------


def _items_args(order_id: str, item_ids: list[str], new_item_ids: list[str], method: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "item_ids": item_ids,
        "new_item_ids": new_item_ids,
        "payment_method_id": method,
    }


def _case(tool: str, arguments: dict[str, Any], message: str, case_id: str) -> Any:
    return pytest.param(tool, arguments, message, id=f"{tool}-{case_id}")


NOT_CANCELLABLE = "non-pending order cannot be cancelled"
NOT_MODIFIABLE = "non-pending order cannot be modified"
NOT_RETURNABLE = "non-delivered order cannot be returned"
NOT_EXCHANGEABLE = "non-delivered order cannot be exchanged"
COUNT_MISMATCH = "the number of items to be exchanged should match"
REASON = "no longer needed"

WRITE_ERROR_CASES = [
    # cancel_pending_order
    _case("cancel_pending_order", {"order_id": MISSING, "reason": REASON}, "order not found", "missing"),
    _case("cancel_pending_order", {"order_id": "W1000001", "reason": REASON}, "order not found", "no-hash"),
    _case(
        "cancel_pending_order",
        {"order_id": MISSING, "reason": "bad"},
        "order not found",
        "missing-bad-reason",
    ),
    _case("cancel_pending_order", {"order_id": PROCESSED, "reason": REASON}, NOT_CANCELLABLE, "processed"),
    _case("cancel_pending_order", {"order_id": DELIVERED, "reason": REASON}, NOT_CANCELLABLE, "delivered"),
    _case("cancel_pending_order", {"order_id": CANCELLED, "reason": REASON}, NOT_CANCELLABLE, "cancelled"),
    _case("cancel_pending_order", {"order_id": MODIFIED, "reason": REASON}, NOT_CANCELLABLE, "item-modified"),
    _case(
        "cancel_pending_order",
        {"order_id": PROCESSED, "reason": "bad"},
        NOT_CANCELLABLE,
        "status-before-reason",
    ),
    _case("cancel_pending_order", {"order_id": P_GC, "reason": "bad"}, "invalid reason", "bad-reason"),
    _case(
        "cancel_pending_order", {"order_id": BROKEN_CANCEL, "reason": REASON}, f"'{GHOST_GC}'", "crash-midway"
    ),
    # modify_pending_order_address
    _case("modify_pending_order_address", {"order_id": MISSING, **NEW_ADDRESS}, "order not found", "missing"),
    _case(
        "modify_pending_order_address", {"order_id": PROCESSED, **NEW_ADDRESS}, NOT_MODIFIABLE, "processed"
    ),
    _case(
        "modify_pending_order_address", {"order_id": DELIVERED, **NEW_ADDRESS}, NOT_MODIFIABLE, "delivered"
    ),
    _case(
        "modify_pending_order_address", {"order_id": CANCELLED, **NEW_ADDRESS}, NOT_MODIFIABLE, "cancelled"
    ),
    _case(
        "modify_pending_order_address", {"order_id": MODIFIED, **NEW_ADDRESS}, NOT_MODIFIABLE, "item-modified"
    ),
    # modify_user_address
    _case("modify_user_address", {"user_id": "nobody_0000", **NEW_ADDRESS}, "user not found", "missing"),
    _case(
        "modify_user_address", {"user_id": NOAH.upper(), **NEW_ADDRESS}, "user not found", "case-sensitive"
    ),
    # modify_pending_order_payment
    *[
        _case(
            "modify_pending_order_payment",
            {"order_id": order_id, "payment_method_id": method},
            message,
            case_id,
        )
        for order_id, method, message, case_id in [
            (MISSING, NOAH_PAYPAL, "order not found", "missing"),
            (PROCESSED, NOAH_PAYPAL, NOT_MODIFIABLE, "processed"),
            (DELIVERED, NOAH_PAYPAL, NOT_MODIFIABLE, "delivered"),
            (CANCELLED, AVA_GC, NOT_MODIFIABLE, "cancelled"),
            (MODIFIED, NOAH_PAYPAL, NOT_MODIFIABLE, "item-modified"),
            (P_CC, AVA_CC, "payment method not found", "other-users-method"),
            (P_CC, "credit_card_9999999", "payment method not found", "unknown-method"),
            (P_SPLIT, "credit_card_9999999", "payment method not found", "method-before-history"),
            (P_SPLIT, AVA_GC_BIG, "there should be exactly one payment for a pending order", "two-payments"),
            (P_CC, NOAH_CC, "the new payment method should be different from the current one", "same-method"),
            (
                P_GC,
                AVA_GC,
                "the new payment method should be different from the current one",
                "same-gift-card",
            ),
            (P_CC, NOAH_GC_LOW, "insufficient gift card balance to pay for the order", "insufficient"),
            (P_AVA_CC, AVA_GC, "insufficient gift card balance to pay for the order", "insufficient-ava"),
            (BROKEN_PAYMENT, AVA_GC_BIG, f"'{GHOST_GC}'", "crash-midway"),
            (GHOST_USER_ORDER, NOAH_PAYPAL, f"'{GHOST_USER}'", "crash-missing-user"),
        ]
    ],
    # modify_pending_order_items
    *[
        _case("modify_pending_order_items", _items_args(*args), message, case_id)
        for args, message, case_id in [
            ((MISSING, [TS_BLUE], [TS_PURPLE], NOAH_CC), "order not found", "missing"),
            ((PROCESSED, [CAM_4K], [CAM_4K], NOAH_CC), NOT_MODIFIABLE, "processed"),
            ((DELIVERED, [BOOTS_7], [BOOTS_8], NOAH_CC), NOT_MODIFIABLE, "delivered"),
            ((CANCELLED, [TS_BLACK], [TS_BLUE], AVA_CC), NOT_MODIFIABLE, "cancelled"),
            ((MODIFIED, [TS_BLACK], [TS_BLUE], NOAH_CC), NOT_MODIFIABLE, "item-modified"),
            ((P_CC, [TS_PURPLE], [TS_BLUE], NOAH_CC), f"{TS_PURPLE} not found", "item-not-in-order"),
            ((P_CC, [TS_BLUE, TS_BLUE], [TS_PURPLE, TS_PURPLE], NOAH_CC), f"{TS_BLUE} not found", "too-many"),
            ((P_DUP, [TS_BLUE] * 3, [TS_PURPLE] * 3, NOAH_PAYPAL), f"{TS_BLUE} not found", "three-of-two"),
            ((P_CC, ["bogus"], [], NOAH_CC), "bogus not found", "items-before-count"),
            ((P_CC, [TS_BLUE], [], NOAH_CC), COUNT_MISMATCH, "too-few-new"),
            ((P_CC, [TS_BLUE], [TS_PURPLE, TS_BLACK], NOAH_CC), COUNT_MISMATCH, "too-many-new"),
            (
                (P_CC, [TS_BLUE], [TS_RED], NOAH_CC),
                f"new item {TS_RED} not found or available",
                "unavailable",
            ),
            (
                (P_CC, [TS_BLUE], [BOOTS_8], NOAH_CC),
                f"new item {BOOTS_8} not found or available",
                "other-product",
            ),
            (
                (P_CC, [TS_BLUE], ["0000000001"], NOAH_CC),
                "new item 0000000001 not found or available",
                "unknown",
            ),
            (
                (P_CC, [BOOTS_7], [BOOTS_9], NOAH_CC),
                f"new item {BOOTS_9} not found or available",
                "unavailable-2",
            ),
            (
                (P_CC, [TS_BLUE], [TS_RED], "nope"),
                f"new item {TS_RED} not found or available",
                "item-before-method",
            ),
            ((P_CC, [TS_BLUE], [TS_PURPLE], AVA_GC), "payment method not found", "other-users-method"),
            ((P_CC, [TS_BLUE], [TS_PURPLE], "paypal_0000000"), "payment method not found", "unknown-method"),
            (
                (P_CC, [BOOTS_7], [BOOTS_8], NOAH_GC_LOW),
                "insufficient gift card balance to pay for the new item",
                "insufficient",
            ),
            (
                (GHOST_PRODUCT_ORDER, ["9000000001"], [TS_BLUE], NOAH_CC),
                f"'{GHOST_PRODUCT}'",
                "crash-product",
            ),
            ((GHOST_USER_ORDER, [TS_BLUE], [TS_PURPLE], NOAH_CC), f"'{GHOST_USER}'", "crash-missing-user"),
        ]
    ],
    # return_delivered_order_items
    *[
        _case(
            "return_delivered_order_items",
            {"order_id": order_id, "item_ids": items, "payment_method_id": method},
            message,
            case_id,
        )
        for order_id, items, method, message, case_id in [
            (MISSING, [BOOTS_7], NOAH_CC, "order not found", "missing"),
            (P_CC, [BOOTS_7], NOAH_CC, NOT_RETURNABLE, "pending"),
            (PROCESSED, [CAM_4K], NOAH_CC, NOT_RETURNABLE, "processed"),
            (CANCELLED, [TS_BLACK], AVA_CC, NOT_RETURNABLE, "cancelled"),
            (MODIFIED, [TS_BLACK], NOAH_CC, NOT_RETURNABLE, "item-modified"),
            (DELIVERED, [BOOTS_7], AVA_GC, "payment method not found", "other-users-gift-card"),
            (DELIVERED, [BOOTS_7], "credit_card_9999999", "payment method not found", "unknown-method"),
            (
                DELIVERED,
                [BOOTS_7],
                NOAH_PAYPAL,
                "payment method should be either the original payment method or a gift card",
                "not-original",
            ),
            (
                DELIVERED_GC,
                [TS_BLUE],
                AVA_CC,
                "payment method should be either the original payment method or a gift card",
                "not-original-2",
            ),
            (
                DELIVERED,
                ["0000000001"],
                NOAH_PAYPAL,
                "payment method should be either the original payment method or a gift card",
                "method-before-items",
            ),
            (DELIVERED, [TS_BLUE], NOAH_CC, "some item not found", "item-not-in-order"),
            (DELIVERED, [TS_PURPLE] * 3, NOAH_CC, "some item not found", "three-of-two"),
            (DELIVERED, [BOOTS_7, BOOTS_7], NOAH_GC, "some item not found", "two-of-one"),
        ]
    ],
    # exchange_delivered_order_items
    *[
        _case("exchange_delivered_order_items", _items_args(*args), message, case_id)
        for args, message, case_id in [
            ((MISSING, [BOOTS_7], [BOOTS_8], NOAH_CC), "order not found", "missing"),
            ((P_CC, [BOOTS_7], [BOOTS_8], NOAH_CC), NOT_EXCHANGEABLE, "pending"),
            ((PROCESSED, [CAM_4K], [CAM_4K], NOAH_CC), NOT_EXCHANGEABLE, "processed"),
            ((CANCELLED, [TS_BLACK], [TS_BLUE], AVA_CC), NOT_EXCHANGEABLE, "cancelled"),
            ((DELIVERED, [TS_BLUE], [TS_BLACK], NOAH_CC), f"{TS_BLUE} not found", "item-not-in-order"),
            ((DELIVERED, [TS_PURPLE] * 3, [TS_BLUE] * 3, NOAH_CC), f"{TS_PURPLE} not found", "three-of-two"),
            ((DELIVERED, ["bogus"], [], NOAH_CC), "bogus not found", "items-before-count"),
            ((DELIVERED, [BOOTS_7], [], NOAH_CC), COUNT_MISMATCH, "too-few-new"),
            ((DELIVERED, [BOOTS_7, TS_PURPLE], [BOOTS_8], NOAH_CC), COUNT_MISMATCH, "count-mismatch"),
            (
                (DELIVERED, [BOOTS_7], [BOOTS_9], NOAH_CC),
                f"new item {BOOTS_9} not found or available",
                "unavailable",
            ),
            (
                (DELIVERED, [TS_PURPLE], [BOOTS_8], NOAH_CC),
                f"new item {BOOTS_8} not found or available",
                "other",
            ),
            (
                (DELIVERED, [TS_PURPLE], [TS_RED], "x"),
                f"new item {TS_RED} not found or available",
                "item-first",
            ),
            ((DELIVERED, [BOOTS_7], [BOOTS_8], AVA_GC), "payment method not found", "other-users-method"),
            (
                (DELIVERED, [BOOTS_7, TS_PURPLE], [BOOTS_8, TS_BLUE], NOAH_GC_LOW),
                "insufficient gift card balance to pay for the price difference",
                "insufficient",
            ),
        ]
    ],
]


def _dirty(world: World) -> World:
    """Give ``world`` successful earlier writes on the records that the failing calls touch."""
    for user_id in (NOAH, AVA):
        ok(world, "modify_user_address", user_id=user_id, **NEW_ADDRESS)
    for order_id in (P_CC, P_GC, P_DUP, P_SPLIT, BROKEN_CANCEL, BROKEN_PAYMENT):
        ok(world, "modify_pending_order_address", order_id=order_id, **NEW_ADDRESS)
    return world


@pytest.mark.parametrize("history", ["fresh", "after-writes"])
@pytest.mark.parametrize(("tool", "arguments", "message"), WRITE_ERROR_CASES)
def test_write_tool_errors_are_exact_and_atomic(
    world: World, tool: str, arguments: dict[str, Any], message: str, history: str
) -> None:
    if history == "after-writes":
        _dirty(world)
    fails(world, tool, message, **copy.deepcopy(arguments))


@pytest.mark.parametrize(
    ("tool", "arguments", "touched"),
    [
        ("cancel_pending_order", {"order_id": BROKEN_CANCEL, "reason": REASON}, "users"),
        (
            "modify_pending_order_payment",
            {"order_id": BROKEN_PAYMENT, "payment_method_id": AVA_GC_BIG},
            "orders",
        ),
    ],
)
def test_crash_midway_is_rolled_back(
    world: World, tool: str, arguments: dict[str, Any], touched: str
) -> None:
    # Without the transaction, the tool really does change the world before it fails...
    raw = world.fork()
    with pytest.raises(KeyError):
        RETAIL_TOOLS[tool](raw, **arguments)
    assert raw.hash() != world.hash()
    assert touched in raw.changed
    # ...and through Toolset.call the change is undone, also on top of earlier writes.
    _dirty(world)
    before, state = world.hash(), world.to_dict()
    result = call(world, tool, **arguments)
    assert result.error == f"'{GHOST_GC}'"
    assert result.wrote is False
    assert world.hash() == before
    assert world.to_dict() == state
    assert balance(world, AVA, AVA_GC) == 60.5
    assert balance(world, AVA, AVA_GC_BIG) == 1000


# ---------------------------------------------------------------------------------------------------------------
# Invalid calls
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("cancel_pending_order", {"order_id": P_CC}, "invalid arguments for cancel_pending_order: arguments must "
         "contain ['reason'] properties"),
        ("cancel_pending_order", {"order_id": 1000001, "reason": REASON}, "invalid arguments for "
         "cancel_pending_order: order_id must be string"),
        ("cancel_pending_order", {"order_id": P_CC, "reason": REASON, "force": True}, "unexpected argument 'force' "
         "for cancel_pending_order; it takes ['order_id', 'reason']"),
        ("modify_pending_order_items", _items_args(P_CC, TS_BLUE, [TS_PURPLE], NOAH_CC),
         "invalid arguments for modify_pending_order_items: item_ids must be array"),
        ("modify_pending_order_items", _items_args(P_CC, [1000000001], [TS_PURPLE], NOAH_CC),
         "invalid arguments for modify_pending_order_items: item_ids[0] must be string"),
        ("think", {"thought": None}, "invalid arguments for think: thought must be string"),
        ("list_all_product_types", None, "arguments of list_all_product_types must be an object, got NoneType"),
        ("get_user_details", [NOAH], "arguments of get_user_details must be an object, got list"),
        ("list_all_product_types", {"category": "shirts"}, "unexpected argument 'category' for "
         "list_all_product_types; it takes no arguments"),
    ],
)  # fmt: skip
def test_invalid_arguments_messages(world: World, tool: str, arguments: Any, message: str) -> None:
    before = world.hash()
    result = RETAIL_TOOLS.call(world, tool, arguments)
    assert result == ToolResult(tool, f"Error: {message}", message, False)
    assert world.hash() == before


def _invalid_argument_cases() -> list[Any]:
    """For every tool: each required argument missing, each one of the wrong type, and an extra argument."""
    valid: dict[str, dict[str, Any]] = {
        "calculate": {"expression": "1+1"},
        "cancel_pending_order": {"order_id": P_CC, "reason": REASON},
        "exchange_delivered_order_items": _items_args(DELIVERED, [BOOTS_7], [BOOTS_8], NOAH_CC),
        "find_user_id_by_email": {"email": "ava.moore5678@example.com"},
        "find_user_id_by_name_zip": {"first_name": "Ava", "last_name": "Moore", "zip": "78234"},
        "get_order_details": {"order_id": P_CC},
        "get_product_details": {"product_id": TSHIRT},
        "get_user_details": {"user_id": AVA},
        "list_all_product_types": {},
        "modify_pending_order_address": {"order_id": P_CC, **NEW_ADDRESS},
        "modify_pending_order_items": _items_args(P_CC, [TS_BLUE], [TS_PURPLE], NOAH_CC),
        "modify_pending_order_payment": {"order_id": P_CC, "payment_method_id": NOAH_PAYPAL},
        "modify_user_address": {"user_id": AVA, **NEW_ADDRESS},
        "return_delivered_order_items": {
            "order_id": DELIVERED,
            "item_ids": [BOOTS_7],
            "payment_method_id": NOAH_CC,
        },
        "think": {"thought": "hmm"},
        "transfer_to_human_agents": {"summary": "help"},
    }
    assert list(valid) == TAU_BENCH_ORDER
    cases = []
    for tool, arguments in valid.items():
        for arg, value in arguments.items():
            missing = {k: v for k, v in arguments.items() if k != arg}
            cases.append(pytest.param(tool, missing, "Error: invalid arguments", id=f"{tool}-no-{arg}"))
            wrong: Any = 7 if isinstance(value, str) else "7"
            cases.append(
                pytest.param(
                    tool, {**arguments, arg: wrong}, "Error: invalid arguments", id=f"{tool}-bad-{arg}"
                )
            )
            if isinstance(value, list):
                bad_items = {**arguments, arg: [None]}
                cases.append(
                    pytest.param(tool, bad_items, "Error: invalid arguments", id=f"{tool}-bad-{arg}-item")
                )
        extra = {**arguments, "user_id_hint": "x"}
        cases.append(
            pytest.param(tool, extra, "Error: unexpected argument 'user_id_hint'", id=f"{tool}-extra")
        )
        cases.append(
            pytest.param(tool, "{}", f"Error: arguments of {tool} must be an object", id=f"{tool}-text")
        )
    return cases


@pytest.mark.parametrize(("tool", "arguments", "prefix"), _invalid_argument_cases())
def test_invalid_arguments_leave_world_unchanged(
    world: World, tool: str, arguments: Any, prefix: str
) -> None:
    before, state = world.hash(), world.to_dict()
    result = RETAIL_TOOLS.call(world, tool, arguments)
    assert result.observation.startswith(prefix), result.observation
    assert result.error == result.observation.removeprefix("Error: ")
    assert result.wrote is False
    assert world.hash() == before
    assert world.to_dict() == state


@pytest.mark.parametrize("name", ["get_item_details", "cancel_order", "", "Think"])
def test_unknown_tool(world: World, name: str) -> None:
    before = world.hash()
    result = RETAIL_TOOLS.call(world, name, {})
    assert result.name == name
    assert result.observation.startswith(f"Error: unknown tool {name!r}")
    assert result.error is not None
    assert result.wrote is False
    assert world.hash() == before


# ---------------------------------------------------------------------------------------------------------------
# The wrote flag and copy-on-write isolation
# ---------------------------------------------------------------------------------------------------------------


SUCCESSFUL_WRITES = [
    ("cancel_pending_order", {"order_id": P_GC, "reason": REASON}),
    ("modify_pending_order_address", {"order_id": P_CC, **NEW_ADDRESS}),
    ("modify_user_address", {"user_id": AVA, **NEW_ADDRESS}),
    ("modify_pending_order_payment", {"order_id": P_GC, "payment_method_id": AVA_GC_BIG}),
    ("modify_pending_order_items", _items_args(P_CC, [TS_BLUE, BOOTS_7], [TS_BLACK, BOOTS_8], NOAH_GC)),
    (
        "return_delivered_order_items",
        {"order_id": DELIVERED, "item_ids": [BOOTS_7], "payment_method_id": NOAH_GC},
    ),
    ("exchange_delivered_order_items", _items_args(DELIVERED, [BOOTS_7], [BOOTS_8], NOAH_CC)),
]


@pytest.mark.parametrize(("tool", "arguments"), SUCCESSFUL_WRITES, ids=[t for t, _ in SUCCESSFUL_WRITES])
def test_successful_write_sets_wrote_and_changes_only_its_fork(
    data: Data, tool: str, arguments: dict[str, Any]
) -> None:
    pristine = make_data()
    base = World(data)
    base_hash = base.hash()
    fork, sibling = base.fork(), base.fork()
    result = RETAIL_TOOLS.call(fork, tool, arguments)
    assert result.ok
    assert result.wrote is True
    assert fork.hash() != base_hash
    assert base.hash() == base_hash
    assert sibling.hash() == base_hash
    assert base.to_dict() == pristine
    assert sibling.to_dict() == pristine
    assert data == pristine  # the World copied the caller's data
    assert fork.pristine().hash() == base_hash
    # A fork of the changed world carries the change; its own writes do not flow back.
    child = fork.fork()
    assert child.hash() == fork.hash()
    fork_hash = fork.hash()
    ok(child, "modify_user_address", user_id=MIA, **NEW_ADDRESS)
    assert fork.hash() == fork_hash
    assert base.hash() == base_hash


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("calculate", {"expression": "1+1"}),
        ("find_user_id_by_email", {"email": "ava.moore5678@example.com"}),
        ("find_user_id_by_name_zip", {"first_name": "Ava", "last_name": "Moore", "zip": "78234"}),
        ("get_order_details", {"order_id": P_CC}),
        ("get_product_details", {"product_id": BOOTS}),
        ("get_user_details", {"user_id": NOAH}),
        ("list_all_product_types", {}),
        ("think", {"thought": "x"}),
        ("transfer_to_human_agents", {"summary": "x"}),
    ],
)
def test_read_tools_never_write(world: World, tool: str, arguments: dict[str, Any]) -> None:
    before = world.hash()
    result = RETAIL_TOOLS.call(world, tool, arguments)
    assert result.ok
    assert result.wrote is False
    assert world.hash() == before
    assert world.changed == {}


def test_observation_is_a_snapshot(world: World) -> None:
    observation = ok(world, "modify_pending_order_address", order_id=P_CC, **NEW_ADDRESS)
    ok(world, "modify_pending_order_payment", order_id=P_CC, payment_method_id=NOAH_PAYPAL)
    assert len(json.loads(observation)["payment_history"]) == 1
    assert len(json.loads(ok(world, "get_order_details", order_id=P_CC))["payment_history"]) == 3


def test_episode_of_writes(world: World, expected: Data) -> None:
    """A sequence of writes on several records ends in exactly the expected state."""
    ok(world, "cancel_pending_order", order_id=P_GC, reason="ordered by mistake")
    fails(
        world,
        "modify_pending_order_payment",
        "insufficient gift card balance to pay for the order",
        order_id=P_AVA_CC,
        payment_method_id=AVA_GC,
    )
    ok(world, "modify_pending_order_payment", order_id=P_AVA_CC, payment_method_id=AVA_GC_BIG)
    ok(
        world,
        "return_delivered_order_items",
        order_id=DELIVERED_GC,
        item_ids=[TS_BLUE],
        payment_method_id=AVA_GC,
    )

    orders, methods = expected["orders"], expected["users"][AVA]["payment_methods"]
    orders[P_GC]["status"] = "cancelled"
    orders[P_GC]["cancel_reason"] = "ordered by mistake"
    orders[P_GC]["payment_history"].append(_payment(49.67, AVA_GC, "refund"))
    orders[P_AVA_CC]["payment_history"] += [_payment(244.34, AVA_GC_BIG), _payment(244.34, AVA_CC, "refund")]
    orders[DELIVERED_GC]["status"] = "return requested"
    orders[DELIVERED_GC]["return_items"] = [TS_BLUE]
    orders[DELIVERED_GC]["return_payment_method_id"] = AVA_GC
    methods[AVA_GC]["balance"] = 110.17
    methods[AVA_GC_BIG]["balance"] = 755.66
    assert world.to_dict() == expected
    assert World(expected).hash() == world.hash()
