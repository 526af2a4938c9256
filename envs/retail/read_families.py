"""Retail question families about one order: its status, payment method, tracking number or shipping address.

Most take one look-up (the order is given by id); some first find the order from its items. Verifiers check that
nothing changed and that the answer holds the right value. Where the question picks one of a few candidates (the
status among four, the payment method among the user's, the address among the user's), the answer must also not
name the others, so listing every possibility does not pass.
"""

from __future__ import annotations

from collections.abc import Mapping

from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

from .family_addresses import plain_address, shipping_addresses
from .family_code import Case, read_task, read_verifier, said, transfer_case
from .family_words import ask, identify, opening, owner_and_ref
from .family_world import STATUSES, Draw, Record, amount, chance, drawn_from, paid_with, pick, record

STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "pending": ("pending",),
    "processed": ("processed",),
    "delivered": ("delivered",),
    "cancelled": ("cancelled", "canceled"),
}


@drawn_from(lambda d: d.index.with_status(*STATUSES))
def make_status(d: Draw, order_id: str) -> CodeAsTask | None:
    """What is the status of my order #W…?"""
    order = record(d.world, "orders", order_id)
    status = order["status"]
    who = identify(d.rng, d.world, order["user_id"])
    text = ask(
        d.rng,
        who.intro,
        (
            f"What's the status of my order {order_id}?",
            f"Can you check on my order {order_id} and tell me its status?",
            f"Where does my order {order_id} stand right now?",
        ),
    )
    v = read_verifier()
    # The status is read from the starting world, so the check names the order it is about.
    v.line(f"status = initial['orders'][{order_id!r}]['status']")
    v.line(f"words = {dict((k, list(w)) for k, w in STATUS_WORDS.items())!r}")
    v.line("text = answer.lower()")
    # The first status the answer names must be the order's: "processed, not delivered yet" passes, a list of
    # every status does not.
    v.line("named = sorted((text.find(w), s) for s in words for w in words[s] if w in text)")
    v.require("named and named[0][1] == status")
    find = f"{who.lookup}\norder = get_order_details(order_id={order_id!r})\n"
    solution = (
        f"{find}print('Your order', {order_id!r}, 'is', order['status'])\n",
        said("Your order", order_id, "is", status),
    )
    mine = d.index.of_user(order["user_id"], *(s for s in STATUSES if s != status))
    cases = [
        transfer_case(who, "User asks for an order's status"),
        Case(
            "answers with the number of items instead of the status",
            f"{find}print('Your order', {order_id!r}, 'has', len(order['items']), 'items')\n",
            said("Your order", order_id, "has", len(order["items"]), "items"),
        ),
    ]
    if mine:
        other = record(d.world, "orders", pick(d.rng, mine))
        cases.append(
            Case(
                "reads the status of another of the user's orders",
                f"{who.lookup}\nuser = get_user_details(user_id=uid)\n"
                f"order = get_order_details(order_id={other['order_id']!r})\n"
                f"print('Your order', {order_id!r}, 'is', order['status'])\n",
                said("Your order", order_id, "is", other["status"]),
                must=True,
            )
        )
    guess = {
        "pending": "processed",
        "processed": "delivered",
        "delivered": "processed",
        "cancelled": "pending",
    }
    cases.append(
        Case(
            "guesses the status without looking",
            f"{who.lookup}\nprint('Your order', {order_id!r}, 'is', {guess[status]!r})\n",
            said("Your order", order_id, "is", guess[status]),
        )
    )
    return read_task(d, text, v, solution, cases)


def _method_words(method: Record) -> str:
    """What the solution prints for a payment method."""
    if method["source"] == "credit_card":
        return said(method["brand"], "card ending in", method["last_four"])
    return str(method["source"]).replace("_", " ")


def _mentions(method: Record, methods: Mapping[str, Record]) -> str:
    """A check that the answer names a payment method of the user, reading ``runs`` and ``compact``."""
    # A card is named by its last four digits, or by its brand when no other card of the user shares it.
    if method["source"] == "paypal":
        return "'paypal' in compact"
    if method["source"] == "gift_card":
        return "'gift' in compact"
    digits = f"{method['last_four']!r} in runs"
    brands = [m.get("brand") for m in methods.values()]
    if brands.count(method["brand"]) > 1:
        return digits
    return f"({digits} or {method['brand']!r} in compact)"


