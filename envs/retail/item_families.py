"""Retail task families that act on items: modify a pending order's items, return or exchange delivered ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

from .family_code import Verifier, build_task, choose_failures, claim, near_miss
from .family_words import (
    find_method,
    identify,
    item_match,
    item_phrase,
    join_words,
    method_phrase,
    opening,
    options_phrase,
    refer_order,
)
from .family_world import (
    Record,
    chance,
    distinct_items,
    first_found,
    index,
    one_option_away,
    paid_with,
    pick,
    record,
    shuffled,
)

Spec = Mapping[str, Any]
Change = tuple[int, Record, str, Record]
"""One item swap: the item's position in the order, the item, the option that changes and the new variant."""


def _changes(rng: np.random.Generator, world: World, order: Record) -> list[Change] | None:
    """One or two items of the order, each with an available variant differing in exactly one option."""
    swappable: list[tuple[int, Record, list[tuple[str, Record]]]] = []
    for j, item in enumerate(order["items"]):
        alternatives = one_option_away(record(world, "products", item["product_id"]), item["options"])
        if alternatives:
            swappable.append((j, item, alternatives))
    if not swappable:
        return None
    k = 2 if len(swappable) > 1 and chance(rng, 0.3) else 1
    chosen = sorted(shuffled(rng, swappable)[:k], key=lambda entry: entry[0])
    changes: list[Change] = []
    for j, item, alternatives in chosen:
        dim, variant = pick(rng, alternatives)
        changes.append((j, item, dim, variant))
    return changes


def _price_difference(changes: Sequence[Change]) -> float:
    # Summed in the order the tools sum it (the items' order in the call), so the float is the tool's own.
    diff: float = 0
    for _, item, _, variant in changes:
        diff += variant["price"] - item["price"]
    return diff


def _change_text(rng: np.random.Generator, order: Record, change: Change, *, exchange: bool) -> str:
    _, item, dim, variant = change
    old = item_phrase(order, item, with_options=True)
    value = variant["options"][dim]
    if exchange:
        return pick(
            rng,
            (
                f"{old} for the one with {dim}: {value}, everything else the same",
                f"{old} for the {options_phrase(variant['options'])} version",
            ),
        )
    return pick(
        rng,
        (
            f"{old} changed to {dim}: {value}, with everything else about it the same",
            f"{old} swapped for the one with {dim}: {value} (so {options_phrase(variant['options'])})",
        ),
    )


def _swap_code(order: Record, changes: Sequence[Change]) -> str:
    """Code (after the order is found) binding ``old_ids``/``new_ids`` from the wanted options."""
    lines = ["old_ids = []", "new_ids = []", "for i in order['items']:", "    change = None"]
    for n, (_, item, dim, variant) in enumerate(changes):
        lines += [
            f"    {'if' if n == 0 else 'elif'} {item_match(order, item)}:",
            f"        change = [{dim!r}, {variant['options'][dim]!r}]",
        ]
    lines += [
        "    if change is not None:",
        "        product = get_product_details(product_id=i['product_id'])",
        "        want = dict(i['options'])",
        "        want[change[0]] = change[1]",
        "        new = [v for v in product['variants'].values() if v['options'] == want and v['available']][0]",
        "        old_ids.append(i['item_id'])",
        "        new_ids.append(new['item_id'])",
    ]
    return "\n".join(lines) + "\n"


def _wrong_variant(rng: np.random.Generator, world: World, changes: Sequence[Change]) -> list[str] | None:
    """New item ids with the first swap going to another available variant of the product."""
    _, item, _, variant = changes[0]
    product = record(world, "products", item["product_id"])
    close = [v for _, v in one_option_away(product, item["options"]) if v["item_id"] != variant["item_id"]]
    others = [
        v
        for v in product["variants"].values()
        if v["available"] and v["item_id"] not in (item["item_id"], variant["item_id"])
    ]
    if not close and not others:
        return None
    wrong = pick(rng, close or others)
    return [wrong["item_id"], *(c[3]["item_id"] for c in changes[1:])]


def _usable_methods(user: Record, diff: float) -> list[str]:
    return [
        pid
        for pid, m in user["payment_methods"].items()
        if m["source"] != "gift_card" or m["balance"] >= diff
    ]


