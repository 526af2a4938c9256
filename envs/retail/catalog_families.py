"""Retail question families about the catalog: a variant's price, what is in stock, what an exchange would cost.

Answers are read as numbers however they are written; the exchange quote must also say which way the money goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolgym.tasks.format import CodeAsTask

from .family_code import Case, read_task, read_verifier, said, transfer_case
from .family_words import (
    Who,
    ask,
    identify,
    item_match,
    item_phrase,
    noun,
    opening,
    options_phrase,
    owner_and_ref,
)
from .family_world import Draw, Record, distinct_items, drawn_from, one_option_away, paid_with, pick, record

UP_WORDS: tuple[str, ...] = ("more", "extra", "additional", "owe", "higher")
DOWN_WORDS: tuple[str, ...] = ("back", "refund", "less", "cheaper", "lower", "save")


@drawn_from(lambda d: d.index.products)
def make_variant_price(d: Draw, product_id: str) -> CodeAsTask | None:
    """How much does the <product> with <options> cost?"""
    product = record(d.world, "products", product_id)
    variants = list(product["variants"].values())
    variant = pick(d.rng, variants)
    price = variant["price"]
    name = product["name"]
    who = identify(d.rng, d.world, pick(d.rng, d.index.users))
    described = options_phrase(variant["options"])
    text = ask(
        d.rng,
        who.intro,
        (
            f"How much does the {noun(name)} with {described} cost?",
            f"I'm thinking of buying the {noun(name)} with {described}. What's its price?",
            f"What's the price of the {noun(name)} variant with {described}?",
        ),
    )
    v = read_verifier()
    prices = sorted({v2["price"] for v2 in variants})
    # The first of the product's prices the answer names must be this variant's: a list of every price fails.
    v.line(f"named = [n for n in numbers(answer) if any(abs(n - p) < 0.006 for p in {prices!r})]")
    v.require(f"named and abs(named[0] - {price!r}) < 0.006")
    lookup = _product_lookup(who, name)
    find = f"{lookup}want = {dict(variant['options'])!r}\n"
    solution = (
        f"{find}variant = [v for v in product['variants'].values() if v['options'] == want][0]\n"
        f"print('The', {name!r}, 'with those options costs', variant['price'])\n",
        said("The", name, "with those options costs", price),
    )
    cheapest = min(v2["price"] for v2 in variants)
    cases = [
        transfer_case(who, "User asks for a product's price"),
        Case(
            "quotes the cheapest variant",
            f"{find}low = min(v['price'] for v in product['variants'].values())\n"
            f"print('The', {name!r}, 'costs', low)\n",
            said("The", name, "costs", cheapest),
        ),
        Case(
            "gives the item id instead of the price",
            f"{find}variant = [v for v in product['variants'].values() if v['options'] == want][0]\n"
            f"print('That', {name!r}, 'is item', variant['item_id'])\n",
            said("That", name, "is item", variant["item_id"]),
        ),
    ]
    near = [
        v2
        for v2 in variants
        if v2 is not variant
        and sum(v2["options"][dim] != variant["options"][dim] for dim in variant["options"]) == 1
    ]
    if near:
        wrong = pick(d.rng, near)
        cases.append(
            Case(
                "reads a variant that differs in one option",
                f"{lookup}print('The', {name!r}, 'with those options costs', product['variants'][{wrong['item_id']!r}]['price'])\n",
                said("The", name, "with those options costs", wrong["price"]),
                must=True,
            )
        )
    return read_task(d, text, v, solution, cases)


@drawn_from(lambda d: d.index.products)
def make_stock_count(d: Draw, product_id: str) -> CodeAsTask | None:
    """How many <product> variants with <option> are in stock, and what is the cheapest?"""
    product = record(d.world, "products", product_id)
    variants = list(product["variants"].values())
    dim = pick(d.rng, list(variants[0]["options"]))
    value = pick(d.rng, [v["options"][dim] for v in variants])
    matching = [v for v in variants if v["options"][dim] == value]
    stocked = [v for v in matching if v["available"]]
    if not stocked:
        return None
    name = product["name"]
    who = identify(d.rng, d.world, pick(d.rng, d.index.users))
    count, low = len(stocked), min(v["price"] for v in stocked)
    text = ask(
        d.rng,
        who.intro,
        (
            f"I'm shopping for a {noun(name)} with {dim}: {value}. How many such variants are in stock right "
            "now, and what's the cheapest one's price?",
            f"How many {noun(name)} variants with {dim}: {value} are currently available, and what is the "
            "lowest price among them?",
        ),
    )
    v = read_verifier()
    v.require_says(count, low)
    lookup = _product_lookup(who, name)

    def counting(condition: str) -> str:
        return (
            f"{lookup}found = [v for v in product['variants'].values() if {condition}]\n"
            "print('There are', len(found), 'in stock; the cheapest costs', min(v['price'] for v in found))\n"
        )

    def predicted(chosen: Sequence[Record]) -> str:
        return said("There are", len(chosen), "in stock; the cheapest costs", min(v["price"] for v in chosen))

    wanted = f"v['options'][{dim!r}] == {value!r}"
    solution = (counting(f"{wanted} and v['available']"), predicted(stocked))
    cases = [
        transfer_case(who, "User asks about stock"),
        Case("ignores availability", counting(wanted), predicted(matching), must=True),
        Case(
            "ignores the option",
            counting("v['available']"),
            predicted([v for v in variants if v["available"]]),
            must=True,
        ),
        Case(
            "gives the count but no price",
            f"{lookup}print('There are', len([v for v in product['variants'].values() if {wanted} and v['available']]), "
            "'in stock')\n",
            said("There are", count, "in stock"),
        ),
    ]
    return read_task(d, text, v, solution, cases)


@drawn_from(lambda d: d.index.with_status("delivered"))
def make_exchange_quote(d: Draw, order_id: str) -> CodeAsTask | None:
    """What would exchanging this delivered item for another variant cost, and which way does the money go?"""
    order = record(d.world, "orders", order_id)
    if not distinct_items(order):
        return None
    item = pick(d.rng, order["items"])
    product = record(d.world, "products", item["product_id"])
    alternatives = one_option_away(product, item["options"])
    if not alternatives:
        return None
    dim, variant = pick(d.rng, alternatives)
    diff = round(variant["price"] - item["price"], 2)
    if abs(diff) < 0.01:
        return None
    who, ref = owner_and_ref(d, order, id_weight=0.2)
    old = item_phrase(order, item, with_options=True)
    text = (
        f"{who.intro} I'm thinking about exchanging {old} from {ref.phrase} for the one with {dim}: "
        f"{variant['options'][dim]}, everything else the same. What would the price difference be, and would I "
        "pay more or get money back? Don't make the exchange yet."
    )
    right, wrong = (UP_WORDS, DOWN_WORDS) if diff > 0 else (DOWN_WORDS, UP_WORDS)
    v = read_verifier()
    v.line("text = answer.lower()")
    v.require_says(abs(diff))
    v.require(f"any(w in text for w in {list(right)!r}) and not any(w in text for w in {list(wrong)!r})")
    old_found = (
        f"{opening(who)}{ref.find}old = [i for i in order['items'] if {item_match(order, item)}][0]\n"
        "product = get_product_details(product_id=old['product_id'])\n"
    )
    find = (
        f"{old_found}want = dict(old['options'])\nwant[{dim!r}] = {variant['options'][dim]!r}\n"
        "new = [v for v in product['variants'].values() if v['options'] == want][0]\n"
        "diff = round(new['price'] - old['price'], 2)\n"
    )
    telling = (
        "if diff > 0:\n    print('The new one costs', diff, 'more, so you would pay the extra', diff)\n"
        "else:\n    print('The new one is cheaper, so you would get', -diff, 'back')\n"
    )

    def predicted(delta: float) -> str:
        if delta > 0:
            return said("The new one costs", delta, "more, so you would pay the extra", delta)
        return said("The new one is cheaper, so you would get", -delta, "back")

    flipped = (
        "if diff > 0:\n    print('The new one is cheaper, so you would get', diff, 'back')\n"
        "else:\n    print('The new one costs', -diff, 'more, so you would pay the extra', -diff)\n"
    )
    cases = [
        transfer_case(who, "User asks about an exchange's price"),
        Case("gets the direction wrong", find + flipped, predicted(-diff), must=True),
        Case(
            "quotes the new item's price, not the difference",
            f"{find}print('The new one costs', new['price'])\n",
            said("The new one costs", variant["price"]),
            must=True,
        ),
        Case(
            "requests the exchange although asked not to",
            f"{find}exchange_delivered_order_items(order_id=oid, item_ids=[old['item_id']], "
            f"new_item_ids=[new['item_id']], payment_method_id={paid_with(order)!r})\n{telling}",
            None,
        ),
    ]
    others = [v2 for _, v2 in alternatives if v2["item_id"] != variant["item_id"]]
    if others:
        other = pick(d.rng, others)
        other_diff = round(other["price"] - item["price"], 2)
        cases.append(
            Case(
                "prices the wrong variant",
                f"{old_found}new = product['variants'][{other['item_id']!r}]\n"
                f"diff = round(new['price'] - old['price'], 2)\n{telling}",
                predicted(other_diff),
            )
        )
    return read_task(d, text, v, (find + telling, predicted(diff)), cases)


def _product_lookup(who: Who, name: str) -> str:
    """Code finding the user and binding ``product`` to the details of the product with that name."""
    return f"{who.lookup}\nproduct = get_product_details(product_id=list_all_product_types()[{name!r}])\n"
