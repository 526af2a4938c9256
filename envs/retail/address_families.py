"""Retail task families that change the user's default address: to a new one, in a move, or to an order's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

from .family_code import Verifier, build_task, choose_failures, claim, near_miss
from .family_words import (
    address_args,
    address_near_miss,
    address_phrase,
    identify,
    new_address,
    opening,
    plain_address,
    refer_order,
)
from .family_world import first_found, index, pick, record

Spec = Mapping[str, Any]


def make_user_address(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Change the user's default address to one given in full, leaving their orders alone.

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def build(user_id: str) -> CodeAsTask | None:
        who = identify(rng, world, user_id)
        old = plain_address(who.user["address"])
        new = new_address(rng)
        mutated = address_near_miss(new, old)
        if new == old or mutated is None:
            return None
        where = address_phrase(new)
        text = pick(
            rng,
            (
                f"Please update my default address to {where}.",
                f"I've moved. My new address is {where}; please change it in my profile.",
                f"Could you change the address on my account to {where}?",
            ),
        )
        pending = ix.of_user(user_id, "pending")
        if pending:
            text += pick(
                rng,
                (
                    " My current orders should still go to the addresses they have now.",
                    " Don't change the shipping address of my existing orders.",
                ),
            )
        v = Verifier()
        v.changed([("users", user_id)])
        v.only_keys_changed("users", user_id, who.user, ("address",), "u")
        v.require(f"dict(u['address']) == {new!r}")
        solution = (
            f"{who.lookup}\nresult = modify_user_address(user_id=uid, {address_args(new)})\n"
            "print('Your default address is now', result['address']['address1'], result['address']['city'])\n"
        )
        label, wrong = mutated
        must = [
            near_miss(
                label,
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(wrong)})\nprint('Done.')\n",
            ),
            near_miss(
                "writes the country out instead of USA",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args({**new, 'country': 'United States'})})\n"
                "print('Done.')\n",
            ),
        ]
        optional = [claim(who)]
        if pending:
            target = pick(rng, pending)
            must.append(
                near_miss(
                    "also re-routes a pending order",
                    f"{who.lookup}\nmodify_pending_order_address(order_id={target!r}, {address_args(new)})\n"
                    f"modify_user_address(user_id=uid, {address_args(new)})\nprint('Done.')\n",
                )
            )
            optional.append(
                near_miss(
                    "re-routes a pending order instead of changing the profile",
                    f"{who.lookup}\nmodify_pending_order_address(order_id={target!r}, {address_args(new)})\n"
                    "print('Done.')\n",
                )
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, ix.users, build)


def make_move(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """A move: the default address and every pending order bound for the old home go to a new address.

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def at_home(user_id: str) -> tuple[list[str], list[str]]:
        home = plain_address(record(world, "users", user_id)["address"])
        pending = ix.of_user(user_id, "pending")
        moving = [o for o in pending if plain_address(record(world, "orders", o)["address"]) == home]
        return moving, [o for o in pending if o not in moving]

    def build(user_id: str) -> CodeAsTask | None:
        moving, staying = at_home(user_id)
        if not moving:
            return None
        who = identify(rng, world, user_id)
        new = new_address(rng)
        where = address_phrase(new)
        if staying:
            orders = (
                "the pending orders that were going to my old home shipped there too. Any pending order going "
                "somewhere else should keep its address"
            )
        else:
            orders = pick(
                rng, ("my pending orders shipped there too", "everything I have pending sent there")
            )
            if len(moving) == 1:
                orders = "my pending order shipped there too"
        text = pick(
            rng,
            (
                f"I've moved to {where}. Please update my default address and have {orders}.",
                f"My new address is {where}. Could you change my default address and have {orders}?",
            ),
        )
        v = Verifier()
        v.changed([("users", user_id), *(("orders", o) for o in moving)])
        v.only_keys_changed("users", user_id, who.user, ("address",), "u")
        v.require(f"dict(u['address']) == {new!r}")
        for n, order_id in enumerate(moving):
            v.only_keys_changed("orders", order_id, record(world, "orders", order_id), ("address",), f"o{n}_")
            v.require(f"dict(o{n}_['address']) == {new!r}")
        solution = (
            f"{opening(who)}home = user['address']\nmodify_user_address(user_id=uid, {address_args(new)})\n"
            "moved = []\nfor candidate in user['orders']:\n"
            "    details = get_order_details(order_id=candidate)\n"
            "    if details['status'] == 'pending' and details['address'] == home:\n"
            f"        modify_pending_order_address(order_id=candidate, {address_args(new)})\n"
            "        moved.append(candidate)\n"
            "print('Your default address is updated, and these orders will ship there:', moved)\n"
        )
        re_route = "".join(
            f"modify_pending_order_address(order_id={o!r}, {address_args(new)})\n" for o in moving
        )
        must = [
            near_miss(
                "changes only the default address",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(new)})\nprint('Done.')\n",
            ),
            near_miss(
                "re-routes the orders but not the profile", f"{who.lookup}\n{re_route}print('Done.')\n"
            ),
        ]
        optional = [claim(who)]
        if staying:
            also = "".join(
                f"modify_pending_order_address(order_id={o!r}, {address_args(new)})\n" for o in staying
            )
            must.append(
                near_miss(
                    "also re-routes the order that goes elsewhere",
                    f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(new)})\n{re_route}{also}"
                    "print('Done.')\n",
                )
            )
        if len(moving) > 1:
            optional.append(
                near_miss(
                    "re-routes only one of the pending orders",
                    f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(new)})\n"
                    f"modify_pending_order_address(order_id={moving[0]!r}, {address_args(new)})\nprint('Done.')\n",
                )
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, [u for u in ix.users if ix.of_user(u, "pending")], build)


