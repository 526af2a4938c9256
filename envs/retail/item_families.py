"""Retail task families that act on items: modify a pending order's items, return or exchange delivered ones."""

from __future__ import annotations

from collections.abc import Sequence

from toolgym.tasks.format import CodeAsTask

from .family_code import Verifier, claim, direct_miss, write_task
from .family_swaps import EXCHANGE, MODIFY, draw_swap, extra_swap, swap_misses
from .family_words import (
    find_method,
    item_match,
    item_phrase,
    join_words,
    method_phrase,
    opening,
    owner_and_ref,
)
from .family_world import Draw, chance, distinct_items, drawn_from, paid_with, pick, record


@drawn_from(lambda d: d.index.with_status("pending"))
def make_modify_items(d: Draw, order_id: str) -> CodeAsTask | None:
    """Swap one or two items of a pending order for variants differing in one stated option, in one call."""
    swap = draw_swap(d, order_id, MODIFY)
    if swap is None:
        return None
    text = f"In {swap.ref.phrase}, I'd like {swap.wanted}."
    if len(swap.changes) > 1:
        text += " Please make both changes together."
    text += pick(
        d.rng,
        (
            f" Use {method_phrase(swap.method)} for any price difference.",
            f" Please use {method_phrase(swap.method)} to settle the difference.",
        ),
    )
    expected = [dict(i) for i in swap.order["items"]]
    for j, item, _, variant in swap.changes:
        expected[j] = {
            **item,
            "item_id": variant["item_id"],
            "price": variant["price"],
            "options": dict(variant["options"]),
        }
    gift = swap.method["source"] == "gift_card"
    user_id = swap.who.user_id
    v = Verifier()
    v.changed([("orders", order_id), *([("users", user_id)] if gift else [])])
    v.only_keys_changed("orders", order_id, swap.order, ("items", "status", "payment_history"), "o")
    v.require("o['status'] == 'pending (item modified)'")
    v.require(f"list(o['items']) == {expected!r}")
    v.line("history = list(o['payment_history'])")
    v.require(
        "len(history) == len(o0['payment_history']) + 1 and history[:-1] == list(o0['payment_history'])"
    )
    kind = "payment" if swap.diff > 0 else "refund"
    v.require(
        f"history[-1]['transaction_type'] == {kind!r} and history[-1]['payment_method_id'] == {swap.method_id!r} "
        f"and abs(history[-1]['amount'] - {abs(swap.diff)!r}) < 0.005"
    )
    if gift:
        v.balances(user_id, swap.who.user, {swap.method_id: round(swap.method["balance"] - swap.diff, 2)})
    solution = swap.solution("print('Order', oid, 'is updated:', new_ids, '- status:', result['status'])\n")
    exchanging = direct_miss("uses the exchange tool on a pending order", swap.who, swap.call(tool=EXCHANGE))
    wrong_variant, wrong_method, singles = swap_misses(d, swap, "changes the items one call at a time")
    must = [c for c in (wrong_variant, exchanging, singles) if c is not None]
    optional = [c for c in (claim(swap.who), wrong_method) if c is not None]
    extra = extra_swap(d.world, swap) if len(swap.changes) == 1 else None
    if extra is not None:
        items, new = [*swap.old_ids, extra[0]], [*swap.new_ids, extra[1]]
        optional.append(
            direct_miss("also changes another item", swap.who, swap.call(item_ids=items, new_item_ids=new))
        )
    return write_task(d, swap.who, text, v, solution, must, optional)


