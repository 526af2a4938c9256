"""Retail question families about the user's money: a gift card's balance, and questions over several orders.

Each answer is a number or an order id worked out from the user's records: what is left on the gift card, what
returning some items would refund, how many orders are pending and what they add up to, which order cost the
most. The verifiers read numbers however they are written (``$1,234.50``, ``1234.5``), and every failure case's
printed answer is checked here against the verifier before the task is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

from .family_code import Case, read_task, read_verifier, said, transfer_case
from .family_words import ask, identify, item_match, item_phrase, join_words, opening, owner_and_ref
from .family_world import STATUSES, Draw, Record, amount, distinct_items, drawn_from, paid_with, pick, record


def _total(values: Sequence[float]) -> float:
    # Added in order from an int, like the scripts do, so the printed float is the same.
    total: float = 0
    for value in values:
        total = total + value
    return round(total, 2)


def _orders(world: World, user: Record) -> list[Record]:
    return [record(world, "orders", o) for o in user["orders"]]


@drawn_from(lambda d: d.index.with_status("delivered"))
def make_refund_estimate(d: Draw, order_id: str) -> CodeAsTask | None:
    """If I returned these items of my delivered order, how much would I get back?"""
    order = record(d.world, "orders", order_id)
    items = order["items"]
    if len(items) < 2 or not distinct_items(order):
        return None
    n = len(items)
    chosen = sorted(d.rng.permutation(n)[: int(d.rng.integers(1, n))].tolist())
    returned = [items[j] for j in chosen]
    who, ref = owner_and_ref(d, order, id_weight=0.2)
    what = join_words([item_phrase(order, item, with_options=False) for item in returned])
    text = pick(
        d.rng,
        (
            f"If I returned {what} from {ref.phrase}, how much would I get back?",
            f"How much money would I get back for returning {what} from {ref.phrase}?",
        ),
    )
    text = f"{who.intro} {text} Don't start a return yet; just tell me the amount."
    refund = _total([item["price"] for item in returned])
    v = read_verifier()
    v.require_says(refund)
    condition = " or ".join(f"({item_match(order, item)})" for item in returned)
    adding = f"total = 0\nfor i in order['items']:\n    if {condition}:\n        total = total + i['price']\n"
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

    def quoting_one(label: str, item: Record, condition: str) -> Case:
        # A wrong refund: one item's price, read from the order by a condition that holds for that item only.
        code = f"print('You would get back', [i['price'] for i in order['items'] if {condition}][0])\n"
        return Case(
            label, f"{opening(who)}{ref.find}{code}", said("You would get back", item["price"]), must=True
        )

    if len(returned) > 1:
        cases.append(quoting_one("leaves one of the items out", returned[0], item_match(order, returned[0])))
    else:
        kept = next(item for item in items if item is not returned[0])
        cases.append(
            quoting_one("prices another item of the order", kept, f"i['item_id'] == {kept['item_id']!r}")
        )
    return read_task(d, text, v, solution, cases)


@drawn_from(lambda d: d.index.users)
def make_pending_summary(d: Draw, user_id: str) -> CodeAsTask | None:
    """How many of my orders are pending, and what do they add up to?"""
    pending = d.index.of_user(user_id, "pending")
    if not pending or len(pending) == len(record(d.world, "users", user_id)["orders"]):
        return None
    who = identify(d.rng, d.world, user_id)
    orders = _orders(d.world, who.user)
    count = len(pending)
    total = _total([amount(o) for o in orders if o["status"] == "pending"])
    text = ask(
        d.rng,
        who.intro,
        (
            "How many of my orders are still pending, and how much do they add up to in total?",
            "Can you tell me how many pending orders I have and what they cost altogether?",
        ),
    )
    v = read_verifier()
    v.require_says(count, total)

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
        return said("You have", len(chosen), "pending orders, totalling", _total([amount(o) for o in chosen]))

    solution = (summing("order['status'] == 'pending'"), predicted(["pending"]))
    cases = [
        transfer_case(who, "User asks about their pending orders"),
        Case("counts every order, not only pending ones", summing("True"), predicted(STATUSES), must=True),
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
    return read_task(d, text, v, solution, cases)


@drawn_from(lambda d: d.index.users)
def make_most_expensive(d: Draw, user_id: str) -> CodeAsTask | None:
    """Which of my pending (or delivered) orders cost the most, and what was its total?"""
    status = pick(d.rng, ("pending", "delivered"))
    candidates = [record(d.world, "orders", o) for o in d.index.of_user(user_id, status)]
    if len(candidates) < 2:
        return None
    ranked = sorted(candidates, key=amount, reverse=True)
    best, cheapest = ranked[0], ranked[-1]
    if amount(best) - amount(ranked[1]) < 0.01:
        return None
    who = identify(d.rng, d.world, user_id)
    text = ask(
        d.rng,
        who.intro,
        (
            f"Which of my {status} orders is the most expensive, and what is its total?",
            f"Among my {status} orders, which one cost the most? Please give me the order id and the amount.",
        ),
    )
    v = read_verifier()
    ids = [o["order_id"][2:] for o in candidates]
    # The first of these orders the answer names must be the most expensive one.
    v.line(f"named = [r for r in digit_runs(answer) if r in {ids!r}]")
    v.require(f"named and named[0] == {best['order_id'][2:]!r}")
    v.require_says(amount(best))

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
    everything = _orders(d.world, who.user)
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
    return read_task(d, text, v, solution, cases)


def _gift_card(d: Draw, user_id: str) -> tuple[str, Record] | None:
    """The user's first gift card with money left on it, with its id."""
    for pid, method in record(d.world, "users", user_id)["payment_methods"].items():
        if method["source"] == "gift_card" and method["balance"] > 0:
            return pid, method
    return None


