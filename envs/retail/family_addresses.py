"""Addresses in the retail task families: drawing a new one, writing it as text and as tool calls, near misses.

Addresses are compared in their plain form (:func:`plain_address`: exactly the keys of :data:`ADDRESS_KEYS`, in
that order), so two records of the same address compare equal whatever else they hold.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .family_world import STATUSES, Draw, Record, chance, pick, record
from .vocabulary import ADDRESS2_FORMATS, CITIES, STREET_NAMES, STREET_NUMBER_RANGE, STREET_SUFFIXES

ADDRESS_KEYS = ("address1", "address2", "city", "state", "country", "zip")


def new_address(rng: np.random.Generator, *, second_line: float = 0.8) -> Record:
    """A fresh US address drawn from the generator's vocabulary.

    Args:
        rng: The generator.
        second_line: Chance that it has a second line.

    Returns:
        The address, with the keys of :data:`ADDRESS_KEYS`.
    """
    city = pick(rng, CITIES)
    number = int(rng.integers(STREET_NUMBER_RANGE[0], STREET_NUMBER_RANGE[1] + 1))
    line2 = ""
    if chance(rng, second_line):
        fmt = pick(rng, ADDRESS2_FORMATS)
        line2 = fmt["template"].format(n=int(rng.integers(fmt["low"], fmt["high"] + 1)))
    return {
        "address1": f"{number} {pick(rng, STREET_NAMES)} {pick(rng, STREET_SUFFIXES)}",
        "address2": line2,
        "city": city["city"],
        "state": city["state"],
        "country": "USA",
        "zip": f"{int(rng.integers(city['zip_low'], city['zip_high'] + 1)):05d}",
    }


def plain_address(address: Mapping[str, str]) -> dict[str, str]:
    """An address with exactly the keys of :data:`ADDRESS_KEYS`, in that order.

    Args:
        address: The address.

    Returns:
        A new dict.
    """
    return {key: address[key] for key in ADDRESS_KEYS}


def shipping_addresses(draw: Draw, user_id: str) -> list[dict[str, str]]:
    """Where each of a user's orders ships (or shipped): the addresses a near-miss may copy by mistake.

    Args:
        draw: The request.
        user_id: The user.

    Returns:
        Plain addresses, repeats kept, the orders taken status by status (in the order of :data:`STATUSES`).
    """
    return [
        plain_address(record(draw.world, "orders", o)["address"])
        for o in draw.index.of_user(user_id, *STATUSES)
    ]


def away_from_home(draw: Draw, *statuses: str) -> list[str]:
    """Orders with these statuses that ship (or shipped) somewhere other than their user's default address.

    Args:
        draw: The request.
        statuses: The statuses.

    Returns:
        Order ids, status by status.
    """
    away: list[str] = []
    for order_id in draw.index.with_status(*statuses):
        order = record(draw.world, "orders", order_id)
        home = record(draw.world, "users", order["user_id"])["address"]
        if plain_address(order["address"]) != plain_address(home):
            away.append(order_id)
    return away


def address_phrase(address: Mapping[str, str]) -> str:
    """An address as one line of text.

    Args:
        address: The address.

    Returns:
        E.g. ``"88 Lakeview Drive, Apt 4B, Saint Paul, MN 55102, USA"``.
    """
    lines = [address["address1"], address["address2"]] if address["address2"] else [address["address1"]]
    return ", ".join([*lines, address["city"], f"{address['state']} {address['zip']}", address["country"]])


def address_args(address: Mapping[str, str]) -> str:
    """Keyword arguments of the address tools for an address.

    Args:
        address: The address.

    Returns:
        ``"address1='…', address2='…', city='…', state='…', country='…', zip='…'"``.
    """
    return ", ".join(f"{key}={address[key]!r}" for key in ADDRESS_KEYS)


def address_args_of(var: str) -> str:
    """Keyword arguments of the address tools read from an address the script holds in a variable.

    Args:
        var: The variable.

    Returns:
        E.g. ``"address1=a['address1'], …, zip=a['zip']"``.
    """
    return ", ".join(f"{key}={var}[{key!r}]" for key in ADDRESS_KEYS)


def home_call(address: Mapping[str, str]) -> str:
    """A call making an address the default address of the user the script found (``uid``).

    Args:
        address: The address.

    Returns:
        The call, without a newline.
    """
    return f"modify_user_address(user_id=uid, {address_args(address)})"


def reroute_call(order: str, address: Mapping[str, str]) -> str:
    """A call shipping a pending order to an address.

    Args:
        order: The order id as code: a literal (``repr(order_id)``) or a variable of the script (``"oid"``).
        address: The address.

    Returns:
        The call, without a newline.
    """
    return f"modify_pending_order_address(order_id={order}, {address_args(address)})"


def address_near_miss(
    address: Mapping[str, str], old: Mapping[str, str]
) -> tuple[str, dict[str, str]] | None:
    """A near-miss of a new address: one field left as it was in the old one, or the second line dropped.

    Args:
        address: The wanted address.
        old: The address it replaces.

    Returns:
        What the near-miss gets wrong and its address, or ``None`` when no field can be got wrong that way.
    """
    new = plain_address(address)
    if new["address2"] and old.get("address2") != new["address2"]:
        return "keeps the old second address line", {**new, "address2": old.get("address2", "")}
    if old.get("zip") != new["zip"]:
        return "keeps the old zip code", {**new, "zip": old["zip"]}
    if new["address2"]:
        return "drops the second address line", {**new, "address2": ""}
    return None
