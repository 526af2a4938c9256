"""The world side of the retail task families: drawing cases with an rng, and reading the world's tables.

Families only read the shared world. :func:`index` lists users, products and orders by status once per loaded
world, so a family can draw a fitting case without scanning every table on each request. A family is written as a
build step, which makes a task from one candidate (an order, a user or a product) or finds that it does not fit,
and :func:`drawn_from` turns it into the family's maker, which tries random candidates until one fits.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

Record = dict[str, Any]
Spec = Mapping[str, Any]
T = TypeVar("T")

Maker = Callable[[World, Spec, np.random.Generator], CodeAsTask | None]
"""A family's ``make`` (see :class:`~toolgym.tasks.scripted.TaskFamily`): a task drawn from a world, or ``None``."""

TRIES = 40
"""Cases a family draws before it gives up on a world."""
INDEX_CACHE_SIZE = 16
STATUSES = ("pending", "processed", "delivered", "cancelled")
"""The order statuses, in the order families list a user's orders by status."""

_INDEXES: OrderedDict[str, WorldIndex] = OrderedDict()


# --- drawing -------------------------------------------------------------------------------------------------------


def pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    """One element, drawn uniformly.

    Args:
        rng: The generator.
        items: A non-empty sequence.

    Returns:
        The element.
    """
    return items[int(rng.integers(len(items)))]


def chance(rng: np.random.Generator, p: float) -> bool:
    """Whether an event of probability ``p`` happens.

    Args:
        rng: The generator.
        p: The probability.

    Returns:
        True with probability ``p``.
    """
    return bool(rng.random() < p)


def shuffled(rng: np.random.Generator, items: Sequence[T]) -> list[T]:
    """A random permutation of a sequence.

    Args:
        rng: The generator.
        items: The sequence.

    Returns:
        A new list.
    """
    return [items[i] for i in rng.permutation(len(items)).tolist()]


def first_found(
    rng: np.random.Generator, candidates: Sequence[T], build: Callable[[T], CodeAsTask | None]
) -> CodeAsTask | None:
    """Try up to :data:`TRIES` random candidates and return the first task one of them gives.

    Args:
        rng: The generator.
        candidates: What the family may build a task from (orders, users, …).
        build: Builds a task from a candidate, or returns ``None`` when the candidate does not fit.

    Returns:
        A task, or ``None`` when no candidate tried fits.
    """
    if not candidates:
        return None
    for _ in range(TRIES):
        task = build(pick(rng, candidates))
        if task is not None:
            return task
    return None


# --- the world -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldIndex:
    """What families look up often, computed once per loaded world.

    Attributes:
        users: User ids, in table order.
        products: Product ids, in table order.
        orders: Order ids by status, in table order.
        user_orders: Each user's order ids by status.
    """

    users: tuple[str, ...]
    products: tuple[str, ...]
    orders: Mapping[str, tuple[str, ...]]
    user_orders: Mapping[str, Mapping[str, tuple[str, ...]]]

    def with_status(self, *statuses: str) -> tuple[str, ...]:
        """The orders with any of these statuses.

        Args:
            statuses: The statuses.

        Returns:
            Order ids, status by status, each in table order.
        """
        return tuple(o for status in statuses for o in self.orders.get(status, ()))

    def of_user(self, user_id: str, *statuses: str) -> tuple[str, ...]:
        """A user's orders with any of these statuses.

        Args:
            user_id: The user.
            statuses: The statuses.

        Returns:
            Order ids, status by status, each in the user's order.
        """
        mine = self.user_orders.get(user_id, {})
        return tuple(o for status in statuses for o in mine.get(status, ()))

    def others(self, order: Record) -> tuple[str, ...]:
        """The other orders of an order's user that have its status (what a near-miss may act on by mistake).

        Args:
            order: The order.

        Returns:
            Order ids, in the user's order.
        """
        return tuple(o for o in self.of_user(order["user_id"], order["status"]) if o != order["order_id"])