def make_home_from_order(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Make the address an order ships (or shipped) to the user's default address.

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)
    candidates = [
        o
        for status in ("pending", "processed", "delivered")
        for o in ix.orders.get(status, ())
        if plain_address(record(world, "orders", o)["address"])
        != plain_address(record(world, "users", record(world, "orders", o)["user_id"])["address"])
    ]

    def build(order_id: str) -> CodeAsTask | None:
        order = record(world, "orders", order_id)
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        ref = refer_order(rng, world, who, order_id, id_weight=0.15)
        target = plain_address(order["address"])
        home = plain_address(who.user["address"])
        verb = "is being shipped to" if order["status"] == "pending" else "was shipped to"
        text = pick(
            rng,
            (
                f"I now live at the address {ref.phrase} {verb}. Please make that my default address.",
                f"Please change my default address to the one {ref.phrase} {verb}; that's where I live now.",
            ),
        )
        if ix.of_user(user_id, "pending"):
            text += " My pending orders should keep their shipping addresses."
        v = Verifier()
        v.changed([("users", user_id)])
        v.only_keys_changed("users", user_id, who.user, ("address",), "u")
        v.require(f"dict(u['address']) == {target!r}")
        args = ", ".join(f"{k}=a[{k!r}]" for k in target)
        solution = (
            f"{opening(who)}{ref.find}a = order['address']\nmodify_user_address(user_id=uid, {args})\n"
            "print('Your default address is now', a['address1'], a['city'])\n"
        )
        mutated = address_near_miss(target, home)
        if mutated is None:
            return None
        label, wrong = mutated
        must = [
            near_miss(
                label,
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(wrong)})\nprint('Done.')\n",
            )
        ]
        optional = [
            claim(who),
            near_miss(
                "drops the second address line",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args({**target, 'address2': ''})})\n"
                "print('Done.')\n",
            ),
        ]
        if order["status"] == "pending":
            must.append(
                near_miss(
                    "ships the order to the default address instead",
                    f"{who.lookup}\nmodify_pending_order_address(order_id={order_id!r}, {address_args(home)})\n"
                    "print('Done.')\n",
                )
            )
        elsewhere = [
            plain_address(record(world, "orders", o)["address"])
            for s in ("pending", "processed", "delivered", "cancelled")
            for o in ix.of_user(user_id, s)
        ]
        elsewhere = [a for a in elsewhere if a not in (target, home)]
        if elsewhere:
            must.append(
                near_miss(
                    "copies another order's address",
                    f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(pick(rng, elsewhere))})\n"
                    "print('Done.')\n",
                )
            )
        if not target["address2"]:
            optional.pop()
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, candidates, build)
