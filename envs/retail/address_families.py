"""Retail task families that change the user's default address: to a new one, in a move, or to an order's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from toolgym.tasks.format import CodeAsTask

from .family_addresses import (
    address_args_of,
    address_near_miss,
    address_phrase,
    away_from_home,
    home_call,
    new_address,
    plain_address,
    reroute_call,
    shipping_addresses,
)
from .family_code import Verifier, claim, direct_miss, write_task
from .family_words import Who, identify, opening, owner_and_ref
from .family_world import Draw, Record, drawn_from, pick, record


@drawn_from(lambda d: d.index.users)
def make_user_address(d: Draw, user_id: str) -> CodeAsTask | None:
    """Change the user's default address to one given in full, leaving their orders alone."""
    who = identify(d.rng, d.world, user_id)
    old = plain_address(who.user["address"])
    new = new_address(d.rng)
    mutated = address_near_miss(new, old)
    if new == old or mutated is None:
        return None
    where = address_phrase(new)
    text = pick(
        d.rng,
        (
            f"Please update my default address to {where}.",
            f"I've moved. My new address is {where}; please change it in my profile.",
            f"Could you change the address on my account to {where}?",
        ),
    )
    pending = d.index.of_user(user_id, "pending")
    if pending:
        text += pick(
            d.rng,
            (
                " My current orders should still go to the addresses they have now.",
                " Don't change the shipping address of my existing orders.",
            ),
        )
    v = _new_home(who, new)
    solution = (
        f"{who.lookup}\nresult = {home_call(new)}\n"
        "print('Your default address is now', result['address']['address1'], result['address']['city'])\n"
    )
    label, wrong = mutated
    must = [
        direct_miss(label, who, home_call(wrong)),
        direct_miss(
            "writes the country out instead of USA", who, home_call({**new, "country": "United States"})
        ),
    ]
    optional = [claim(who)]
    if pending:
        reroute = reroute_call(repr(pick(d.rng, pending)), new)
        must.append(direct_miss("also re-routes a pending order", who, reroute, home_call(new)))
        optional.append(
            direct_miss("re-routes a pending order instead of changing the profile", who, reroute)
        )
    return write_task(d, who, text, v, solution, must, optional)


@drawn_from(lambda d: [u for u in d.index.users if d.index.of_user(u, "pending")])
def make_move(d: Draw, user_id: str) -> CodeAsTask | None:
    """A move: the default address and every pending order bound for the old home go to a new address."""
    home = plain_address(record(d.world, "users", user_id)["address"])
    pending = d.index.of_user(user_id, "pending")
    moving = [o for o in pending if plain_address(record(d.world, "orders", o)["address"]) == home]
    staying = [o for o in pending if o not in moving]
    if not moving:
        return None
    who = identify(d.rng, d.world, user_id)
    new = new_address(d.rng)
    where = address_phrase(new)
    if staying:
        orders = (
            "the pending orders that were going to my old home shipped there too. Any pending order going "
            "somewhere else should keep its address"
        )
    else:
        orders = pick(d.rng, ("my pending orders shipped there too", "everything I have pending sent there"))
        if len(moving) == 1:
            orders = "my pending order shipped there too"
    text = pick(
        d.rng,
        (
            f"I've moved to {where}. Please update my default address and have {orders}.",
            f"My new address is {where}. Could you change my default address and have {orders}?",
        ),
    )
    v = _new_home(who, new, [record(d.world, "orders", o) for o in moving])
    solution = (
        f"{opening(who)}home = user['address']\n{home_call(new)}\n"
        "moved = []\nfor candidate in user['orders']:\n"
        "    details = get_order_details(order_id=candidate)\n"
        "    if details['status'] == 'pending' and details['address'] == home:\n"
        f"        {reroute_call('candidate', new)}\n"
        "        moved.append(candidate)\n"
        "print('Your default address is updated, and these orders will ship there:', moved)\n"
    )
    re_route = [reroute_call(repr(o), new) for o in moving]
    must = [
        direct_miss("changes only the default address", who, home_call(new)),
        direct_miss("re-routes the orders but not the profile", who, *re_route),
    ]
    optional = [claim(who)]
    if staying:
        also = [reroute_call(repr(o), new) for o in staying]
        must.append(
            direct_miss("also re-routes the order that goes elsewhere", who, home_call(new), *re_route, *also)
        )
    if len(moving) > 1:
        optional.append(
            direct_miss("re-routes only one of the pending orders", who, home_call(new), re_route[0])
        )
    return write_task(d, who, text, v, solution, must, optional)


@drawn_from(lambda d: away_from_home(d, "pending", "processed", "delivered"))
def make_home_from_order(d: Draw, order_id: str) -> CodeAsTask | None:
    """Make the address an order ships (or shipped) to the user's default address."""
    order = record(d.world, "orders", order_id)
    who, ref = owner_and_ref(d, order, id_weight=0.15)
    target = plain_address(order["address"])
    home = plain_address(who.user["address"])
    verb = "is being shipped to" if order["status"] == "pending" else "was shipped to"
    text = pick(
        d.rng,
        (
            f"I now live at the address {ref.phrase} {verb}. Please make that my default address.",
            f"Please change my default address to the one {ref.phrase} {verb}; that's where I live now.",
        ),
    )
    if d.index.of_user(who.user_id, "pending"):
        text += " My pending orders should keep their shipping addresses."
    v = _new_home(who, target)
    solution = (
        f"{opening(who)}{ref.find}a = order['address']\nmodify_user_address(user_id=uid, {address_args_of('a')})\n"
        "print('Your default address is now', a['address1'], a['city'])\n"
    )
    mutated = address_near_miss(target, home)
    if mutated is None:
        return None
    label, wrong = mutated
    must = [direct_miss(label, who, home_call(wrong))]
    optional = [claim(who)]
    if target["address2"]:
        optional.append(
            direct_miss("drops the second address line", who, home_call({**target, "address2": ""}))
        )
    if order["status"] == "pending":
        home_instead = reroute_call(repr(order_id), home)
        must.append(direct_miss("ships the order to the default address instead", who, home_instead))
    elsewhere = [a for a in shipping_addresses(d, who.user_id) if a not in (target, home)]
    if elsewhere:
        must.append(direct_miss("copies another order's address", who, home_call(pick(d.rng, elsewhere))))
    return write_task(d, who, text, v, solution, must, optional)


def _new_home(who: Who, address: Mapping[str, str], moving: Sequence[Record] = ()) -> Verifier:
    """The verifier of a new default address: the user's address and the moving orders' become ``address``."""
    wanted = dict(address)
    v = Verifier()
    v.changed([("users", who.user_id), *(("orders", o["order_id"]) for o in moving)])
    v.only_keys_changed("users", who.user_id, who.user, ("address",), "u")
    v.require(f"dict(u['address']) == {wanted!r}")
    for n, order in enumerate(moving):
        v.only_keys_changed("orders", order["order_id"], order, ("address",), f"o{n}_")
        v.require(f"dict(o{n}_['address']) == {wanted!r}")
    return v