@drawn_from(lambda d: d.index.with_status(*STATUSES))
def make_payment_method(d: Draw, order_id: str) -> CodeAsTask | None:
    """Which payment method paid my order #W…?"""
    order = record(d.world, "orders", order_id)
    who = identify(d.rng, d.world, order["user_id"])
    methods = who.user["payment_methods"]
    method_id = paid_with(order)
    method = methods[method_id]
    text = ask(
        d.rng,
        who.intro,
        (
            f"Which payment method did I use for my order {order_id}?",
            f"How did I pay for order {order_id}?",
            f"What was my order {order_id} charged to?",
        ),
    )
    v = read_verifier()
    v.line("runs = digit_runs(answer)")
    v.line("compact = answer.lower().replace(' ', '')")
    v.require(_mentions(method, methods))
    for other_id, other in methods.items():
        if other_id == method_id:
            continue
        if other["source"] == "credit_card" and other["brand"] == method.get("brand"):
            v.reject(f"{other['last_four']!r} in runs")
        else:
            v.reject(_mentions(other, methods))
    report = (
        "m = user['payment_methods'][order['payment_history'][0]['payment_method_id']]\n"
        "if m['source'] == 'credit_card':\n"
        f"    print('Order', {order_id!r}, 'was paid with your', m['brand'], 'card ending in', m['last_four'])\n"
        "else:\n"
        f"    print('Order', {order_id!r}, 'was paid with your', m['source'].replace('_', ' '))\n"
    )
    solution = (
        f"{opening(who)}order = get_order_details(order_id={order_id!r})\n{report}",
        said("Order", order_id, "was paid with your", _method_words(method)),
    )
    find = f"{who.lookup}\norder = get_order_details(order_id={order_id!r})\n"
    cases = [
        transfer_case(who, "User asks how an order was paid"),
        Case(
            "answers with the amount instead of the method",
            f"{find}print('Order', {order_id!r}, 'was charged', order['payment_history'][0]['amount'])\n",
            said("Order", order_id, "was charged", amount(order)),
        ),
    ]
    if method["source"] == "credit_card":
        cases.append(
            Case(
                "gives the payment method's id, not which card it is",
                f"{find}print('Order', {order_id!r}, 'was paid with', order['payment_history'][0]['payment_method_id'])\n",
                said("Order", order_id, "was paid with", method_id),
            )
        )
    others = [pid for pid in methods if pid != method_id]
    if others:
        other_id = pick(d.rng, others)
        cases.append(
            Case(
                "names another of the user's payment methods",
                f"{opening(who)}order = get_order_details(order_id={order_id!r})\n"
                + report.replace("order['payment_history'][0]['payment_method_id']", repr(other_id)),
                said("Order", order_id, "was paid with your", _method_words(methods[other_id])),
                must=True,
            )
        )
    return read_task(d, text, v, solution, cases)


def _tracking(order: Record) -> str:
    number: str = order["fulfillments"][0]["tracking_id"][0]
    return number


@drawn_from(lambda d: d.index.with_status("processed", "delivered"))
def make_tracking(d: Draw, order_id: str) -> CodeAsTask | None:
    """What is the tracking number of my order (by id or by its items)?"""
    order = record(d.world, "orders", order_id)
    if not order["fulfillments"]:
        return None
    who, ref = owner_and_ref(d, order, id_weight=0.5)
    text = ask(
        d.rng,
        who.intro,
        (
            f"What's the tracking number of {ref.phrase}?",
            f"Could you give me the tracking number for {ref.phrase}?",
        ),
    )
    number = _tracking(order)
    mine = [
        record(d.world, "orders", o)
        for o in d.index.of_user(who.user_id, "processed", "delivered", "cancelled")
        if o != order_id
    ]
    mine = [o for o in mine if o["fulfillments"] and _tracking(o) != number]
    v = read_verifier()
    candidates = [number, *(_tracking(o) for o in mine)]
    v.line(f"named = [r for r in digit_runs(answer) if r in {candidates!r}]")
    # The first tracking number named must be this order's, so listing every shipment's does not pass.
    v.require(f"named and named[0] == {number!r}")
    solution = (
        f"{opening(who)}{ref.find}number = order['fulfillments'][0]['tracking_id'][0]\n"
        "print('The tracking number of order', oid, 'is', number)\n",
        said("The tracking number of order", order_id, "is", number),
    )
    cases = [
        transfer_case(who, "User asks for a tracking number"),
        Case(
            "gives the shipped item ids instead of the tracking number",
            f"{opening(who)}{ref.find}print('Order', oid, 'shipped items', order['fulfillments'][0]['item_ids'])\n",
            said("Order", order_id, "shipped items", list(order["fulfillments"][0]["item_ids"])),
        ),
        Case(
            "gives the order id as the tracking number",
            f"{opening(who)}{ref.find}print('Your tracking number is', oid)\n",
            said("Your tracking number is", order_id),
        ),
    ]
    if mine:
        other = pick(d.rng, mine)
        cases.append(
            Case(
                "reads the tracking number of another order",
                f"{who.lookup}\nother = get_order_details(order_id={other['order_id']!r})\n"
                "print('Your tracking number is', other['fulfillments'][0]['tracking_id'][0])\n",
                said("Your tracking number is", _tracking(other)),
                must=True,
            )
        )
    return read_task(d, text, v, solution, cases)