def make_modify_items(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Swap one or two items of a pending order for variants differing in one stated option.

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
        changes = _changes(rng, world, order) if distinct_items(order) else None
        if changes is None:
            return None
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        diff = _price_difference(changes)
        method_id = pick(rng, _usable_methods(who.user, diff) or [""])
        if not method_id:
            return None
        method = who.user["payment_methods"][method_id]
        ref = refer_order(rng, world, who, order_id)
        wanted = join_words([_change_text(rng, order, c, exchange=False) for c in changes])
        text = f"In {ref.phrase}, I'd like {wanted}."
        if len(changes) > 1:
            text += " Please make both changes together."
        text += pick(
            rng,
            (
                f" Use {method_phrase(method)} for any price difference.",
                f" Please use {method_phrase(method)} to settle the difference.",
            ),
        )
        expected = [dict(i) for i in order["items"]]
        for j, item, _, variant in changes:
            expected[j] = {
                **item,
                "item_id": variant["item_id"],
                "price": variant["price"],
                "options": dict(variant["options"]),
            }
        gift = method["source"] == "gift_card"
        v = Verifier()
        v.changed([("orders", order_id), *([("users", user_id)] if gift else [])])
        v.only_keys_changed("orders", order_id, order, ("items", "status", "payment_history"), "o")
        v.require("o['status'] == 'pending (item modified)'")
        v.require(f"list(o['items']) == {expected!r}")
        v.line("history = list(o['payment_history'])")
        v.require(
            "len(history) == len(o0['payment_history']) + 1 and history[:-1] == list(o0['payment_history'])"
        )
        kind = "payment" if diff > 0 else "refund"
        v.require(
            f"history[-1]['transaction_type'] == {kind!r} and history[-1]['payment_method_id'] == {method_id!r} "
            f"and abs(history[-1]['amount'] - {abs(diff)!r}) < 0.005"
        )
        if gift:
            v.balances(user_id, who.user, {method_id: round(method["balance"] - diff, 2)})
        call = "modify_pending_order_items(order_id=oid, item_ids=old_ids, new_item_ids=new_ids, payment_method_id=pm)"
        solution = (
            f"{opening(who)}{ref.find}{_swap_code(order, changes)}{find_method('pm', method)}result = {call}\n"
            "print('Order', oid, 'is updated:', new_ids, '- status:', result['status'])\n"
        )
        old_ids = [c[1]["item_id"] for c in changes]
        new_ids = [c[3]["item_id"] for c in changes]
        must = [
            near_miss(
                "uses the exchange tool on a pending order",
                f"{who.lookup}\nexchange_delivered_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                f"new_item_ids={new_ids!r}, payment_method_id={method_id!r})\nprint('Done.')\n",
            )
        ]
        wrong = _wrong_variant(rng, world, changes)
        if wrong is not None:
            must.insert(
                0,
                near_miss(
                    "picks the wrong variant",
                    f"{who.lookup}\nmodify_pending_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                    f"new_item_ids={wrong!r}, payment_method_id={method_id!r})\nprint('Done.')\n",
                ),
            )
        optional = [claim(who)]
        other_methods = [pid for pid in who.user["payment_methods"] if pid != method_id]
        if other_methods:
            optional.append(
                near_miss(
                    "settles the difference with the wrong payment method",
                    f"{who.lookup}\nmodify_pending_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                    f"new_item_ids={new_ids!r}, payment_method_id={pick(rng, other_methods)!r})\nprint('Done.')\n",
                )
            )
        if len(changes) > 1:
            calls = "".join(
                f"modify_pending_order_items(order_id={order_id!r}, item_ids=[{a!r}], new_item_ids=[{b!r}], "
                f"payment_method_id={method_id!r})\n"
                for a, b in zip(old_ids, new_ids, strict=True)
            )
            must.append(
                near_miss("changes the items one call at a time", f"{who.lookup}\n{calls}print('Done.')\n")
            )
        else:
            extra = _extra_swap(world, order, changes)
            if extra is not None:
                optional.append(
                    near_miss(
                        "also changes another item",
                        f"{who.lookup}\nmodify_pending_order_items(order_id={order_id!r}, "
                        f"item_ids={[*old_ids, extra[0]]!r}, new_item_ids={[*new_ids, extra[1]]!r}, "
                        f"payment_method_id={method_id!r})\nprint('Done.')\n",
                    )
                )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, ix.orders.get("pending", ()), build)


def _extra_swap(world: World, order: Record, changes: Sequence[Change]) -> tuple[str, str] | None:
    """Another item of the order with an available alternative: an unwanted extra change."""
    taken = {c[0] for c in changes}
    for j, item in enumerate(order["items"]):
        if j in taken:
            continue
        alternatives = one_option_away(record(world, "products", item["product_id"]), item["options"])
        if alternatives:
            return item["item_id"], alternatives[0][1]["item_id"]
    return None


