"""Retail task families that act on a whole pending order: cancel it, change where it ships or how it is paid."""

from __future__ import annotations

from collections.abc import Mapping

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
)
from .family_code import Verifier, claim, direct_miss, order_miss, write_task
from .family_words import cap, find_method, method_phrase, opening, owner_and_ref
from .family_world import Draw, Record, amount, covers, drawn_from, paid_with, pick, record
from .tools import CANCEL_REASONS

REASON_WORDS: dict[str, tuple[str, ...]] = {
    # Each phrasing repeats the reason's own words, so the user really names it.
    "no longer needed": ("I no longer need it", "it's no longer needed", "I no longer need those things"),
    "ordered by mistake": (
        "I ordered it by mistake",
        "it was ordered by mistake",
        "I ordered it by mistake and don't want it",
    ),
}


# --- cancel_pending_order ------------------------------------------------------------------------------------------


@drawn_from(lambda d: d.index.with_status("pending"))
def make_cancel(d: Draw, order_id: str) -> CodeAsTask | None:
    """Cancel one pending order, described by its items or id, for a stated reason."""
    order = record(d.world, "orders", order_id)
    who, ref = owner_and_ref(d, order)
    reason = pick(d.rng, CANCEL_REASONS)
    wrong_reason = next(r for r in CANCEL_REASONS if r != reason)
    why = pick(d.rng, REASON_WORDS[reason])
    others = d.index.others(order)
    text = pick(
        d.rng,
        (
            f"Please cancel {ref.phrase}; {why}.",
            f"I'd like to cancel {ref.phrase} because {why}.",
            f"{cap(why)}, so please cancel {ref.phrase}.",
        ),
    )
    if others:
        text += pick(
            d.rng, (" My other pending orders should go ahead.", " Leave my other orders as they are.")
        )
    method = paid_with(order)
    total = amount(order)
    gift = method.startswith("gift_card")
    v = Verifier()
    v.changed([("orders", order_id), *([("users", who.user_id)] if gift else [])])
    v.only_keys_changed("orders", order_id, order, ("status", "cancel_reason", "payment_history"), "o")
    v.require(f"o['status'] == 'cancelled' and o.get('cancel_reason') == {reason!r}")
    refund = {"transaction_type": "refund", "amount": total, "payment_method_id": method}
    v.require(f"list(o['payment_history']) == list(o0['payment_history']) + [{refund!r}]")
    if gift:
        balance = who.user["payment_methods"][method]["balance"]
        v.balances(who.user_id, who.user, {method: round(balance + total, 2)})
    solution = (
        f"{opening(who)}{ref.find}result = cancel_pending_order(order_id=oid, reason={reason!r})\n"
        "print('Order', oid, 'is now', result['status'], '- the payment of', "
        "order['payment_history'][0]['amount'], 'will be refunded to the original payment method.')\n"
    )
    wrong_call = f"cancel_pending_order(order_id=oid, reason={wrong_reason!r})"
    must = [order_miss("cancels with the wrong reason", who, ref, f"{wrong_call}\nprint('Cancelled', oid)\n")]
    optional = [
        claim(who),
        order_miss(
            "looks the order up but does not cancel it",
            who,
            ref,
            "print('Order', oid, 'is', order['status'])\n",
        ),
    ]
    if others:
        other = _cancel_call(pick(d.rng, others), reason)
        must.append(direct_miss("cancels another pending order of the user", who, other, says="Cancelled."))
        optional.append(
            direct_miss(
                "also cancels another pending order",
                who,
                other,
                _cancel_call(order_id, reason),
                says="Both cancelled.",
            )
        )
    return write_task(d, who, text, v, solution, must, optional)


def _cancel_call(order_id: str, reason: str) -> str:
    return f"cancel_pending_order(order_id={order_id!r}, reason={reason!r})"


# --- modify_pending_order_address ----------------------------------------------------------------------------------

