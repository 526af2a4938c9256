"""The 16 retail tools, with τ-bench's semantics, return payloads and error messages.

Read tools return the JSON text of the record (or a bare user id for the two lookups); write tools return the
JSON text of the changed record. Failures raise :class:`~toolgym.tools.ToolError` with τ-bench's wording, which
the environment shows as ``"Error: <message>"``. τ-bench's quirks are kept on purpose, because agents trained
here are evaluated there: status checks are exact (``"pending (item modified)"`` orders can no longer be
modified), items may be modified once per order, the price difference of an item modification is recorded
unrounded while an exchange's is rounded, and gift-card balances are rounded to cents after every change.
"""

from __future__ import annotations

import copy
import json

from toolgym.arithmetic import evaluate_arithmetic
from toolgym.tools import ToolError, Toolset, tool
from toolgym.world import Record, World

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
CALCULATOR_CHARACTERS = frozenset("0123456789+-*/(). ")


def _order(world: World, order_id: str) -> Record:
    order = world.get("orders", order_id)
    if order is None:
        raise ToolError("order not found")
    return order


def _user_payment_methods(world: World, order: Record) -> dict[str, Record]:
    user = world.get("users", order["user_id"])
    if user is None:  # a dangling user id would be a KeyError in τ-bench too
        raise KeyError(order["user_id"])
    methods: dict[str, Record] = user["payment_methods"]
    return methods


def _credit_gift_card(world: World, user_id: str, payment_method_id: str, amount: float) -> None:
    """Add ``amount`` (negative to debit) to a gift card's balance, rounded to cents as τ-bench does."""
    user = world.edit("users", user_id)
    method = user["payment_methods"][payment_method_id]
    method["balance"] = round(method["balance"] + amount, 2)


def _check_items_in_order(order: Record, item_ids: list[str], message: str | None = None) -> None:
    """Every id in ``item_ids`` must occur in the order at least as often as it is listed."""
    present = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > present.count(item_id):
            raise ToolError(message or f"{item_id} not found")


def _price_difference(world: World, order: Record, item_ids: list[str], new_item_ids: list[str]) -> float:
    """Sum of new minus old prices for a positional swap of items to other variants of the same product."""
    if len(item_ids) != len(new_item_ids):
        raise ToolError("the number of items to be exchanged should match")
    diff: float = 0  # an int start, as in τ-bench, so that an empty swap records 0, not 0.0
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        item = next(i for i in order["items"] if i["item_id"] == item_id)
        product = world.get("products", item["product_id"])
        if product is None:
            raise KeyError(item["product_id"])
        variant = product["variants"].get(new_item_id)
        if variant is None or not variant["available"]:
            raise ToolError(f"new item {new_item_id} not found or available")
        diff += variant["price"] - item["price"]
    return diff


@tool()
def find_user_id_by_email(world: World, email: str) -> str:
    """Find a user's id from their email address (case-insensitive).

    Args:
        email: The user's email address, such as 'jane.doe1234@example.com'.
    """
    wanted = email.lower()
    for user_id, user in world.table("users"):
        if user["email"].lower() == wanted:
            return user_id
    raise ToolError("user not found")


@tool()
def find_user_id_by_name_zip(world: World, first_name: str, last_name: str, zip: str) -> str:
    """Find a user's id from their first name, last name and zip code. Prefer the email lookup; use this one only when the user cannot give an email address that is found.

    Args:
        first_name: The user's first name, such as 'Jane' (case-insensitive).
        last_name: The user's last name, such as 'Doe' (case-insensitive).
        zip: The five-digit zip code of the user's default address, such as '10001'.
    """
    first, last = first_name.lower(), last_name.lower()
    for user_id, user in world.table("users"):
        name = user["name"]
        if (
            name["first_name"].lower() == first
            and name["last_name"].lower() == last
            and user["address"]["zip"] == zip
        ):
            return user_id
    raise ToolError("user not found")


@tool()
def get_user_details(world: World, user_id: str) -> str:
    """Get a user's profile: name, default address, email, payment methods and order ids.

    Args:
        user_id: The user id, such as 'jane_doe_1234'.
    """
    user = world.get("users", user_id)
    if user is None:
        raise ToolError("user not found")
    return json.dumps(user)


@tool()
def get_order_details(world: World, order_id: str) -> str:
    """Get an order's status, shipping address, items, fulfillments and payment history.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
    """
    return json.dumps(_order(world, order_id))


@tool()
def get_product_details(world: World, product_id: str) -> str:
    """Get a product type and all its item variants, with their options, prices and availability.

    Args:
        product_id: The product id, such as '6086499569'. Product ids are not item ids.
    """
    product = world.get("products", product_id)
    if product is None:
        raise ToolError("product not found")
    return json.dumps(product)


@tool()
def list_all_product_types(world: World) -> str:
    """List every product type the store sells, as a mapping from product name to product id, sorted by name."""
    names = {product["name"]: product["product_id"] for _, product in world.table("products")}
    return json.dumps(dict(sorted(names.items())))