@drawn_from(lambda d: d.index.with_status("pending", "processed", "delivered"))
def make_shipping_address(d: Draw, order_id: str) -> CodeAsTask | None:
    """Which address is my order going (or did it go) to?"""
    order = record(d.world, "orders", order_id)
    who, ref = owner_and_ref(d, order, id_weight=0.4)
    address = plain_address(order["address"])
    if order["status"] == "delivered":
        questions = (
            f"Which address was {ref.phrase} delivered to?",
            f"Where did {ref.phrase} get shipped?",
        )
    else:
        questions = (
            f"Which address is {ref.phrase} being shipped to?",
            f"Where will {ref.phrase} be delivered?",
        )
    text = ask(d.rng, who.intro, questions)
    home = plain_address(who.user["address"])
    elsewhere = shipping_addresses(d, who.user_id)
    wrong_streets = sorted(
        {a["address1"].lower() for a in [home, *elsewhere] if a["address1"] != address["address1"]}
    )
    v = read_verifier()
    street = address["address1"].lower()
    v.line("text = answer.lower()")
    v.require(f"{street!r} in text and {address['zip']!r} in digit_runs(answer)")
    if wrong_streets:
        # Other addresses may come up ("not your home address, …"), but after the order's own.
        v.line(f"named = sorted((text.find(s), s) for s in {[street, *wrong_streets]!r} if s in text)")
        v.require(f"named[0][1] == {street!r}")
    parts = ("address1", "address2", "city", "state", "zip")
    solution = (
        f"{opening(who)}{ref.find}a = order['address']\n"
        f"print('Order', oid, 'ships to', {', '.join(f'a[{k!r}]' for k in parts)})\n",
        said("Order", order_id, "ships to", *(address[k] for k in parts)),
    )
    cases = [
        transfer_case(who, "User asks where an order ships"),
        Case(
            "gives only the city and state",
            f"{opening(who)}{ref.find}a = order['address']\nprint('Order', oid, 'ships to', a['city'], a['state'])\n",
            said("Order", order_id, "ships to", address["city"], address["state"]),
        ),
        Case(
            "leaves out the zip code",
            f"{opening(who)}{ref.find}a = order['address']\nprint('Order', oid, 'ships to', a['address1'], a['city'])\n",
            said("Order", order_id, "ships to", address["address1"], address["city"]),
        ),
    ]
    if home["address1"] != address["address1"]:
        cases.append(
            Case(
                "gives the default address instead of the order's",
                f"{opening(who)}a = user['address']\nprint('Your order ships to', a['address1'], a['city'], a['zip'])\n",
                said("Your order ships to", home["address1"], home["city"], home["zip"]),
                must=True,
            )
        )
    if chance(d.rng, 0.5) and not ref.by_id:
        cases.append(
            Case(
                "looks at the wrong order",
                f"{opening(who)}order = get_order_details(order_id=user['orders'][0])\na = order['address']\n"
                "print('Your order ships to', a['address1'], a['city'], a['zip'])\n",
                _first_order_answer(d.world, who.user),
            )
        )
    return read_task(d, text, v, solution, cases)


def _first_order_answer(world: World, user: Record) -> str:
    a = record(world, "orders", user["orders"][0])["address"]
    return said("Your order ships to", a["address1"], a["city"], a["zip"])