_PLACES = ("my sister's place", "my office", "my parents' house", "a friend's place", "my new apartment")


@drawn_from(lambda d: d.index.with_status("pending"))
def make_order_address(d: Draw, order_id: str) -> CodeAsTask | None:
    """Ship one pending order to a new address given in full; the profile stays."""
    order = record(d.world, "orders", order_id)
    who, ref = owner_and_ref(d, order)
    new = new_address(d.rng)
    mutated = address_near_miss(new, order["address"])
    if new == plain_address(order["address"]) or mutated is None:
        return None
    where = address_phrase(new)
    text = pick(
        d.rng,
        (
            f"Please change the shipping address of {ref.phrase} to {where}.",
            f"I'd like {ref.phrase} shipped to {pick(d.rng, _PLACES)} instead: {where}.",
            f"Can you send {ref.phrase} to {where}?",
        ),
    )
    text += pick(
        d.rng, (" Only that order; my default address stays the same.", " Nothing else should change.")
    )
    v = _rerouted(order, new)
    solution = f"{opening(who)}{ref.find}{reroute_call('oid', new)}\nprint('Order', oid, 'will now ship to', {where!r})\n"
    label, wrong = mutated
    must = [
        direct_miss(
            "changes the default address instead of the order's", who, home_call(new), says="Address updated."
        ),
        order_miss(label, who, ref, f"{reroute_call('oid', wrong)}\nprint('Address updated.')\n"),
    ]
    also = [home_call(new), reroute_call(repr(order_id), new)]
    optional = [claim(who), direct_miss("also changes the default address", who, *also, says="Updated.")]
    others = d.index.others(order)
    if others:
        other = reroute_call(repr(pick(d.rng, others)), new)
        must.append(
            direct_miss("re-routes another pending order of the user", who, other, says="Address updated.")
        )
    return write_task(d, who, text, v, solution, must, optional)


@drawn_from(lambda d: away_from_home(d, "pending"))
def make_order_to_home(d: Draw, order_id: str) -> CodeAsTask | None:
    """Ship a pending order that goes elsewhere to the user's default address (which the agent looks up)."""
    order = record(d.world, "orders", order_id)
    who, ref = owner_and_ref(d, order)
    home = plain_address(who.user["address"])
    there = order["address"]["city"]
    text = pick(
        d.rng,
        (
            f"{cap(ref.phrase)} is set to ship to {there}, but I want it delivered to my home address on file "
            "instead.",
            f"Please send {ref.phrase} to my default address rather than the one in {there}.",
            f"I'd like {ref.phrase} shipped to my home address (the default one in my profile), not to {there}.",
        ),
    )
    text += " Don't change anything else."
    v = _rerouted(order, home)
    solution = (
        f"{opening(who)}{ref.find}home = user['address']\n"
        f"modify_pending_order_address(order_id=oid, {address_args_of('home')})\n"
        "print('Order', oid, 'will now ship to your home address:', home['address1'], home['city'])\n"
    )
    old = plain_address(order["address"])
    mutated = address_near_miss(home, old)
    if mutated is None:
        return None
    label, wrong = mutated
    must = [
        direct_miss("copies the order's address into the profile instead", who, home_call(old)),
        order_miss(label, who, ref, f"{reroute_call('oid', wrong)}\nprint('Done.')\n"),
    ]
    also = [home_call(old), reroute_call(repr(order_id), home)]
    optional = [claim(who), direct_miss("also makes the order's old address the default", who, *also)]
    return write_task(d, who, text, v, solution, must, optional)


def _rerouted(order: Record, address: Mapping[str, str]) -> Verifier:
    """The verifier of a re-routed order: only its address changed, to ``address``."""
    v = Verifier()
    v.changed([("orders", order["order_id"])])
    v.only_keys_changed("orders", order["order_id"], order, ("address",), "o")
    v.require(f"dict(o['address']) == {dict(address)!r}")
    return v


