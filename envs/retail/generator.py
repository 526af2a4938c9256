"""Seeded generator of retail worlds in τ-bench's exact data schema.

:func:`generate_world` returns the three tables of τ-bench's retail domain (``users``, ``products``,
``orders``) with the same record shapes, id formats and, at the default size, the same marginal distributions
(statuses, payment-method mix, items per order, availability, …). Only the words differ: they come from
:mod:`toolgym.envs.retail.vocabulary`. The output is plain JSON data, so the same seed gives byte-identical
``json.dumps(world, sort_keys=True)``.

Two quirks of τ-bench's data are mirrored on purpose because tasks and tools depend on them: cancelled
orders keep their fulfillment and have no ``cancel_reason`` (τ-bench's initial data never has one; only the
cancel tool writes it), and a gift card's ``balance`` is what is left on it now, so it may be less than the
past orders it paid for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .vocabulary import (
    ADDRESS2_FORMATS,
    CARD_BRANDS,
    CITIES,
    EMAIL_DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    PRODUCT_TYPES,
    STREET_NAMES,
    STREET_NUMBER_RANGE,
    STREET_SUFFIXES,
    ProductType,
)

Record = dict[str, Any]
World = dict[str, dict[str, Record]]

STATUS_SHARES: tuple[tuple[str, float], ...] = (
    ("pending", 0.423),
    ("delivered", 0.373),
    ("processed", 0.102),
    ("cancelled", 0.102),
)
"""Initial order statuses and their shares in τ-bench (423/373/102/102 of 1,000)."""

PAYMENT_METHOD_COUNT_PROBS: tuple[float, ...] = (0.674, 0.272, 0.044, 0.010)
"""Probability that a user has 1, 2, 3 or 4 payment methods (τ-bench: 337/136/22/5 of 500)."""

PAYMENT_KIND_MIXES: dict[int, tuple[tuple[tuple[str, ...], float], ...]] = {
    # A user never holds two gift cards or two PayPal accounts in τ-bench, but may hold two credit cards.
    1: ((("gift_card",), 127), (("paypal",), 114), (("credit_card",), 96)),
    2: (
        (("gift_card", "paypal"), 43),
        (("credit_card", "gift_card"), 42),
        (("credit_card", "paypal"), 40),
        (("credit_card", "credit_card"), 11),
    ),
    3: (
        (("credit_card", "gift_card", "paypal"), 15),
        (("credit_card", "credit_card", "paypal"), 5),
        (("credit_card", "credit_card", "gift_card"), 2),
    ),
    4: ((("credit_card", "credit_card", "gift_card", "paypal"), 1),),
}
"""For each number of payment methods, the kinds a user holds, with τ-bench's counts as weights."""

VARIANTS_PER_PRODUCT: tuple[int, int] = (5, 20)
VARIANT_COUNT_TILT = 0.4
"""Fewer large products than small ones: the mean lands near τ-bench's 591 variants over 50 products."""

AVAILABILITY_BETA: tuple[float, float] = (8.0, 4.5)
"""Per-product share of available variants ~ Beta(8, 4.5): mean 0.64 like τ-bench, varying across products."""

MIN_AVAILABLE = 2
"""Every product keeps at least this many available variants, so exchanges and modifications stay possible."""

PRICE_SPREAD = 0.1
"""Variant prices lie within ±10% of their product's base price (τ-bench: within about ±12%)."""

ITEMS_PER_ORDER: tuple[int, int] = (1, 5)
OTHER_ADDRESS_PROB = 0.2
"""Share of orders shipped somewhere other than the user's address (τ-bench: 200 of 1,000)."""

OTHER_ADDRESS_SAME_CITY_PROB = 0.14
"""Of those, the share that stays in the user's city (τ-bench: 28 of 200)."""

DUPLICATE_ITEM_PROB = 0.007
"""Chance that an order of two or more items lists one item twice (τ-bench: 7 of 1,000 orders)."""

MAX_USERS = 1_000_000
MAX_ORDERS = 1_000_000


