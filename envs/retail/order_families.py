"""Retail task families that act on a whole pending order: cancel it, change where it ships or how it is paid."""

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
    cap,
    find_method,
    identify,
    method_phrase,
    new_address,
    opening,
    plain_address,
    refer_order,
)
from .family_world import amount, first_found, index, paid_with, pick, record
from .tools import CANCEL_REASONS

Spec = Mapping[str, Any]

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


def make_cancel(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Cancel one pending order, described by its items or id, for a stated reason.

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
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        ref = refer_order(rng, world, who, order_id)
        reason = pick(rng, CANCEL_REASONS)
        wrong_reason = next(r for r in CANCEL_REASONS if r != reason)
        why = pick(rng, REASON_WORDS[reason])
        others = [o for o in ix.of_user(user_id, "pending") if o != order_id]
        text = pick(
            rng,
            (
                f"Please cancel {ref.phrase}; {why}.",
                f"I'd like to cancel {ref.phrase} because {why}.",
                f"{cap(why)}, so please cancel {ref.phrase}.",
            ),
        )
        if others:
            text += pick(
                rng, (" My other pending orders should go ahead.", " Leave my other orders as they are.")
            )
        method = paid_with(order)
        total = amount(order)
        gift = method.startswith("gift_card")
        v = Verifier()
        v.changed([("orders", order_id), *([("users", user_id)] if gift else [])])
        v.only_keys_changed("orders", order_id, order, ("status", "cancel_reason", "payment_history"), "o")
        v.require(f"o['status'] == 'cancelled' and o.get('cancel_reason') == {reason!r}")
        refund = {"transaction_type": "refund", "amount": total, "payment_method_id": method}
        v.require(f"list(o['payment_history']) == list(o0['payment_history']) + [{refund!r}]")
        if gift:
            balance = who.user["payment_methods"][method]["balance"]
            v.balances(user_id, who.user, {method: round(balance + total, 2)})
        solution = (
            f"{opening(who)}{ref.find}result = cancel_pending_order(order_id=oid, reason={reason!r})\n"
            "print('Order', oid, 'is now', result['status'], '- the payment of', "
            "order['payment_history'][0]['amount'], 'will be refunded to the original payment method.')\n"
        )
        must = [
            near_miss(
                "cancels with the wrong reason",
                f"{opening(who)}{ref.find}cancel_pending_order(order_id=oid, reason={wrong_reason!r})\n"
                "print('Cancelled', oid)\n",
            )
        ]
        optional = [
            claim(who),
            near_miss(
                "looks the order up but does not cancel it",
                f"{opening(who)}{ref.find}print('Order', oid, 'is', order['status'])\n",
            ),
        ]
        if others:
            other = pick(rng, others)
            must.append(
                near_miss(
                    "cancels another pending order of the user",
                    f"{who.lookup}\ncancel_pending_order(order_id={other!r}, reason={reason!r})\nprint('Cancelled.')\n",
                )
            )
            optional.append(
                near_miss(
                    "also cancels another pending order",
                    f"{who.lookup}\ncancel_pending_order(order_id={other!r}, reason={reason!r})\n"
                    f"cancel_pending_order(order_id={order_id!r}, reason={reason!r})\nprint('Both cancelled.')\n",
                )
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, ix.orders.get("pending", ()), build)


# --- modify_pending_order_address ----------------------------------------------------------------------------------

_PLACES = ("my sister's place", "my office", "my parents' house", "a friend's place", "my new apartment")


def make_order_address(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Ship one pending order to a new address given in full.

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
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        ref = refer_order(rng, world, who, order_id)
        new = new_address(rng)
        mutated = address_near_miss(new, order["address"])
        if new == plain_address(order["address"]) or mutated is None:
            return None
        where = address_phrase(new)
        text = pick(
            rng,
            (
                f"Please change the shipping address of {ref.phrase} to {where}.",
                f"I'd like {ref.phrase} shipped to {pick(rng, _PLACES)} instead: {where}.",
                f"Can you send {ref.phrase} to {where}?",
            ),
        )
        text += pick(
            rng, (" Only that order; my default address stays the same.", " Nothing else should change.")
        )
        v = Verifier()
        v.changed([("orders", order_id)])
        v.only_keys_changed("orders", order_id, order, ("address",), "o")
        v.require(f"dict(o['address']) == {new!r}")
        solution = (
            f"{opening(who)}{ref.find}modify_pending_order_address(order_id=oid, {address_args(new)})\n"
            f"print('Order', oid, 'will now ship to', {where!r})\n"
        )
        label, wrong = mutated
        must = [
            near_miss(
                "changes the default address instead of the order's",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(new)})\nprint('Address updated.')\n",
            ),
            near_miss(
                label,
                f"{opening(who)}{ref.find}modify_pending_order_address(order_id=oid, {address_args(wrong)})\n"
                "print('Address updated.')\n",
            ),
        ]
        optional = [
            claim(who),
            near_miss(
                "also changes the default address",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(new)})\n"
                f"modify_pending_order_address(order_id={order_id!r}, {address_args(new)})\nprint('Updated.')\n",
            ),
        ]
        others = [o for o in ix.of_user(user_id, "pending") if o != order_id]
        if others:
            must.append(
                near_miss(
                    "re-routes another pending order of the user",
                    f"{who.lookup}\nmodify_pending_order_address(order_id={pick(rng, others)!r}, {address_args(new)})\n"
                    "print('Address updated.')\n",
                )
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, ix.orders.get("pending", ()), build)


