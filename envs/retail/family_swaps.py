"""Swapping an order's items for other variants, as the modify and exchange families ask for it.

A swap changes one or two items of an order, each to an available variant of its product that differs in exactly
one option, which the user names ("the hoodie (size: M, …) changed to size: L"). :func:`draw_swap` draws the
items, the new variants and the payment method for the price difference; :class:`Swap` writes the solution and
the literal tool calls of the near misses both families share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toolgym.world import World

from .family_code import direct_miss
from .family_words import (
    OrderRef,
    Who,
    find_method,
    identify,
    item_match,
    item_phrase,
    join_words,
    opening,
    options_phrase,
    refer_order,
)
from .family_world import (
    Draw,
    Record,
    chance,
    covers,
    distinct_items,
    one_option_away,
    pick,
    record,
    shuffled,
)

MODIFY = "modify_pending_order_items"
EXCHANGE = "exchange_delivered_order_items"

Change = tuple[int, Record, str, Record]
"""One item swap: the item's position in the order, the item, the option that changes and the new variant."""


@dataclass(frozen=True)
class Swap:
    """A drawn request to swap items of an order, with the tool that makes it.

    Attributes:
        tool: :data:`MODIFY` (a pending order) or :data:`EXCHANGE` (a delivered one).
        order: The order.
        changes: The swaps, in the order's item order.
        who: The user.
        ref: How the user points at the order.
        diff: The price difference, as the tool computes it.
        method_id: The payment method that pays or receives the difference.
        wanted: The swaps in the user's words.
    """

    tool: str
    order: Record
    changes: Sequence[Change]
    who: Who
    ref: OrderRef
    diff: float
    method_id: str
    wanted: str

    @property
    def method(self) -> Record:
        """The payment method's record."""
        method: Record = self.who.user["payment_methods"][self.method_id]
        return method

    @property
    def old_ids(self) -> list[str]:
        """The swapped items' ids."""
        return [c[1]["item_id"] for c in self.changes]

    @property
    def new_ids(self) -> list[str]:
        """The new variants' ids, in the same order."""
        return [c[3]["item_id"] for c in self.changes]

    def solution(self, report: str) -> str:
        """The example solution: find the order and the new variants from the wanted options, then swap.

        Args:
            report: The line printing what was done (``result`` holds the tool's answer).

        Returns:
            The code.
        """
        call = f"{self.tool}(order_id=oid, item_ids=old_ids, new_item_ids=new_ids, payment_method_id=pm)"
        found = f"{opening(self.who)}{self.ref.find}{_swap_code(self.order, self.changes)}"
        return f"{found}{find_method('pm', self.method)}result = {call}\n{report}"

    def call(
        self,
        *,
        tool: str | None = None,
        item_ids: Sequence[str] | None = None,
        new_item_ids: Sequence[str] | None = None,
        method_id: str | None = None,
    ) -> str:
        """A call making this swap with literal arguments, or a near miss of it with some of them replaced.

        Args:
            tool: Another tool.
            item_ids: Other items.
            new_item_ids: Other new variants.
            method_id: Another payment method.

        Returns:
            The call, without a newline.
        """
        items = self.old_ids if item_ids is None else list(item_ids)
        new = self.new_ids if new_item_ids is None else list(new_item_ids)
        return (
            f"{tool or self.tool}(order_id={self.order['order_id']!r}, item_ids={items!r}, new_item_ids={new!r}, "
            f"payment_method_id={method_id or self.method_id!r})"
        )


def draw_swap(draw: Draw, order_id: str, tool: str) -> Swap | None:
    """Draw a swap of one or two items of an order, and a payment method of the user that can settle it.

    Args:
        draw: The request.
        order_id: The order.
        tool: :data:`MODIFY` or :data:`EXCHANGE`.

    Returns:
        The swap, or ``None`` when the order has no item to swap or the user no method that can pay.
    """
    order = record(draw.world, "orders", order_id)
    changes = _changes(draw.rng, draw.world, order) if distinct_items(order) else None
    if changes is None:
        return None
    who = identify(draw.rng, draw.world, order["user_id"])
    diff = _price_difference(changes)
    if tool == EXCHANGE:
        # The exchange tool records the difference in cents; the modify tool charges the sum as it adds it up.
        diff = round(diff, 2)
    usable = [pid for pid, m in who.user["payment_methods"].items() if covers(m, diff)]
    method_id = pick(draw.rng, usable or [""])
    if not method_id:
        return None
    ref = refer_order(draw.rng, draw.world, who, order_id)
    wanted = join_words([_change_text(draw.rng, order, c, exchange=tool == EXCHANGE) for c in changes])
    return Swap(tool, order, changes, who, ref, diff, method_id, wanted)


def swap_misses(draw: Draw, swap: Swap, one_by_one: str) -> tuple[str | None, str | None, str | None]:
    """The near misses both swap families write with their own tool.

    Args:
        draw: The request.
        swap: The swap.
        one_by_one: What making the swaps one call at a time is called in this family.

    Returns:
        Failure cases that swap to the wrong variant, settle with the wrong payment method, and make the swaps
        one call at a time, each ``None`` where it cannot be written (a single swap has no one-by-one case).
    """
    who = swap.who
    wrong = _wrong_variant(draw.rng, draw.world, swap.changes)
    wrong_variant = None
    if wrong is not None:
        wrong_variant = direct_miss("picks the wrong variant", who, swap.call(new_item_ids=wrong))
    other_methods = [pid for pid in who.user["payment_methods"] if pid != swap.method_id]
    wrong_method = None
    if other_methods:
        label = "settles the difference with the wrong payment method"
        wrong_method = direct_miss(label, who, swap.call(method_id=pick(draw.rng, other_methods)))
    singles = None
    if len(swap.changes) > 1:
        calls = [
            swap.call(item_ids=[a], new_item_ids=[b]) for a, b in zip(swap.old_ids, swap.new_ids, strict=True)
        ]
        singles = direct_miss(one_by_one, who, *calls)
    return wrong_variant, wrong_method, singles


def extra_swap(world: World, swap: Swap) -> tuple[str, str] | None:
    """Another item of the order with an available alternative: an unwanted extra change.

    Args:
        world: The world.
        swap: The swap.

    Returns:
        The item's id and its alternative's, or ``None`` when no other item has one.
    """
    taken = {c[0] for c in swap.changes}
    for j, item in enumerate(swap.order["items"]):
        if j in taken:
            continue
        alternatives = one_option_away(record(world, "products", item["product_id"]), item["options"])
        if alternatives:
            return item["item_id"], alternatives[0][1]["item_id"]
    return None


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
