"""The retail domain's scripted task families (see :mod:`toolgym.tasks.scripted`).

Write families cover every retail write tool, some of them two ways (an address given in full, or "my default
address"). Read families ask questions, from single look-ups (an order's status, payment method, tracking number
or address, a variant's price, a gift card's balance) to several steps (find the order by its items and add up a
refund, count and total the pending orders, find the most expensive order, count a product's variants in stock,
price an exchange).

The families live in modules by theme — :mod:`~toolgym.envs.retail.order_families`,
:mod:`~toolgym.envs.retail.item_families`, :mod:`~toolgym.envs.retail.address_families`,
:mod:`~toolgym.envs.retail.read_families`, :mod:`~toolgym.envs.retail.question_families` and
:mod:`~toolgym.envs.retail.catalog_families` — built on :mod:`~toolgym.envs.retail.family_world` (drawing cases
from the world; a family is a build step made into a maker by ``drawn_from``),
:mod:`~toolgym.envs.retail.family_words` (how users, orders and cards are named),
:mod:`~toolgym.envs.retail.family_addresses` (addresses), :mod:`~toolgym.envs.retail.family_swaps` (swapping
items for other variants) and :mod:`~toolgym.envs.retail.family_code` (verifiers, failure cases and assembling
tasks). This module lists them in a fixed order, the order the scripted challenger cycles through.
"""

from __future__ import annotations

from toolgym.tasks.scripted import TaskFamily

from . import address_families as addresses
from . import catalog_families as catalog
from . import item_families as items
from . import order_families as orders
from . import question_families as questions
from . import read_families as reads

WRITE_FAMILIES: tuple[TaskFamily, ...] = (
    TaskFamily(
        "cancel_pending_order",
        "write",
        ("cancel_pending_order",),
        "Cancel a pending order described by its items (or id) for the reason the user gives.",
        orders.make_cancel,
    ),
    TaskFamily(
        "ship_order_to_new_address",
        "write",
        ("modify_pending_order_address",),
        "Ship a pending order to a new address given in full; the profile stays.",
        orders.make_order_address,
    ),
    TaskFamily(
        "ship_order_to_default_address",
        "write",
        ("modify_pending_order_address",),
        "Ship a pending order that goes elsewhere to the user's default address, which the agent looks up.",
        orders.make_order_to_home,
    ),
    TaskFamily(
        "change_order_payment",
        "write",
        ("modify_pending_order_payment",),
        "Pay a pending order with another payment method, named by its kind or last four digits.",
        orders.make_payment,
    ),
    TaskFamily(
        "modify_order_items",
        "write",
        ("modify_pending_order_items",),
        "Swap one or two items of a pending order for variants differing in one stated option, in one call.",
        items.make_modify_items,
    ),
    TaskFamily(
        "return_items",
        "write",
        ("return_delivered_order_items",),
        "Return some or all items of a delivered order, refunded to the original method or a gift card.",
        items.make_return,
    ),
    TaskFamily(
        "exchange_items",
        "write",
        ("exchange_delivered_order_items",),
        "Exchange one or two delivered items for variants differing in one stated option.",
        items.make_exchange,
    ),
    TaskFamily(
        "change_default_address",
        "write",
        ("modify_user_address",),
        "Change the user's default address to one given in full, leaving their orders alone.",
        addresses.make_user_address,
    ),
    TaskFamily(
        "move_house",
        "write",
        ("modify_user_address", "modify_pending_order_address"),
        "A move: the default address and the pending orders bound for the old home go to a new address.",
        addresses.make_move,
    ),
    TaskFamily(
        "default_address_from_order",
        "write",
        ("modify_user_address",),
        "Make the address an order ships (or shipped) to the user's default address.",
        addresses.make_home_from_order,
    ),
)
"""Families whose tasks change the world: every retail write tool at least once."""

READ_FAMILIES: tuple[TaskFamily, ...] = (
    TaskFamily(
        "order_status",
        "read",
        (),
        "What is the status of my order #W…? (one look-up)",
        reads.make_status,
    ),
    TaskFamily(
        "order_payment_method",
        "read",
        (),
        "Which payment method paid my order #W…? (a card by its brand or last four digits)",
        reads.make_payment_method,
    ),
    TaskFamily(
        "order_tracking_number",
        "read",
        (),
        "What is the tracking number of my order, given by id or by its items?",
        reads.make_tracking,
    ),
    TaskFamily(
        "order_shipping_address",
        "read",
        (),
        "Which address is my order (given by id or by its items) shipped to?",
        reads.make_shipping_address,
    ),
    TaskFamily(
        "variant_price",
        "read",
        (),
        "What does the product variant with these options cost?",
        catalog.make_variant_price,
    ),
    TaskFamily(
        "gift_card_balance",
        "read",
        (),
        "How much is left on my gift card?",
        questions.make_gift_card_balance,
    ),
    TaskFamily(
        "refund_estimate",
        "read",
        (),
        "How much would returning these items of my delivered order refund?",
        questions.make_refund_estimate,
    ),
    TaskFamily(
        "pending_orders_summary",
        "read",
        (),
        "How many of my orders are pending, and what do they add up to?",
        questions.make_pending_summary,
    ),
    TaskFamily(
        "most_expensive_order",
        "read",
        (),
        "Which of my pending (or delivered) orders cost the most, and what was its total?",
        questions.make_most_expensive,
    ),
    TaskFamily(
        "variant_stock_count",
        "read",
        (),
        "How many variants of a product with a given option are in stock, and what is the cheapest?",
        catalog.make_stock_count,
    ),
    TaskFamily(
        "exchange_price_quote",
        "read",
        (),
        "What would exchanging a delivered item for another variant cost, and which way does the money go?",
        catalog.make_exchange_quote,
    ),
)
"""Families whose tasks are questions: nothing may change, and the answer must hold the right value."""

FAMILIES: tuple[TaskFamily, ...] = WRITE_FAMILIES + READ_FAMILIES
"""Every retail task family, in the order the scripted challenger cycles through them."""