@drawn_from(lambda d: [u for u in d.index.users if _gift_card(d, u) is not None])
def make_gift_card_balance(d: Draw, user_id: str) -> CodeAsTask | None:
    """How much is left on my gift card?"""
    found = _gift_card(d, user_id)
    if found is None:
        return None
    card_id, card = found
    balance = card["balance"]
    who = identify(d.rng, d.world, user_id)
    text = ask(
        d.rng,
        who.intro,
        (
            "How much is left on my gift card?",
            "What's the balance of my gift card?",
            "Can you check my gift card balance?",
        ),
    )
    v = read_verifier()
    v.require(f"says(answer, initial['users'][{user_id!r}]['payment_methods'][{card_id!r}]['balance'])")
    find = f"{opening(who)}card = [m for m in user['payment_methods'].values() if m['source'] == 'gift_card'][0]\n"
    solution = (
        f"{find}print('Your gift card balance is', card['balance'])\n",
        said("Your gift card balance is", balance),
    )
    cases = [
        transfer_case(who, "User asks for a gift card balance"),
        Case(
            "gives the gift card's id instead of its balance",
            f"{find}print('Your gift card is', card['id'])\n",
            said("Your gift card is", card_id),
        ),
        Case(
            "says it is empty without looking",
            f"{who.lookup}\nprint('Your gift card has no balance left.')\n",
            "Your gift card has no balance left.",
        ),
    ]
    mine = [
        record(d.world, "orders", o) for o in d.index.of_user(user_id, "pending", "processed", "delivered")
    ]
    paid = [o for o in mine if paid_with(o) == card_id]
    if paid:
        order = pick(d.rng, paid)
        cases.append(
            Case(
                "quotes what an order paid with the gift card cost",
                f"{who.lookup}\norder = get_order_details(order_id={order['order_id']!r})\n"
                "print('Your gift card balance is', order['payment_history'][0]['amount'])\n",
                said("Your gift card balance is", amount(order)),
                must=True,
            )
        )
    return read_task(d, text, v, solution, cases)
