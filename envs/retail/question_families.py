"""Retail question families about the user's money: a gift card's balance, and questions over several orders.

Each answer is a number or an order id worked out from the user's records: what is left on the gift card, what
returning some items would refund, how many orders are pending and what they add up to, which order cost the
most. The verifiers read numbers however they are written (``$1,234.50``, ``1234.5``), and every failure case's
printed answer is checked here against the verifier before the task is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

from .family_code import Case, read_task, read_verifier, said, transfer_case
from .family_words import NO_CHANGE, ask, identify, item_match, item_phrase, join_words, opening, refer_order
from .family_world import Record, amount, distinct_items, first_found, index, paid_with, pick, record

Spec = Mapping[str, Any]
STATUSES = ("pending", "processed", "delivered", "cancelled")


def _total(values: Sequence[float]) -> float:
    # Added in order from an int, like the scripts do, so the printed float is the same.
    total: float = 0
    for value in values:
        total = total + value
    return round(total, 2)


def _orders(world: World, user: Record) -> list[Record]:
    return [record(world, "orders", o) for o in user["orders"]]


def make_refund_estimate(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """If I returned these items of my delivered order, how much would I get back?

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def build(order_id: str) -> CodeAsTask | None:
        order = record(world, "orders", order_id)
        items = order["items"]
        if len(items) < 2 or not distinct_items(order):
            return None
        n = len(items)
        chosen = sorted(rng.permutation(n)[: int(rng.integers(1, n))].tolist())
        returned = [items[j] for j in chosen]
        who = identify(rng, world, order["user_id"])
        ref = refer_order(rng, world, who, order_id, id_weight=0.2)
        what = join_words([item_phrase(order, item, with_options=False) for item in returned])
        text = pick(
            rng,
            (
                f"If I returned {what} from {ref.phrase}, how much would I get back?",
                f"How much money would I get back for returning {what} from {ref.phrase}?",
            ),
        )
        text = f"{who.intro} {text} Don't start a return yet; just tell me the amount."
        refund = _total([item["price"] for item in returned])
        v = read_verifier()
        v.require(f"says(answer, {refund!r})")
        verifier = v.source()
        condition = " or ".join(f"({item_match(order, item)})" for item in returned)
        adding = (
            f"total = 0\nfor i in order['items']:\n    if {condition}:\n        total = total + i['price']\n"
        )
        solution = (
            f"{opening(who)}{ref.find}{adding}print('You would get back', round(total, 2))\n",
            said("You would get back", refund),
        )
        ids = [item["item_id"] for item in returned]
        cases = [
            transfer_case(who, "User asks what a return would refund"),
            Case(
                "quotes the whole order's total",
                f"{opening(who)}{ref.find}print('You would get back', order['payment_history'][0]['amount'])\n",
                said("You would get back", amount(order)),
                must=True,
            ),
            Case(
                "starts the return although asked not to",
                f"{opening(who)}{ref.find}{adding}"
                f"return_delivered_order_items(order_id=oid, item_ids={ids!r}, payment_method_id={paid_with(order)!r})\n"
                "print('You would get back', round(total, 2))\n",
                None,
            ),
        ]
        if len(returned) > 1:
            cases.append(
                Case(
                    "leaves one of the items out",
                    f"{opening(who)}{ref.find}print('You would get back', "
                    f"[i['price'] for i in order['items'] if {item_match(order, returned[0])}][0])\n",
                    said("You would get back", returned[0]["price"]),
                    must=True,
                )
            )
        else:
            kept = [item for item in items if item is not returned[0]]
            cases.append(
                Case(
                    "prices another item of the order",
                    f"{opening(who)}{ref.find}print('You would get back', "
                    f"[i['price'] for i in order['items'] if i['item_id'] == {kept[0]['item_id']!r}][0])\n",
                    said("You would get back", kept[0]["price"]),
                    must=True,
                )
            )
        return read_task(rng, spec, world, text, verifier, solution, cases)

    return first_found(rng, ix.orders.get("delivered", ()), build)