class _UniqueInts:
    """Draws integers in ``[low, high)`` that were never drawn before from this pool.

    Products and items share one pool so that no product id equals an item id (τ-bench's policy warns agents
    not to confuse the two).
    """

    def __init__(self, rng: np.random.Generator, low: int, high: int) -> None:
        self._rng = rng
        self._low = low
        self._high = high
        # A dict, not a set: membership is all we need, and a dict can never leak iteration order into output.
        self._used: dict[int, None] = {}

    def draw(self, n: int) -> list[int]:
        """Return ``n`` new distinct integers, in draw order."""
        out: list[int] = []
        while len(out) < n:
            need = n - len(out)
            for value in self._rng.integers(self._low, self._high, size=need + need // 8 + 4).tolist():
                if value not in self._used:
                    self._used[value] = None
                    out.append(value)
                    if len(out) == n:
                        break
        return out


def _check_count(name: str, value: object, upper: int) -> int:
    """Return ``value`` if it is an int in ``1..upper``, else raise a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not 1 <= value <= upper:
        raise ValueError(f"{name} must be between 1 and {upper}, got {value}")
    return value


def _pick(rng: np.random.Generator, weights: list[float]) -> int:
    """Return an index drawn with probability proportional to ``weights``."""
    p = np.asarray(weights, dtype=float)
    return int(rng.choice(len(p), p=p / p.sum()))


def _address(rng: np.random.Generator, city_index: int | None = None) -> Record:
    """Return a random US address; in city ``city_index`` of :data:`CITIES` when given."""
    city = CITIES[int(rng.integers(len(CITIES))) if city_index is None else city_index]
    number = int(rng.integers(STREET_NUMBER_RANGE[0], STREET_NUMBER_RANGE[1] + 1))
    street = STREET_NAMES[int(rng.integers(len(STREET_NAMES)))]
    suffix = STREET_SUFFIXES[int(rng.integers(len(STREET_SUFFIXES)))]
    fmt = ADDRESS2_FORMATS[_pick(rng, [f["weight"] for f in ADDRESS2_FORMATS])]
    zip_code = int(rng.integers(city["zip_low"], city["zip_high"] + 1))
    return {
        "address1": f"{number} {street} {suffix}",
        "address2": fmt["template"].format(n=int(rng.integers(fmt["low"], fmt["high"] + 1))),
        "city": city["city"],
        "country": "USA",
        "state": city["state"],
        # Zip codes are strings: New England ones start with 0.
        "zip": f"{zip_code:05d}",
    }


def _variant_count(rng: np.random.Generator, combos: int) -> int:
    """Return a product's number of variants, never more than its distinct option combinations."""
    low, high = VARIANTS_PER_PRODUCT
    span = high - low
    tilt = VARIANT_COUNT_TILT
    weights = [1 + tilt / 2 - tilt * (k - low) / span for k in range(low, high + 1)]
    return min(low + _pick(rng, weights), combos)


def _make_product(rng: np.random.Generator, kind: ProductType, ids: list[int]) -> Record:
    """Return one product of type ``kind``: ``ids[0]`` is its id, the rest are its variants' item ids."""
    dims = list(kind["options"].items())
    sizes = [len(values) for _, values in dims]
    n_variants = len(ids) - 1
    # Distinct option combinations, drawn as mixed-radix numbers, so no two variants look the same.
    codes = rng.choice(math.prod(sizes), size=n_variants, replace=False).tolist()
    share = float(rng.beta(*AVAILABILITY_BETA))
    available = (rng.random(n_variants) < share).tolist()
    if sum(available) < MIN_AVAILABLE:
        for i in rng.permutation(n_variants)[:MIN_AVAILABLE].tolist():
            available[i] = True
    base = float(rng.uniform(*kind["price"]))
    factors = rng.uniform(1 - PRICE_SPREAD, 1 + PRICE_SPREAD, size=n_variants).tolist()
    variants: dict[str, Record] = {}
    for item_id, code, is_available, factor in zip(ids[1:], codes, available, factors, strict=True):
        options: dict[str, str] = {}
        for (dim, values), size in zip(dims, sizes, strict=True):
            code, index = divmod(code, size)
            options[dim] = values[index]
        variants[str(item_id)] = {
            "item_id": str(item_id),
            "options": options,
            "available": bool(is_available),
            "price": round(base * factor, 2),
        }
    return {"name": kind["name"], "product_id": str(ids[0]), "variants": variants}


def _make_products(rng: np.random.Generator, n_products: int, ten_digit: _UniqueInts) -> dict[str, Record]:
    """Return ``n_products`` products of distinct catalog types, keyed by product id."""
    products: dict[str, Record] = {}
    for type_index in rng.permutation(len(PRODUCT_TYPES))[:n_products].tolist():
        kind = PRODUCT_TYPES[type_index]
        combos = math.prod(len(values) for values in kind["options"].values())
        ids = ten_digit.draw(1 + _variant_count(rng, combos))
        product = _make_product(rng, kind, ids)
        products[product["product_id"]] = product
    return products


def _payment_methods(rng: np.random.Generator, method_ids: _UniqueInts) -> dict[str, Record]:
    """Return one user's payment methods keyed by id, in random order like τ-bench's."""
    count = 1 + _pick(rng, list(PAYMENT_METHOD_COUNT_PROBS))
    mixes = PAYMENT_KIND_MIXES[count]
    kinds = mixes[_pick(rng, [weight for _, weight in mixes])][0]
    numbers = method_ids.draw(count)
    methods: dict[str, Record] = {}
    for k in rng.permutation(count).tolist():
        source = kinds[k]
        pm_id = f"{source}_{numbers[k]}"
        if source == "credit_card":
            brand = CARD_BRANDS[_pick(rng, [w for _, w in CARD_BRANDS])][0]
            last_four = f"{int(rng.integers(10_000)):04d}"
            methods[pm_id] = {"source": source, "brand": brand, "last_four": last_four, "id": pm_id}
        elif source == "gift_card":
            # Integer dollars, 0-100, like every τ-bench gift card.
            methods[pm_id] = {"source": source, "balance": int(rng.integers(101)), "id": pm_id}
        else:
            methods[pm_id] = {"source": source, "id": pm_id}
    return methods


def _make_users(rng: np.random.Generator, n_users: int) -> dict[str, Record]:
    """Return ``n_users`` users with no orders yet, keyed by user id."""
    method_ids = _UniqueInts(rng, 1_000_000, 10_000_000)
    users: dict[str, Record] = {}
    # τ-bench's lookup tools find a user by email or by (first name, last name, zip): both must be unique.
    emails: dict[str, None] = {}
    name_zips: dict[tuple[str, str, str], None] = {}
    while len(users) < n_users:
        first = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
        last = LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
        address = _address(rng)
        # The user id's number and the email's number are unrelated in τ-bench.
        user_id = f"{first.lower()}_{last.lower()}_{int(rng.integers(1000, 10_000))}"
        email = f"{first.lower()}.{last.lower()}{int(rng.integers(1000, 10_000))}@{EMAIL_DOMAIN}"
        key = (first, last, address["zip"])
        if user_id in users or email in emails or key in name_zips:
            continue
        emails[email] = None
        name_zips[key] = None
        users[user_id] = {
            "name": {"first_name": first, "last_name": last},
            "address": address,
            "email": email,
            "payment_methods": _payment_methods(rng, method_ids),
            "orders": [],
        }
    return users


def _statuses(rng: np.random.Generator, n_orders: int) -> list[str]:
    """Return the orders' statuses: τ-bench's shares, rounded by largest remainder, in random order.

    Fixed counts rather than independent draws keep small worlds from missing a status by bad luck.
    """
    quotas = [share * n_orders for _, share in STATUS_SHARES]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: n_orders - sum(counts)]:
        counts[i] += 1
    statuses = [name for (name, _), count in zip(STATUS_SHARES, counts, strict=True) for _ in range(count)]
    return [statuses[i] for i in rng.permutation(n_orders).tolist()]


