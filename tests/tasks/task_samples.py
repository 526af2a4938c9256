"""Sample tasks for the task tests: a small retail world, a pending order in it, a correct cancellation task.

A module of its own rather than the conftest, so tests import it by a name no other test folder uses.
"""

from __future__ import annotations

from typing import Any

from toolgym.tasks import CodeAsTask

from toolgym.world import World

SMALL_WORLD = {"generator": "retail", "seed": 7, "size": {"n_users": 20, "n_products": 10, "n_orders": 40}}


def pending_order(world: World) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The first pending order paid by card or PayPal, with its user."""
    for order_id, order in world.table("orders"):
        method = order["payment_history"][0]["payment_method_id"]
        if order["status"] == "pending" and not method.startswith("gift_card"):
            user = world.get("users", order["user_id"])
            assert user is not None
            return order_id, order, user
    raise AssertionError("the small world has no pending order")


def cancel_task(world: World, **changes: Any) -> CodeAsTask:
    """An honest cancellation task on the small world; keyword arguments replace fields."""
    order_id, _order, user = pending_order(world)
    fields: dict[str, Any] = {
        "domain": "retail",
        "world": SMALL_WORLD,
        "instruction": (
            f"I am {user['name']['first_name']} {user['name']['last_name']} ({user['email']}). "
            f"Please cancel my order {order_id}: I no longer need it. Tell me its new status."
        ),
        "verifier": (
            "def evaluate(state, answer, initial):\n"
            f"    order = state['orders']['{order_id}']\n"
            "    return (\n"
            "        order['status'] == 'cancelled'\n"
            "        and order['cancel_reason'] == 'no longer needed'\n"
            f"        and changed_records(state, initial) == [('orders', '{order_id}')]\n"
            "        and 'cancelled' in answer.lower()\n"
            "    )\n"
        ),
        "solution": (
            f"uid = find_user_id_by_email(email='{user['email']}')\n"
            f"order = cancel_pending_order(order_id='{order_id}', reason='no longer needed')\n"
            "print('Your order is now', order['status'])\n"
        ),
        "failure_cases": [
            f"cancel_pending_order(order_id='{order_id}', reason='ordered by mistake')\nprint('cancelled')",
            "print('Your order is cancelled')",
            f"o = get_order_details(order_id='{order_id}')\nprint(o['status'])",
        ],
        "provenance": {"author": "test"},
    }
    fields.update(changes)
    return CodeAsTask(**fields)