def make_pending_summary(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """How many of my orders are pending, and what do they add up to?

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def build(user_id: str) -> CodeAsTask | None:
        pending = ix.of_user(user_id, "pending")
        if not pending or len(pending) == len(record(world, "users", user_id)["orders"]):
            return None
        who = identify(rng, world, user_id)
        orders = _orders(world, who.user)
        count = len(pending)
        total = _total([amount(o) for o in orders if o["status"] == "pending"])
        text = pick(
            rng,
            (
                "How many of my orders are still pending, and how much do they add up to in total?",
                "Can you tell me how many pending orders I have and what they cost altogether?",
            ),
        )
        text = f"{who.intro} {text}{pick(rng, NO_CHANGE)}"
        v = read_verifier()
        v.require(f"says(answer, {count!r}) and says(answer, {total!r})")
        verifier = v.source()

        def summing(condition: str) -> str:
            return (
                f"{opening(who)}count = 0\ntotal = 0\nfor candidate in user['orders']:\n"
                "    order = get_order_details(order_id=candidate)\n"
                f"    if {condition}:\n"
                "        count = count + 1\n"
                "        total = total + order['payment_history'][0]['amount']\n"
                "print('You have', count, 'pending orders, totalling', round(total, 2))\n"
            )

        def predicted(statuses: Sequence[str]) -> str:
            chosen = [o for o in orders if o["status"] in statuses]
            return said(
                "You have", len(chosen), "pending orders, totalling", _total([amount(o) for o in chosen])
            )

        solution = (summing("order['status'] == 'pending'"), predicted(["pending"]))
        cases = [
            transfer_case(who, "User asks about their pending orders"),
            Case(
                "counts every order, not only pending ones", summing("True"), predicted(STATUSES), must=True
            ),
            Case(
                "counts the pending orders but gives no total",
                f"{opening(who)}count = 0\nfor candidate in user['orders']:\n"
                "    if get_order_details(order_id=candidate)['status'] == 'pending':\n"
                "        count = count + 1\n"
                "print('You have', count, 'pending orders')\n",
                said("You have", count, "pending orders"),
            ),
            Case(
                "counts processed orders as pending too",
                summing("order['status'] in ['pending', 'processed']"),
                predicted(["pending", "processed"]),
            ),
        ]
        return read_task(rng, spec, world, text, verifier, solution, cases)

    return first_found(rng, ix.users, build)


def make_most_expensive(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Which of my pending (or delivered) orders cost the most, and what was its total?

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def build(user_id: str) -> CodeAsTask | None:
        status = pick(rng, ("pending", "delivered"))
        candidates = [record(world, "orders", o) for o in ix.of_user(user_id, status)]
        if len(candidates) < 2:
            return None
        ranked = sorted(candidates, key=amount, reverse=True)
        best, cheapest = ranked[0], ranked[-1]
        if amount(best) - amount(ranked[1]) < 0.01:
            return None
        who = identify(rng, world, user_id)
        text = pick(
            rng,
            (
                f"Which of my {status} orders is the most expensive, and what is its total?",
                f"Among my {status} orders, which one cost the most? Please give me the order id and the amount.",
            ),
        )
        text = f"{who.intro} {text}{pick(rng, NO_CHANGE)}"
        v = read_verifier()
        ids = [o["order_id"][2:] for o in candidates]
        # The first of these orders the answer names must be the most expensive one.
        v.line(f"named = [r for r in digit_runs(answer) if r in {ids!r}]")
        v.require(f"named and named[0] == {best['order_id'][2:]!r}")
        v.require(f"says(answer, {amount(best)!r})")
        verifier = v.source()

        def ranking(status_test: str, key: str, pick_best: str) -> str:
            return (
                f"{opening(who)}best = None\nbest_key = None\nfor candidate in user['orders']:\n"
                "    order = get_order_details(order_id=candidate)\n"
                f"    key = {key}\n"
                f"    if {status_test} and (best is None or {pick_best}):\n"
                "        best = order\n        best_key = key\n"
                "print('Your most expensive order is', best['order_id'], 'at', best['payment_history'][0]['amount'])\n"
            )

        def predicted(order: Record) -> str:
            return said("Your most expensive order is", order["order_id"], "at", amount(order))

        total_key = "order['payment_history'][0]['amount']"
        solution = (ranking(f"order['status'] == {status!r}", total_key, "key > best_key"), predicted(best))
        cases = [
            transfer_case(who, "User asks which order cost the most"),
            Case(
                "picks the cheapest order",
                ranking(f"order['status'] == {status!r}", total_key, "key < best_key"),
                predicted(cheapest),
                must=True,
            ),
        ]
        everything = _orders(world, who.user)
        overall = max(everything, key=amount)
        if overall["order_id"] != best["order_id"]:
            cases.append(
                Case(
                    "ignores the status",
                    ranking("True", total_key, "key > best_key"),
                    predicted(overall),
                    must=True,
                )
            )
        priciest_item = max(candidates, key=lambda o: max(i["price"] for i in o["items"]))
        cases.append(
            Case(
                "picks the order with the priciest single item",
                ranking(
                    f"order['status'] == {status!r}",
                    "max(i['price'] for i in order['items'])",
                    "key > best_key",
                ),
                predicted(priciest_item),
            )
        )
        last = candidates[-1]
        cases.append(
            Case(
                "takes the latest order",
                f"{opening(who)}last = None\nfor candidate in user['orders']:\n"
                "    order = get_order_details(order_id=candidate)\n"
                f"    if order['status'] == {status!r}:\n        last = order\n"
                "print('Your most expensive order is', last['order_id'], 'at', last['payment_history'][0]['amount'])\n",
                predicted(last),
            )
        )
        return read_task(rng, spec, world, text, verifier, solution, cases)

    return first_found(rng, ix.users, build)


def make_gift_card_balance(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """How much is left on my gift card?

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def gift(user_id: str) -> tuple[str, Record] | None:
        for pid, method in record(world, "users", user_id)["payment_methods"].items():
            if method["source"] == "gift_card" and method["balance"] > 0:
                return pid, method
        return None

    def build(user_id: str) -> CodeAsTask | None:
        found = gift(user_id)
        if found is None:
            return None
        card_id, card = found
        balance = card["balance"]
        who = identify(rng, world, user_id)
        text = ask(
            rng,
            who.intro,
            (
                "How much is left on my gift card?",
                "What's the balance of my gift card?",
                "Can you check my gift card balance?",
            ),
        )
        v = read_verifier()
        v.require(f"says(answer, initial['users'][{user_id!r}]['payment_methods'][{card_id!r}]['balance'])")
        verifier = v.source()
        solution = (
            f"{opening(who)}card = [m for m in user['payment_methods'].values() if m['source'] == 'gift_card'][0]\n"
            "print('Your gift card balance is', card['balance'])\n",
            said("Your gift card balance is", balance),
        )
        cases = [
            transfer_case(who, "User asks for a gift card balance"),
            Case(
                "gives the gift card's id instead of its balance",
                f"{opening(who)}card = [m for m in user['payment_methods'].values() if m['source'] == 'gift_card'][0]\n"
                "print('Your gift card is', card['id'])\n",
                said("Your gift card is", card_id),
            ),
            Case(
                "says it is empty without looking",
                f"{who.lookup}\nprint('Your gift card has no balance left.')\n",
                "Your gift card has no balance left.",
            ),
        ]
        paid = [
            record(world, "orders", o)
            for s in ("pending", "processed", "delivered")
            for o in ix.of_user(user_id, s)
            if paid_with(record(world, "orders", o)) == card_id
        ]
        if paid:
            order = pick(rng, paid)
            cases.append(
                Case(
                    "quotes what an order paid with the gift card cost",
                    f"{who.lookup}\norder = get_order_details(order_id={order['order_id']!r})\n"
                    "print('Your gift card balance is', order['payment_history'][0]['amount'])\n",
                    said("Your gift card balance is", order["payment_history"][0]["amount"]),
                    must=True,
                )
            )
        return read_task(rng, spec, world, text, verifier, solution, cases)

    return first_found(rng, [u for u in ix.users if gift(u) is not None], build)