def _order_items(rng: np.random.Generator, catalog: list[tuple[Record, list[Record]]]) -> list[Record]:
    """Return an order's items: 1-5 variants of any products, available or not (they are past purchases)."""
    n_items = int(rng.integers(ITEMS_PER_ORDER[0], ITEMS_PER_ORDER[1] + 1))
    picked: list[tuple[Record, Record]] = []
    chosen: dict[str, None] = {}
    # Products have at least 5 variants with the shipped catalog; the cap only guards a smaller edited one.
    n_distinct = min(n_items, sum(len(variants) for _, variants in catalog))
    while len(picked) < n_distinct:
        product, variants = catalog[int(rng.integers(len(catalog)))]
        variant = variants[int(rng.integers(len(variants)))]
        # Redraw repeats: with a small catalog they would otherwise be far more common than in τ-bench.
        if variant["item_id"] not in chosen:
            chosen[variant["item_id"]] = None
            picked.append((product, variant))
    if len(picked) >= 2 and rng.random() < DUPLICATE_ITEM_PROB:
        picked[-1] = picked[int(rng.integers(len(picked) - 1))]
    return [
        {
            "name": product["name"],
            "product_id": product["product_id"],
            "item_id": variant["item_id"],
            "price": variant["price"],
            "options": dict(variant["options"]),
        }
        for product, variant in picked
    ]