@drawn_from(lambda d: d.index.with_status("delivered"))
def make_return(d: Draw, order_id: str) -> CodeAsTask | None:
    """Return some items of a delivered order, refunded to the original payment method or to a gift card."""
    order = record(d.world, "orders", order_id)
    if not distinct_items(order):
        return None
    items = order["items"]
    n = len(items)
    k = n if n == 1 or chance(d.rng, 0.25) else int(d.rng.integers(1, n))
    chosen = sorted(d.rng.permutation(n)[:k].tolist())
    returned = [items[j] for j in chosen]
    who, ref = owner_and_ref(d, order)
    original = paid_with(order)
    gifts = [
        pid
        for pid, m in who.user["payment_methods"].items()
        if m["source"] == "gift_card" and pid != original
    ]
    to_gift = bool(gifts) and chance(d.rng, 0.4)
    refund_to = gifts[0] if to_gift else original
    if k == n and n > 1 and chance(d.rng, 0.5):
        what = pick(d.rng, ("all of its items", "everything"))
    else:
        what = join_words([item_phrase(order, item, with_options=False) for item in returned])
    text = pick(
        d.rng,
        (
            f"From {ref.phrase}, I want to return {what}.",
            f"I'd like to send back {what} from {ref.phrase}.",
        ),
    )
    if k < n:
        text += " I'm keeping the rest."
    if to_gift:
        text += pick(
            d.rng, (" Please put the refund on my gift card.", " I'd like the refund on my gift card.")
        )
    else:
        phrase = method_phrase(who.user["payment_methods"][original])
        text += pick(
            d.rng,
            (
                " The refund should go to the original payment method.",
                f" Please refund {phrase}, which I paid with.",
            ),
        )
    ids = sorted(item["item_id"] for item in returned)
    v = Verifier()
    v.changed([("orders", order_id)])
    v.only_keys_changed(
        "orders", order_id, order, ("status", "return_items", "return_payment_method_id"), "o"
    )
    v.require("o['status'] == 'return requested'")
    v.require(f"list(o.get('return_items', [])) == {ids!r}")
    v.require(f"o.get('return_payment_method_id') == {refund_to!r}")
    if k == n:
        pick_ids = "ids = [i['item_id'] for i in order['items']]\n"
    else:
        condition = " or ".join(f"({item_match(order, item)})" for item in returned)
        pick_ids = f"ids = [i['item_id'] for i in order['items'] if {condition}]\n"
    refund_line = (
        find_method("refund_to", who.user["payment_methods"][refund_to])
        if to_gift
        else "refund_to = order['payment_history'][0]['payment_method_id']\n"
    )
    solution = (
        f"{opening(who)}{ref.find}{pick_ids}{refund_line}"
        "result = return_delivered_order_items(order_id=oid, item_ids=ids, payment_method_id=refund_to)\n"
        "print('Return requested for', len(ids), 'item(s) of', oid, '- status:', result['status'], "
        "'- you will get an email with instructions.')\n"
    )

    def returning(label: str, item_ids: Sequence[str], method: str, target: str = order_id) -> str:
        call = _return_call(target, item_ids, method)
        return direct_miss(label, who, call, says="Return requested.")

    must = [
        returning("passes product ids instead of item ids", [i["product_id"] for i in returned], refund_to)
    ]
    optional = [claim(who)]
    all_ids = [item["item_id"] for item in items]
    if k < n:
        must.append(returning("returns every item of the order", all_ids, refund_to))
    if 1 < k < n:
        must.append(returning("returns only one of the items", ids[:1], refund_to))
    if k == n and n > 1:
        must.append(returning("leaves one item out", all_ids[:-1], refund_to))
    if gifts:
        must.append(returning("refunds to the wrong payment method", ids, original if to_gift else gifts[0]))
    others = d.index.others(order)
    if others:
        other = record(d.world, "orders", pick(d.rng, others))
        optional.append(
            returning(
                "returns from another delivered order",
                [other["items"][0]["item_id"]],
                paid_with(other),
                other["order_id"],
            )
        )
    return write_task(d, who, text, v, solution, must, optional)


@drawn_from(lambda d: d.index.with_status("delivered"))
def make_exchange(d: Draw, order_id: str) -> CodeAsTask | None:
    """Exchange one or two delivered items for variants differing in one stated option."""
    swap = draw_swap(d, order_id, EXCHANGE)
    if swap is None:
        return None
    text = pick(
        d.rng,
        (
            f"From {swap.ref.phrase}, I'd like to exchange {swap.wanted}.",
            f"In {swap.ref.phrase}, I want to exchange {swap.wanted}.",
        ),
    )
    if len(swap.changes) > 1:
        text += " Please request both exchanges together."
    text += f" Use {method_phrase(swap.method)} for any price difference."
    v = Verifier()
    v.changed([("orders", order_id)])
    fields = (
        "status",
        "exchange_items",
        "exchange_new_items",
        "exchange_payment_method_id",
        "exchange_price_difference",
    )
    v.only_keys_changed("orders", order_id, swap.order, fields, "o")
    v.require("o['status'] == 'exchange requested'")
    v.require(f"list(o.get('exchange_items', [])) == {sorted(swap.old_ids)!r}")
    v.require(f"list(o.get('exchange_new_items', [])) == {sorted(swap.new_ids)!r}")
    v.require(f"o.get('exchange_payment_method_id') == {swap.method_id!r}")
    v.require(f"abs(o.get('exchange_price_difference', 1000000.0) - {swap.diff!r}) < 0.005")
    solution = swap.solution(
        "print('Exchange requested for', oid, '- price difference:', result['exchange_price_difference'])\n"
    )
    returning = _return_call(order_id, swap.old_ids, paid_with(swap.order))
    wrong_variant, wrong_method, singles = swap_misses(d, swap, "requests the exchanges one at a time")
    instead = direct_miss("returns the items instead of exchanging them", swap.who, returning)
    must = [c for c in (wrong_variant, instead, wrong_method, singles) if c is not None]
    optional = [
        claim(swap.who),
        direct_miss("uses the pending-order tool on a delivered order", swap.who, swap.call(tool=MODIFY)),
    ]
    return write_task(d, swap.who, text, v, solution, must, optional)


def _return_call(order_id: str, item_ids: Sequence[str], method_id: str) -> str:
    """A call asking to return items of a delivered order, with literal arguments.

    Args:
        order_id: The order.
        item_ids: The items.
        method_id: The payment method the refund goes to.

    Returns:
        The call, without a newline.
    """
    return (
        f"return_delivered_order_items(order_id={order_id!r}, item_ids={list(item_ids)!r}, "
        f"payment_method_id={method_id!r})"
    )