def index(world: World) -> WorldIndex:
    """The index of a world (cached for unmodified shared worlds).

    Args:
        world: The world.

    Returns:
        Its index.
    """
    token = world.base_token if not world.changed else None
    if token is not None and token in _INDEXES:
        _INDEXES.move_to_end(token)
        return _INDEXES[token]
    by_status: dict[str, list[str]] = {}
    per_user: dict[str, dict[str, list[str]]] = {}
    users: list[str] = []
    for user_id, user in world.table("users"):
        users.append(user_id)
        mine = per_user.setdefault(user_id, {})
        for order_id in user["orders"]:
            order = world.get("orders", order_id)
            if order is not None:
                mine.setdefault(order["status"], []).append(order_id)
    for order_id, order in world.table("orders"):
        by_status.setdefault(order["status"], []).append(order_id)
    built = WorldIndex(
        tuple(users),
        tuple(key for key, _ in world.table("products")),
        {k: tuple(v) for k, v in by_status.items()},
        {u: {k: tuple(v) for k, v in s.items()} for u, s in per_user.items()},
    )
    if token is not None:
        _INDEXES[token] = built
        if len(_INDEXES) > INDEX_CACHE_SIZE:
            _INDEXES.popitem(last=False)
    return built


def record(world: World, table: str, key: str) -> Record:
    """A record that must exist.

    Args:
        world: The world.
        table: The table.
        key: The key.

    Returns:
        The record (read-only).

    Raises:
        KeyError: If it does not exist.
    """
    found = world.get(table, key)
    if found is None:
        raise KeyError(f"no {table} record {key!r}")
    return found


def paid_with(order: Record) -> str:
    """The payment method that paid an order first.

    Args:
        order: The order.

    Returns:
        The payment method id.
    """
    method: str = order["payment_history"][0]["payment_method_id"]
    return method


def amount(order: Record) -> float:
    """What an order was charged.

    Args:
        order: The order.

    Returns:
        The first payment's amount.
    """
    value: float = order["payment_history"][0]["amount"]
    return value


def covers(method: Record, price: float) -> bool:
    """Whether a payment method can pay an amount: any but a gift card can, a gift card up to its balance.

    Args:
        method: The payment method.
        price: The amount.

    Returns:
        True when the tools would accept the method for that amount.
    """
    return bool(method["source"] != "gift_card" or method["balance"] >= price)


def distinct_items(order: Record) -> bool:
    """Whether no item id repeats in an order (item-level families avoid the rare repeats).

    Args:
        order: The order.

    Returns:
        True when every item id occurs once.
    """
    ids = [item["item_id"] for item in order["items"]]
    return len(ids) == len(set(ids))


def one_option_away(product: Record, options: Mapping[str, str]) -> list[tuple[str, Record]]:
    """The available variants differing from ``options`` in exactly one option, with that option's name.

    Args:
        product: The product.
        options: The current options.

    Returns:
        ``(dimension, variant)`` pairs, in the product's variant order.
    """
    found: list[tuple[str, Record]] = []
    for variant in product["variants"].values():
        if not variant["available"]:
            continue
        differing = [dim for dim, value in variant["options"].items() if options.get(dim) != value]
        if len(differing) == 1:
            found.append((differing[0], variant))
    return found


# --- families ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """One request to a family: the world a task is drawn from, and what the family draws it with.

    Attributes:
        world: The shared world (read-only).
        spec: The spec the world was built from; the task carries it.
        rng: The generator, the family's only source of randomness.
        index: The world's index.
    """

    world: World
    spec: Spec
    rng: np.random.Generator
    index: WorldIndex


Candidates = Callable[[Draw], Sequence[str]]
"""Lists what a family builds its tasks from (order, user or product ids), in a fixed order."""
Build = Callable[[Draw, str], CodeAsTask | None]
"""A family's build step: a task made from one candidate, or ``None`` when the candidate does not fit."""


def drawn_from(candidates: Candidates) -> Callable[[Build], Maker]:
    """Turn a family's build step into its maker, which tries random candidates (see :func:`first_found`).

    The build step's own docstring describes the family; the maker keeps it.

    Args:
        candidates: What the family builds its tasks from.

    Returns:
        A decorator for the build step.
    """

    def decorate(build: Build) -> Maker:
        @functools.wraps(build)
        def make(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
            draw = Draw(world, spec, rng, index(world))
            return first_found(rng, candidates(draw), lambda key: build(draw, key))

        return make

    return decorate