def _make_orders(
    rng: np.random.Generator, n_orders: int, users: dict[str, Record], products: dict[str, Record]
) -> dict[str, Record]:
    """Return ``n_orders`` orders keyed by order id, and list each one in its user's ``orders``."""
    user_ids = list(users)
    city_index = {city["city"]: i for i, city in enumerate(CITIES)}
    catalog = [(product, list(product["variants"].values())) for product in products.values()]
    order_numbers = _UniqueInts(rng, 1_000_000, 10_000_000).draw(n_orders)
    tracking = _UniqueInts(rng, 10**11, 10**12)
    # A uniform owner per order gives τ-bench's near-Poisson orders per user (≈12% of users have none).
    owners = rng.integers(len(user_ids), size=n_orders).tolist()
    orders: dict[str, Record] = {}
    for number, owner, status in zip(order_numbers, owners, _statuses(rng, n_orders), strict=True):
        order_id = f"#W{number}"
        user_id = user_ids[owner]
        user = users[user_id]
        if rng.random() < OTHER_ADDRESS_PROB:
            same_city = rng.random() < OTHER_ADDRESS_SAME_CITY_PROB
            address = _address(rng, city_index[user["address"]["city"]] if same_city else None)
        else:
            address = dict(user["address"])
        items = _order_items(rng, catalog)
        fulfillments: list[Record] = []
        if status != "pending":
            # Cancelled orders keep their shipment record too, as in τ-bench.
            fulfillments.append(
                {"tracking_id": [str(tracking.draw(1)[0])], "item_ids": [item["item_id"] for item in items]}
            )
        method_ids = list(user["payment_methods"])
        method_id = method_ids[int(rng.integers(len(method_ids)))]
        amount = round(sum(item["price"] for item in items), 2)
        history = [{"transaction_type": "payment", "amount": amount, "payment_method_id": method_id}]
        if status == "cancelled":
            history.append({"transaction_type": "refund", "amount": amount, "payment_method_id": method_id})
        orders[order_id] = {
            "order_id": order_id,
            "user_id": user_id,
            "address": address,
            "items": items,
            "fulfillments": fulfillments,
            "status": status,
            "payment_history": history,
        }
        user["orders"].append(order_id)
    return orders


def generate_world(
    seed: int = 0, *, n_users: int = 500, n_products: int = 50, n_orders: int = 1000
) -> dict[str, dict[str, dict[str, Any]]]:
    """Generate a retail world in τ-bench's schema.

    The defaults give τ-bench's sizes (500 users, 50 products with about 600 variants, 1,000 orders).

    Args:
        seed: Seed of ``numpy.random.default_rng``; the same seed always gives the same world.
        n_users: Number of users, 1 to 1,000,000.
        n_products: Number of products, 1 to the catalog size (50); each is a different product type.
        n_orders: Number of orders, 1 to 1,000,000, each owned by a uniformly drawn user.

    Returns:
        ``{"users": {user_id: user}, "products": {product_id: product}, "orders": {order_id: order}}``, plain
        JSON data (dicts, lists, str, int, float, bool) that shares no mutable object between records.

    Raises:
        ValueError: If an argument is not an int in its range; the message names the argument.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _check_count("n_users", n_users, MAX_USERS)
    _check_count("n_products", n_products, len(PRODUCT_TYPES))
    _check_count("n_orders", n_orders, MAX_ORDERS)
    rng = np.random.default_rng(seed)
    products = _make_products(rng, n_products, _UniqueInts(rng, 10**9, 10**10))
    users = _make_users(rng, n_users)
    orders = _make_orders(rng, n_orders, users, products)
    return {"users": users, "products": products, "orders": orders}