@tool()
def calculate(world: World, expression: str) -> str:
    """Evaluate an arithmetic expression and return the result rounded to two decimals.

    Args:
        expression: The expression, made only of digits, '+', '-', '*', '/', parentheses, '.' and spaces, such as '(59.99 + 20) * 2'.
    """
    if not all(ch in CALCULATOR_CHARACTERS for ch in expression):
        raise ToolError("invalid characters in expression")
    try:
        return str(round(float(evaluate_arithmetic(expression)), 2))
    except Exception as exc:
        raise ToolError(str(exc)) from exc


@tool(writes=True)
def cancel_pending_order(world: World, order_id: str, reason: str) -> str:
    """Cancel a pending order and refund every payment. Refunds to gift cards are credited at once; other methods receive them in 5-7 business days. Processed or delivered orders cannot be cancelled. Explain the cancellation and get the user's explicit confirmation (yes) first.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
        reason: Why the order is cancelled (choices: ["no longer needed", "ordered by mistake"])
    """
    order = _order(world, order_id)
    if order["status"] != "pending":
        raise ToolError("non-pending order cannot be cancelled")
    if reason not in CANCEL_REASONS:
        raise ToolError("invalid reason")
    refunds = []
    for payment in order["payment_history"]:
        method_id = payment["payment_method_id"]
        refunds.append(
            {"transaction_type": "refund", "amount": payment["amount"], "payment_method_id": method_id}
        )
        if "gift_card" in method_id:
            _credit_gift_card(world, order["user_id"], method_id, payment["amount"])
    order = world.edit("orders", order_id)
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    return json.dumps(order)


def _address(address1: str, address2: str, city: str, state: str, country: str, zip: str) -> dict[str, str]:
    return {
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }


@tool(writes=True)
def modify_pending_order_address(
    world: World, order_id: str, address1: str, address2: str, city: str, state: str, country: str, zip: str
) -> str:
    """Change the shipping address of a pending order. Explain the change and get the user's explicit confirmation (yes) first.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
        address1: First address line, such as '123 Main St'.
        address2: Second address line, such as 'Apt 1', or ''.
        city: City, such as 'Austin'.
        state: State code, such as 'TX'.
        country: Country, such as 'USA'.
        zip: Zip code, such as '78701'.
    """
    if _order(world, order_id)["status"] != "pending":
        raise ToolError("non-pending order cannot be modified")
    order = world.edit("orders", order_id)
    order["address"] = _address(address1, address2, city, state, country, zip)
    return json.dumps(order)


@tool(writes=True)
def modify_pending_order_payment(world: World, order_id: str, payment_method_id: str) -> str:
    """Pay a pending order with another of the user's payment methods; the original payment is refunded. A gift card must cover the whole order. Explain the change and get the user's explicit confirmation (yes) first.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
        payment_method_id: The new payment method, such as 'gift_card_0000000' or 'credit_card_0000000', taken from the user's details.
    """
    order = _order(world, order_id)
    if order["status"] != "pending":
        raise ToolError("non-pending order cannot be modified")
    methods = _user_payment_methods(world, order)
    if payment_method_id not in methods:
        raise ToolError("payment method not found")
    history = order["payment_history"]
    if len(history) > 1 or history[0]["transaction_type"] != "payment":
        raise ToolError("there should be exactly one payment for a pending order")
    old_method_id = history[0]["payment_method_id"]
    if old_method_id == payment_method_id:
        raise ToolError("the new payment method should be different from the current one")
    amount = history[0]["amount"]
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < amount:
        raise ToolError("insufficient gift card balance to pay for the order")
    order = world.edit("orders", order_id)
    order["payment_history"].extend(
        [
            {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old_method_id},
        ]
    )
    if method["source"] == "gift_card":
        _credit_gift_card(world, order["user_id"], payment_method_id, -amount)
    if "gift_card" in old_method_id:
        _credit_gift_card(world, order["user_id"], old_method_id, amount)
    return json.dumps(order)


