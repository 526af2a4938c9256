"""How the retail task families talk: users introduce themselves, and orders, items and cards are named.

Users identify themselves by name and email or by name and zip; orders are described by their items (or, now and
then, by id), payment methods by their kind and last digits, variants by their options. Each description comes
with the code that finds the described record again, so the example solutions follow the instruction rather than
a hidden id. Every literal in generated code is written with ``repr``, so the same case always gives the same
bytes. Addresses are written by :mod:`~toolgym.envs.retail.family_addresses`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from toolgym.world import World

from .family_world import Draw, Record, chance, index, pick, record

# --- words ---------------------------------------------------------------------------------------------------------

_NOUNS = {"T-Shirt": "T-shirt", "Bluetooth Speaker": "Bluetooth speaker"}
_PLURALS = {
    "Jeans": "pairs of jeans",
    "Running Shoes": "pairs of running shoes",
    "Sunglasses": "pairs of sunglasses",
    "Wireless Headphones": "pairs of wireless headphones",
}
_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}
CARD_NAMES = {
    "visa": "Visa card",
    "mastercard": "Mastercard",
    "amex": "Amex card",
    "discover": "Discover card",
}


def noun(name: str) -> str:
    """A product name as it reads inside a sentence (``"Camping Tent"`` → ``"camping tent"``).

    Args:
        name: The product name.

    Returns:
        The noun.
    """
    return _NOUNS.get(name, name.lower())


def plural(name: str) -> str:
    """The plural of a product's noun.

    Args:
        name: The product name.

    Returns:
        E.g. ``"camping tents"``, ``"pairs of jeans"``, ``"wristwatches"``.
    """
    if name in _PLURALS:
        return _PLURALS[name]
    word = noun(name)
    return word + ("es" if word.endswith(("ch", "sh", "s", "x")) else "s")


def join_words(parts: Sequence[str]) -> str:
    """``["a", "b", "c"]`` → ``"a, b and c"``.

    Args:
        parts: The parts.

    Returns:
        The joined text.
    """
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def items_phrase(names: Sequence[str]) -> str:
    """The items of an order, in order of first appearance: ``"the hoodie and two camping tents"``.

    Args:
        names: The product names of the items.

    Returns:
        The phrase.
    """
    counts = Counter(names)
    parts: list[str] = []
    for name in dict.fromkeys(names):
        n = counts[name]
        parts.append(f"the {noun(name)}" if n == 1 else f"{_COUNTS.get(n, str(n))} {plural(name)}")
    return join_words(parts)


def options_phrase(options: Mapping[str, str]) -> str:
    """A variant's options as ``"size: M, color: black"`` (``dimension: value`` keeps yes/no options readable).

    Args:
        options: The options.

    Returns:
        The phrase.
    """
    return ", ".join(f"{dim}: {value}" for dim, value in options.items())


def cap(text: str) -> str:
    """Capitalise the first letter only.

    Args:
        text: The text.

    Returns:
        The text with an upper-case first letter.
    """
    return text[:1].upper() + text[1:]


# --- users ---------------------------------------------------------------------------------------------------------

_EMAIL_INTROS = (
    "I'm {name} ({email}).",
    "Hi, this is {name}, email {email}.",
    "My name is {name} and my email is {email}.",
    "Hello, {name} here ({email}).",
)
_ZIP_INTROS = (
    "I'm {name}, zip code {zip}.",
    "This is {name}; my zip code is {zip}.",
    "Hi, I'm {name} from zip code {zip}. I don't remember which email I used.",
)


@dataclass(frozen=True)
class Who:
    """How the user of a task introduces themself, and how code finds them.

    Attributes:
        user_id: The user's id.
        user: The user's record.
        intro: The instruction's opening sentence.
        lookup: A line of code binding ``uid`` to the user's id.
    """

    user_id: str
    user: Record
    intro: str
    lookup: str


def identify(rng: np.random.Generator, world: World, user_id: str) -> Who:
    """Introduce a user by name and email (mostly) or by name and zip.

    Args:
        rng: The generator.
        world: The world.
        user_id: The user.

    Returns:
        The introduction and the lookup.
    """
    user = record(world, "users", user_id)
    first, last = user["name"]["first_name"], user["name"]["last_name"]
    name = f"{first} {last}"
    if chance(rng, 0.7):
        intro = pick(rng, _EMAIL_INTROS).format(name=name, email=user["email"])
        lookup = f"uid = find_user_id_by_email(email={user['email']!r})"
    else:
        zip_code = user["address"]["zip"]
        intro = pick(rng, _ZIP_INTROS).format(name=name, zip=zip_code)
        lookup = f"uid = find_user_id_by_name_zip(first_name={first!r}, last_name={last!r}, zip={zip_code!r})"
    return Who(user_id, user, intro, lookup)


def opening(who: Who) -> str:
    """The first lines of every script: find the user and read their profile.

    Args:
        who: The user.

    Returns:
        Two lines of code binding ``uid`` and ``user``.
    """
    return f"{who.lookup}\nuser = get_user_details(user_id=uid)\n"


# --- orders --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRef:
    """How an instruction points at one order, and the code that finds it from that description.

    Attributes:
        order_id: The order.
        phrase: A noun phrase, e.g. ``"my pending order with the hoodie and the backpack"``.
        find: Code (after :func:`opening`) binding ``order`` to the order's details and ``oid`` to its id.
        by_id: Whether the phrase gives the order id.
    """

    order_id: str
    phrase: str
    find: str
    by_id: bool


def _scan(condition: str) -> str:
    return (
        "order = None\n"
        "for candidate in user['orders']:\n"
        "    details = get_order_details(order_id=candidate)\n"
        "    names = sorted(item['name'] for item in details['items'])\n"
        f"    if {condition}:\n"
        "        order = details\n"
        "oid = order['order_id']\n"
    )


def refer_order(
    rng: np.random.Generator, world: World, who: Who, order_id: str, *, id_weight: float = 0.25
) -> OrderRef:
    """Describe one of a user's orders: by its items, by one item only it has, as the only one, or by id.

    Descriptions by items are unique among the user's orders with the same status, so "my pending order with the
    drone" names exactly one order even when a delivered order also holds a drone.

    Args:
        rng: The generator.
        world: The world.
        who: The order's user.
        order_id: The order.
        id_weight: How often the id itself is given.

    Returns:
        The description.
    """
    order = record(world, "orders", order_id)
    status = order["status"]
    same = [record(world, "orders", o) for o in index(world).of_user(who.user_id, status)]
    names = sorted(item["name"] for item in order["items"])
    modes: list[str] = []
    if len(same) == 1:
        modes.append("only")
    if sum(sorted(i["name"] for i in o["items"]) == names for o in same) == 1:
        modes.append("items")
    unique_names = [
        n
        for n in dict.fromkeys(i["name"] for i in order["items"])
        if sum(n in {i["name"] for i in o["items"]} for o in same) == 1
    ]
    if unique_names and len(order["items"]) > 1:
        modes.append("one_item")
    if not modes or chance(rng, id_weight):
        phrase = pick(rng, (f"my order {order_id}", f"order {order_id}", f"my {status} order {order_id}"))
        return OrderRef(
            order_id,
            phrase,
            f"order = get_order_details(order_id={order_id!r})\noid = order['order_id']\n",
            True,
        )
    mode = pick(rng, modes)
    if mode == "only":
        phrase = pick(rng, (f"my {status} order", f"my only {status} order"))
        return OrderRef(order_id, phrase, _scan(f"details['status'] == {status!r}"), False)
    if mode == "items":
        listed = items_phrase([item["name"] for item in order["items"]])
        phrase = pick(rng, (f"my {status} order with {listed}", f"the {status} order with {listed} in it"))
        return OrderRef(
            order_id, phrase, _scan(f"details['status'] == {status!r} and names == {names!r}"), False
        )
    name = pick(rng, unique_names)
    phrase = pick(
        rng,
        (f"my {status} order that has the {noun(name)} in it", f"the {status} order with the {noun(name)}"),
    )
    return OrderRef(order_id, phrase, _scan(f"details['status'] == {status!r} and {name!r} in names"), False)


def owner_and_ref(draw: Draw, order: Record, *, id_weight: float = 0.25) -> tuple[Who, OrderRef]:
    """An order's user introducing themself, and how they point at the order.

    Args:
        draw: The request.
        order: The order.
        id_weight: How often the id itself is given.

    Returns:
        The user and the description of the order.
    """
    who = identify(draw.rng, draw.world, order["user_id"])
    return who, refer_order(draw.rng, draw.world, who, order["order_id"], id_weight=id_weight)


def item_phrase(order: Record, item: Record, *, with_options: bool) -> str:
    """Describe one item of an order; its options are added when asked or when the product repeats in the order.

    Args:
        order: The order.
        item: The item.
        with_options: Always give the options.

    Returns:
        E.g. ``"the camping tent (capacity: 1-person, …)"``.
    """
    repeated = sum(i["name"] == item["name"] for i in order["items"]) > 1
    if with_options or repeated:
        return f"the {noun(item['name'])} ({options_phrase(item['options'])})"
    return f"the {noun(item['name'])}"


def item_match(order: Record, item: Record) -> str:
    """A condition on a loop variable ``i`` that holds for exactly this item of the order.

    Args:
        order: The order.
        item: The item.

    Returns:
        Python source of the condition.
    """
    if sum(i["name"] == item["name"] for i in order["items"]) > 1:
        return f"i['name'] == {item['name']!r} and i['options'] == {dict(item['options'])!r}"
    return f"i['name'] == {item['name']!r}"


# --- payment methods -----------------------------------------------------------------------------------------------


def method_phrase(method: Record) -> str:
    """A payment method as its owner names it.

    Args:
        method: The payment method record.

    Returns:
        ``"my PayPal account"``, ``"my gift card"`` or ``"my Visa card ending in 1234"``.
    """
    if method["source"] == "paypal":
        return "my PayPal account"
    if method["source"] == "gift_card":
        return "my gift card"
    card = CARD_NAMES.get(method["brand"], f"{method['brand']} card")
    return f"my {card} ending in {method['last_four']}"


def find_method(var: str, method: Record) -> str:
    """A line binding ``var`` to the id of the user's payment method named by :func:`method_phrase`.

    Args:
        var: The variable.
        method: The payment method record.

    Returns:
        One line of code (after :func:`opening`).
    """
    condition = f"m['source'] == {method['source']!r}"
    if method["source"] == "credit_card":
        condition += f" and m['last_four'] == {method['last_four']!r}"
    return f"{var} = [pid for pid, m in user['payment_methods'].items() if {condition}][0]\n"


# --- questions -----------------------------------------------------------------------------------------------------


NO_CHANGE = (" Please don't change anything.", " Just tell me; don't change anything.", "")
"""Endings of a question: users often add that nothing should change, and sometimes don't."""


def ask(rng: np.random.Generator, intro: str, questions: Sequence[str]) -> str:
    """A question's instruction: the introduction, one of the phrasings, and maybe a "don't change anything".

    Args:
        rng: The generator.
        intro: The user's introduction.
        questions: Phrasings of the question.

    Returns:
        The instruction.
    """
    return f"{intro} {pick(rng, questions)}{pick(rng, NO_CHANGE)}"