def make_return(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Return some items of a delivered order, refunded to the original payment method or to a gift card.

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
        if not distinct_items(order):
            return None
        items = order["items"]
        n = len(items)
        k = n if n == 1 or chance(rng, 0.25) else int(rng.integers(1, n))
        chosen = sorted(rng.permutation(n)[:k].tolist())
        returned = [items[j] for j in chosen]
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        ref = refer_order(rng, world, who, order_id)
        original = paid_with(order)
        gifts = [
            pid
            for pid, m in who.user["payment_methods"].items()
            if m["source"] == "gift_card" and pid != original
        ]
        to_gift = bool(gifts) and chance(rng, 0.4)
        refund_to = gifts[0] if to_gift else original
        if k == n and n > 1 and chance(rng, 0.5):
            what = pick(rng, ("all of its items", "everything"))
        else:
            what = join_words([item_phrase(order, item, with_options=False) for item in returned])
        text = pick(
            rng,
            (
                f"From {ref.phrase}, I want to return {what}.",
                f"I'd like to send back {what} from {ref.phrase}.",
            ),
        )
        if k < n:
            text += " I'm keeping the rest."
        if to_gift:
            text += pick(
                rng, (" Please put the refund on my gift card.", " I'd like the refund on my gift card.")
            )
        else:
            phrase = method_phrase(who.user["payment_methods"][original])
            text += pick(
                rng,
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
            return near_miss(
                label,
                f"{who.lookup}\nreturn_delivered_order_items(order_id={target!r}, item_ids={list(item_ids)!r}, "
                f"payment_method_id={method!r})\nprint('Return requested.')\n",
            )

        must = [
            returning(
                "passes product ids instead of item ids", [i["product_id"] for i in returned], refund_to
            )
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
            must.append(
                returning("refunds to the wrong payment method", ids, original if to_gift else gifts[0])
            )
        others = [o for o in ix.of_user(user_id, "delivered") if o != order_id]
        if others:
            other = record(world, "orders", pick(rng, others))
            optional.append(
                returning(
                    "returns from another delivered order",
                    [other["items"][0]["item_id"]],
                    paid_with(other),
                    other["order_id"],
                )
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, ix.orders.get("delivered", ()), build)


def make_exchange(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Exchange one or two delivered items for variants differing in one stated option.

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
        changes = _changes(rng, world, order) if distinct_items(order) else None
        if changes is None:
            return None
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        diff = round(_price_difference(changes), 2)
        method_id = pick(rng, _usable_methods(who.user, diff) or [""])
        if not method_id:
            return None
        method = who.user["payment_methods"][method_id]
        ref = refer_order(rng, world, who, order_id)
        wanted = join_words([_change_text(rng, order, c, exchange=True) for c in changes])
        text = pick(
            rng,
            (
                f"From {ref.phrase}, I'd like to exchange {wanted}.",
                f"In {ref.phrase}, I want to exchange {wanted}.",
            ),
        )
        if len(changes) > 1:
            text += " Please request both exchanges together."
        text += f" Use {method_phrase(method)} for any price difference."
        old_ids = [c[1]["item_id"] for c in changes]
        new_ids = [c[3]["item_id"] for c in changes]
        v = Verifier()
        v.changed([("orders", order_id)])
        fields = (
            "status",
            "exchange_items",
            "exchange_new_items",
            "exchange_payment_method_id",
            "exchange_price_difference",
        )
        v.only_keys_changed("orders", order_id, order, fields, "o")
        v.require("o['status'] == 'exchange requested'")
        v.require(f"list(o.get('exchange_items', [])) == {sorted(old_ids)!r}")
        v.require(f"list(o.get('exchange_new_items', [])) == {sorted(new_ids)!r}")
        v.require(f"o.get('exchange_payment_method_id') == {method_id!r}")
        v.require(f"abs(o.get('exchange_price_difference', 1000000.0) - {diff!r}) < 0.005")
        call = "exchange_delivered_order_items(order_id=oid, item_ids=old_ids, new_item_ids=new_ids, payment_method_id=pm)"
        solution = (
            f"{opening(who)}{ref.find}{_swap_code(order, changes)}{find_method('pm', method)}result = {call}\n"
            "print('Exchange requested for', oid, '- price difference:', result['exchange_price_difference'])\n"
        )
        must = [
            near_miss(
                "returns the items instead of exchanging them",
                f"{who.lookup}\nreturn_delivered_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                f"payment_method_id={paid_with(order)!r})\nprint('Done.')\n",
            )
        ]
        wrong = _wrong_variant(rng, world, changes)
        if wrong is not None:
            must.insert(
                0,
                near_miss(
                    "picks the wrong variant",
                    f"{who.lookup}\nexchange_delivered_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                    f"new_item_ids={wrong!r}, payment_method_id={method_id!r})\nprint('Done.')\n",
                ),
            )
        optional = [
            claim(who),
            near_miss(
                "uses the pending-order tool on a delivered order",
                f"{who.lookup}\nmodify_pending_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                f"new_item_ids={new_ids!r}, payment_method_id={method_id!r})\nprint('Done.')\n",
            ),
        ]
        other_methods = [pid for pid in who.user["payment_methods"] if pid != method_id]
        if other_methods:
            must.append(
                near_miss(
                    "settles the difference with the wrong payment method",
                    f"{who.lookup}\nexchange_delivered_order_items(order_id={order_id!r}, item_ids={old_ids!r}, "
                    f"new_item_ids={new_ids!r}, payment_method_id={pick(rng, other_methods)!r})\nprint('Done.')\n",
                )
            )
        if len(changes) > 1:
            calls = "".join(
                f"exchange_delivered_order_items(order_id={order_id!r}, item_ids=[{a!r}], new_item_ids=[{b!r}], "
                f"payment_method_id={method_id!r})\n"
                for a, b in zip(old_ids, new_ids, strict=True)
            )
            must.append(
                near_miss("requests the exchanges one at a time", f"{who.lookup}\n{calls}print('Done.')\n")
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, ix.orders.get("delivered", ()), build)