@tool(writes=True)
def modify_pending_order_items(
    world: World, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> str:
    """Swap items of a pending order for other available variants of the same products. This can be done only once per order, so collect every item to change first; the price difference is charged or refunded to the given payment method. Explain the change and get the user's explicit confirmation (yes) first.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
        item_ids: The item ids to replace, such as ['1008292230']; an item ordered twice may be listed twice.
        new_item_ids: The replacement item ids, position by position, each a variant of the same product as the item it replaces.
        payment_method_id: The payment method that pays or receives the price difference, such as 'gift_card_0000000' or 'credit_card_0000000'.
    """
    order = _order(world, order_id)
    if order["status"] != "pending":
        raise ToolError("non-pending order cannot be modified")
    _check_items_in_order(order, item_ids)
    diff = _price_difference(world, order, item_ids, new_item_ids)
    methods = _user_payment_methods(world, order)
    if payment_method_id not in methods:
        raise ToolError("payment method not found")
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < diff:
        raise ToolError("insufficient gift card balance to pay for the new item")
    order = world.edit("orders", order_id)
    order["payment_history"].append(
        {
            "transaction_type": "payment" if diff > 0 else "refund",
            "amount": abs(diff),
            "payment_method_id": payment_method_id,
        }
    )
    if method["source"] == "gift_card":
        _credit_gift_card(world, order["user_id"], payment_method_id, -diff)
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        # Searching again after each swap mirrors τ-bench when an id is listed twice.
        item = next(i for i in order["items"] if i["item_id"] == item_id)
        product = world.get("products", item["product_id"])
        assert product is not None  # checked by _price_difference
        variant = product["variants"][new_item_id]
        item["item_id"] = new_item_id
        item["price"] = variant["price"]
        item["options"] = copy.deepcopy(variant["options"])
    order["status"] = "pending (item modified)"
    return json.dumps(order)


@tool(writes=True)
def return_delivered_order_items(
    world: World, order_id: str, item_ids: list[str], payment_method_id: str
) -> str:
    """Request the return of items of a delivered order; the status becomes 'return requested' and the user is emailed return instructions. The refund goes to the original payment method or to a gift card of the user. Explain the return and get the user's explicit confirmation (yes) first.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
        item_ids: The item ids to return, such as ['1008292230']; an item ordered twice may be listed twice.
        payment_method_id: Where the refund goes: the order's original payment method or a gift card, such as 'gift_card_0000000'.
    """
    order = _order(world, order_id)
    if order["status"] != "delivered":
        raise ToolError("non-delivered order cannot be returned")
    if payment_method_id not in _user_payment_methods(world, order):
        raise ToolError("payment method not found")
    if (
        "gift_card" not in payment_method_id
        and payment_method_id != order["payment_history"][0]["payment_method_id"]
    ):
        raise ToolError("payment method should be either the original payment method or a gift card")
    _check_items_in_order(order, item_ids, "some item not found")
    order = world.edit("orders", order_id)
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    return json.dumps(order)


@tool(writes=True)
def exchange_delivered_order_items(
    world: World, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> str:
    """Request the exchange of items of a delivered order for other available variants of the same products; the status becomes 'exchange requested'. Returns or exchanges can be requested once per order, so collect every item first. Explain the exchange and get the user's explicit confirmation (yes) first.

    Args:
        order_id: The order id, which starts with '#', such as '#W0000000'.
        item_ids: The item ids to exchange, such as ['1008292230']; an item ordered twice may be listed twice.
        new_item_ids: The replacement item ids, position by position, each a variant of the same product as the item it replaces.
        payment_method_id: The payment method that pays or receives the price difference, such as 'gift_card_0000000' or 'credit_card_0000000'.
    """
    order = _order(world, order_id)
    if order["status"] != "delivered":
        raise ToolError("non-delivered order cannot be exchanged")
    _check_items_in_order(order, item_ids)
    diff = round(_price_difference(world, order, item_ids, new_item_ids), 2)
    methods = _user_payment_methods(world, order)
    if payment_method_id not in methods:
        raise ToolError("payment method not found")
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < diff:
        raise ToolError("insufficient gift card balance to pay for the price difference")
    order = world.edit("orders", order_id)
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = diff
    return json.dumps(order)


@tool(writes=True)
def modify_user_address(
    world: World, user_id: str, address1: str, address2: str, city: str, state: str, country: str, zip: str
) -> str:
    """Change a user's default address. Explain the change and get the user's explicit confirmation (yes) first.

    Args:
        user_id: The user id, such as 'jane_doe_1234'.
        address1: First address line, such as '123 Main St'.
        address2: Second address line, such as 'Apt 1', or ''.
        city: City, such as 'Austin'.
        state: State code, such as 'TX'.
        country: Country, such as 'USA'.
        zip: Zip code, such as '78701'.
    """
    if world.get("users", user_id) is None:
        raise ToolError("user not found")
    user = world.edit("users", user_id)
    user["address"] = _address(address1, address2, city, state, country, zip)
    return json.dumps(user)


@tool()
def think(world: World, thought: str) -> str:
    """Write down a thought, for example to plan or to check a rule. Nothing is looked up or changed.

    Args:
        thought: The thought.
    """
    return ""


@tool(terminates=True)
def transfer_to_human_agents(world: World, summary: str) -> str:
    """Hand the conversation to a human agent, with a summary of the user's issue. Use it only when the request cannot be handled with the other tools or the policy; the conversation ends.

    Args:
        summary: A summary of the user's issue.
    """
    return "Transfer successful"


RETAIL_TOOLS = Toolset(
    [
        calculate,
        cancel_pending_order,
        exchange_delivered_order_items,
        find_user_id_by_email,
        find_user_id_by_name_zip,
        get_order_details,
        get_product_details,
        get_user_details,
        list_all_product_types,
        modify_pending_order_address,
        modify_pending_order_items,
        modify_pending_order_payment,
        modify_user_address,
        return_delivered_order_items,
        think,
        transfer_to_human_agents,
    ]
)
"""The retail domain's tools, in τ-bench's order."""