def make_order_to_home(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Ship a pending order that goes elsewhere to the user's default address (which the agent looks up).

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)

    def away(order_id: str) -> bool:
        order = record(world, "orders", order_id)
        home = record(world, "users", order["user_id"])["address"]
        return plain_address(order["address"]) != plain_address(home)

    def build(order_id: str) -> CodeAsTask | None:
        order = record(world, "orders", order_id)
        user_id = order["user_id"]
        who = identify(rng, world, user_id)
        ref = refer_order(rng, world, who, order_id)
        home = plain_address(who.user["address"])
        there = order["address"]["city"]
        text = pick(
            rng,
            (
                f"{cap(ref.phrase)} is set to ship to {there}, but I want it delivered to my home address on file "
                "instead.",
                f"Please send {ref.phrase} to my default address rather than the one in {there}.",
                f"I'd like {ref.phrase} shipped to my home address (the default one in my profile), not to {there}.",
            ),
        )
        text += " Don't change anything else."
        v = Verifier()
        v.changed([("orders", order_id)])
        v.only_keys_changed("orders", order_id, order, ("address",), "o")
        v.require(f"dict(o['address']) == {home!r}")
        args = ", ".join(f"{k}=home[{k!r}]" for k in home)
        solution = (
            f"{opening(who)}{ref.find}home = user['address']\nmodify_pending_order_address(order_id=oid, {args})\n"
            "print('Order', oid, 'will now ship to your home address:', home['address1'], home['city'])\n"
        )
        old = plain_address(order["address"])
        mutated = address_near_miss(home, old)
        if mutated is None:
            return None
        label, wrong = mutated
        must = [
            near_miss(
                "copies the order's address into the profile instead",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(old)})\nprint('Done.')\n",
            ),
            near_miss(
                label,
                f"{opening(who)}{ref.find}modify_pending_order_address(order_id=oid, {address_args(wrong)})\n"
                "print('Done.')\n",
            ),
        ]
        optional = [
            claim(who),
            near_miss(
                "also makes the order's old address the default",
                f"{who.lookup}\nmodify_user_address(user_id=uid, {address_args(old)})\n"
                f"modify_pending_order_address(order_id={order_id!r}, {address_args(home)})\nprint('Done.')\n",
            ),
        ]
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    return first_found(rng, [o for o in ix.orders.get("pending", ()) if away(o)], build)


# --- modify_pending_order_payment ----------------------------------------------------------------------------------


def make_payment(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """Pay a pending order with another of the user's payment methods, named by kind and last digits.

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
        user_id = order["user_id"]
        user = record(world, "users", user_id)
        methods = user["payment_methods"]
        old_id, total = paid_with(order), amount(order)
        usable = [
            pid
            for pid, m in methods.items()
            if pid != old_id and (m["source"] != "gift_card" or m["balance"] >= total)
        ]
        if not usable:
            return None
        new_id = pick(rng, usable)
        who = identify(rng, world, user_id)
        ref = refer_order(rng, world, who, order_id)
        new, old = methods[new_id], methods[old_id]
        text = pick(
            rng,
            (
                f"For {ref.phrase}, I'd like to switch the payment from {method_phrase(old)} to {method_phrase(new)}.",
                f"Please charge {ref.phrase} to {method_phrase(new)} instead.",
                f"I want to pay for {ref.phrase} with {method_phrase(new)} rather than {method_phrase(old)}.",
            ),
        )
        others = [o for o in ix.of_user(user_id, "pending") if o != order_id]
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
            near_miss(
                "cancels the order instead of changing its payment",
                f"{opening(who)}{ref.find}cancel_pending_order(order_id=oid, reason='no longer needed')\n"
                "print('Cancelled; please order again with the new card.')\n",
            )
        ]
        optional = [
            claim(who),
            near_miss(
                "reports the current payment method without changing it",
                f"{opening(who)}{ref.find}print('Order', oid, 'is paid with', "
                "order['payment_history'][0]['payment_method_id'])\n",
            ),
        ]
        wrong = [pid for pid in methods if pid not in (old_id, new_id)]
        if wrong:
            must.append(
                near_miss(
                    "switches to the wrong payment method",
                    f"{who.lookup}\nmodify_pending_order_payment(order_id={order_id!r}, "
                    f"payment_method_id={pick(rng, wrong)!r})\nprint('Payment updated.')\n",
                )
            )
        movable = [o for o in others if paid_with(record(world, "orders", o)) != new_id]
        if movable:
            other = pick(rng, movable)
            optional.append(
                near_miss(
                    "switches another pending order of the user",
                    f"{who.lookup}\nmodify_pending_order_payment(order_id={other!r}, payment_method_id={new_id!r})\n"
                    "print('Payment updated.')\n",
                )
            )
            optional.append(
                near_miss(
                    "also switches another pending order",
                    f"{who.lookup}\nmodify_pending_order_payment(order_id={other!r}, payment_method_id={new_id!r})\n"
                    f"modify_pending_order_payment(order_id={order_id!r}, payment_method_id={new_id!r})\n"
                    "print('Payment updated.')\n",
                )
            )
        failures = choose_failures(rng, must, optional)
        return build_task(spec, f"{who.intro} {text}", v.source(), solution, failures)

    candidates = [
        o
        for o in ix.orders.get("pending", ())
        if len(record(world, "users", record(world, "orders", o)["user_id"])["payment_methods"]) > 1
    ]
    return first_found(rng, candidates, build)


# --- modify_user_address -------------------------------------------------------------------------------------------