# --- modify_pending_order_payment ----------------------------------------------------------------------------------


def _with_other_methods(d: Draw) -> list[str]:
    """Pending orders whose user has another payment method to switch to."""
    return [
        o
        for o in d.index.with_status("pending")
        if len(record(d.world, "users", record(d.world, "orders", o)["user_id"])["payment_methods"]) > 1
    ]


@drawn_from(_with_other_methods)
def make_payment(d: Draw, order_id: str) -> CodeAsTask | None:
    """Pay a pending order with another of the user's payment methods, named by kind and last digits."""
    order = record(d.world, "orders", order_id)
    user_id = order["user_id"]
    user = record(d.world, "users", user_id)
    methods = user["payment_methods"]
    old_id, total = paid_with(order), amount(order)
    usable = [pid for pid, m in methods.items() if pid != old_id and covers(m, total)]
    if not usable:
        return None
    new_id = pick(d.rng, usable)
    who, ref = owner_and_ref(d, order)
    new, old = methods[new_id], methods[old_id]
    text = pick(
        d.rng,
        (
            f"For {ref.phrase}, I'd like to switch the payment from {method_phrase(old)} to {method_phrase(new)}.",
            f"Please charge {ref.phrase} to {method_phrase(new)} instead.",
            f"I want to pay for {ref.phrase} with {method_phrase(new)} rather than {method_phrase(old)}.",
        ),
    )
    others = d.index.others(order)
    if others:
        text += " My other pending orders stay as they are."
    gifts = {
        pid: round(methods[pid]["balance"] + change, 2)
        for pid, change in ((new_id, -total), (old_id, total))
        if methods[pid]["source"] == "gift_card"
    }
    v = Verifier()
    v.changed([("orders", order_id), *([("users", user_id)] if gifts else [])])
    v.only_keys_changed("orders", order_id, order, ("payment_history",), "o")
    added = [
        {"transaction_type": "payment", "amount": total, "payment_method_id": new_id},
        {"transaction_type": "refund", "amount": total, "payment_method_id": old_id},
    ]
    v.require(f"list(o['payment_history']) == list(o0['payment_history']) + {added!r}")
    if gifts:
        v.balances(user_id, user, dict(sorted(gifts.items())))
    solution = (
        f"{opening(who)}{ref.find}{find_method('new_pm', new)}"
        "modify_pending_order_payment(order_id=oid, payment_method_id=new_pm)\n"
        "print('Order', oid, 'is now paid with', new_pm, '- the old payment will be refunded.')\n"
    )
    must = [
        order_miss(
            "cancels the order instead of changing its payment",
            who,
            ref,
            "cancel_pending_order(order_id=oid, reason='no longer needed')\n"
            "print('Cancelled; please order again with the new card.')\n",
        )
    ]
    optional = [
        claim(who),
        order_miss(
            "reports the current payment method without changing it",
            who,
            ref,
            "print('Order', oid, 'is paid with', order['payment_history'][0]['payment_method_id'])\n",
        ),
    ]
    wrong = [pid for pid in methods if pid not in (old_id, new_id)]
    if wrong:
        switch = _payment_call(order_id, pick(d.rng, wrong))
        must.append(direct_miss("switches to the wrong payment method", who, switch, says="Payment updated."))
    movable = [o for o in others if paid_with(record(d.world, "orders", o)) != new_id]
    if movable:
        other = _payment_call(pick(d.rng, movable), new_id)
        optional.append(
            direct_miss("switches another pending order of the user", who, other, says="Payment updated.")
        )
        both = [other, _payment_call(order_id, new_id)]
        optional.append(
            direct_miss("also switches another pending order", who, *both, says="Payment updated.")
        )
    return write_task(d, who, text, v, solution, must, optional)


def _payment_call(order_id: str, method_id: str) -> str:
    return f"modify_pending_order_payment(order_id={order_id!r}, payment_method_id={method_id!r})"
