"""Retail question families about the catalog: a variant's price, what is in stock, what an exchange would cost.

Answers are read as numbers however they are written; the exchange quote must also say which way the money goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from toolgym.tasks.format import CodeAsTask

from toolgym.world import World

from .family_code import Case, read_task, read_verifier, said, transfer_case
from .family_words import (
    NO_CHANGE,
    ask,
    identify,
    item_match,
    item_phrase,
    noun,
    opening,
    options_phrase,
    refer_order,
)
from .family_world import Record, distinct_items, first_found, index, one_option_away, paid_with, pick, record

Spec = Mapping[str, Any]

UP_WORDS: tuple[str, ...] = ("more", "extra", "additional", "owe", "higher")
DOWN_WORDS: tuple[str, ...] = ("back", "refund", "less", "cheaper", "lower", "save")


def make_variant_price(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """How much does the <product> with <options> cost?

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)
    products = [key for key, _ in world.table("products")]

    def build(product_id: str) -> CodeAsTask | None:
        product = record(world, "products", product_id)
        variants = list(product["variants"].values())
        variant = pick(rng, variants)
        price = variant["price"]
        name = product["name"]
        who = identify(rng, world, pick(rng, ix.users))
        described = options_phrase(variant["options"])
        text = ask(
            rng,
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
        verifier = v.source()
        find = (
            f"{who.lookup}\nproduct = get_product_details(product_id=list_all_product_types()[{name!r}])\n"
            f"want = {dict(variant['options'])!r}\n"
        )
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
            and sum(v2["options"][d] != variant["options"][d] for d in variant["options"]) == 1
        ]
        if near:
            wrong = pick(rng, near)
            cases.append(
                Case(
                    "reads a variant that differs in one option",
                    f"{who.lookup}\nproduct = get_product_details(product_id=list_all_product_types()[{name!r}])\n"
                    f"print('The', {name!r}, 'with those options costs', product['variants'][{wrong['item_id']!r}]['price'])\n",
                    said("The", name, "with those options costs", wrong["price"]),
                    must=True,
                )
            )
        return read_task(rng, spec, world, text, verifier, solution, cases)

    return first_found(rng, products, build)


def make_stock_count(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """How many <product> variants with <option> are in stock, and what is the cheapest?

    Args:
        world: The world.
        spec: Its spec.
        rng: The generator.

    Returns:
        A task, or ``None``.
    """
    ix = index(world)
    products = [key for key, _ in world.table("products")]

    def build(product_id: str) -> CodeAsTask | None:
        product = record(world, "products", product_id)
        variants = list(product["variants"].values())
        dim = pick(rng, list(variants[0]["options"]))
        value = pick(rng, [v["options"][dim] for v in variants])
        matching = [v for v in variants if v["options"][dim] == value]
        stocked = [v for v in matching if v["available"]]
        if not stocked:
            return None
        name = product["name"]
        who = identify(rng, world, pick(rng, ix.users))
        count, low = len(stocked), min(v["price"] for v in stocked)
        text = pick(
            rng,
            (
                f"I'm shopping for a {noun(name)} with {dim}: {value}. How many such variants are in stock right "
                "now, and what's the cheapest one's price?",
                f"How many {noun(name)} variants with {dim}: {value} are currently available, and what is the "
                "lowest price among them?",
            ),
        )
        text = f"{who.intro} {text}{pick(rng, NO_CHANGE)}"
        v = read_verifier()
        v.require(f"says(answer, {count!r}) and says(answer, {low!r})")
        verifier = v.source()

        def counting(condition: str) -> str:
            return (
                f"{who.lookup}\nproduct = get_product_details(product_id=list_all_product_types()[{name!r}])\n"
                f"found = [v for v in product['variants'].values() if {condition}]\n"
                "print('There are', len(found), 'in stock; the cheapest costs', min(v['price'] for v in found))\n"
            )

        def predicted(chosen: Sequence[Record]) -> str:
            return said(
                "There are", len(chosen), "in stock; the cheapest costs", min(v["price"] for v in chosen)
            )

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
                f"{who.lookup}\nproduct = get_product_details(product_id=list_all_product_types()[{name!r}])\n"
                f"print('There are', len([v for v in product['variants'].values() if {wanted} and v['available']]), "
                "'in stock')\n",
                said("There are", count, "in stock"),
            ),
        ]
        return read_task(rng, spec, world, text, verifier, solution, cases)

    return first_found(rng, products, build)


def make_exchange_quote(world: World, spec: Spec, rng: np.random.Generator) -> CodeAsTask | None:
    """What would exchanging this delivered item for another variant cost, and which way does the money go?

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
        if not distinct_items(order):
            return None
        item = pick(rng, order["items"])
        product = record(world, "products", item["product_id"])
        alternatives = one_option_away(product, item["options"])
        if not alternatives:
            return None
        dim, variant = pick(rng, alternatives)
        diff = round(variant["price"] - item["price"], 2)
        if abs(diff) < 0.01:
            return None
        who = identify(rng, world, order["user_id"])
        ref = refer_order(rng, world, who, order_id, id_weight=0.2)
        old = item_phrase(order, item, with_options=True)
        text = (
            f"{who.intro} I'm thinking about exchanging {old} from {ref.phrase} for the one with {dim}: "
            f"{variant['options'][dim]}, everything else the same. What would the price difference be, and would I "
            "pay more or get money back? Don't make the exchange yet."
        )
        right, wrong = (UP_WORDS, DOWN_WORDS) if diff > 0 else (DOWN_WORDS, UP_WORDS)
        v = read_verifier()
        v.line("text = answer.lower()")
        v.require(f"says(answer, {abs(diff)!r})")
        v.require(f"any(w in text for w in {list(right)!r}) and not any(w in text for w in {list(wrong)!r})")
        verifier = v.source()
        find = (
            f"{opening(who)}{ref.find}old = [i for i in order['items'] if {item_match(order, item)}][0]\n"
            "product = get_product_details(product_id=old['product_id'])\n"
            f"want = dict(old['options'])\nwant[{dim!r}] = {variant['options'][dim]!r}\n"
            "new = [v for v in product['variants'].values() if v['options'] == want][0]\n"
            "diff = round(new['price'] - old['price'], 2)\n"
        )
        telling = (
            "if diff > 0:\n    print('The new one costs', diff, 'more, so you would pay the extra', diff)\n"
            "else:\n    print('The new one is cheaper, so you would get', -diff, 'back')\n"
        )

        def predicted(d: float) -> str:
            if d > 0:
                return said("The new one costs", d, "more, so you would pay the extra", d)
            return said("The new one is cheaper, so you would get", -d, "back")

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
        others = [v2 for d2, v2 in alternatives if v2["item_id"] != variant["item_id"]]
        if others:
            other = pick(rng, others)
            other_diff = round(other["price"] - item["price"], 2)
            cases.append(
                Case(
                    "prices the wrong variant",
                    f"{opening(who)}{ref.find}old = [i for i in order['items'] if {item_match(order, item)}][0]\n"
                    f"product = get_product_details(product_id=old['product_id'])\n"
                    f"new = product['variants'][{other['item_id']!r}]\n"
                    f"diff = round(new['price'] - old['price'], 2)\n{telling}",
                    predicted(other_diff),
                )
            )
        return read_task(
            rng, spec, world, text, verifier, solution=(find + telling, predicted(diff)), cases=cases
        )

    return first_found(rng, ix.orders.get("delivered", ()), build)
