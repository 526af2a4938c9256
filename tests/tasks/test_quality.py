"""Task quality filters: near-duplicate removal, the ambiguity screen and the difficulty band."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from task_samples import SMALL_WORLD, cancel_task, pending_order
from toolgym.tasks import CaTEnv, CodeAsTask, load_bank
from toolgym.tasks.ambiguity import AmbiguityResult, screen_ambiguity, unnamed_values
from toolgym.tasks.quality import BandResult, DedupResult, dedup_key, dedupe, difficulty_band, pass_rates

from toolgym.actions import CodeBlock, Message
from toolgym.domains import get_domain
from toolgym.policies.base import Conversation
from toolgym.world import World

BANK = load_bank("retail-v0")


def variant(task: CodeAsTask, **changes: Any) -> CodeAsTask:
    """The task with some fields replaced and its id recomputed."""
    return dataclasses.replace(task, id="", **changes)


def world_of(task: CodeAsTask) -> World:
    return get_domain(task.domain).build_world(task.world)


# --- near-duplicates ---------------------------------------------------------------------------------------------

REFORMATTED_VERIFIER = '''def evaluate(state, answer, initial):
    """Checks the cancellation."""
    order = state["orders"][{oid!r}]  # the order the user named
    return (order["status"] == "cancelled" and
            order["cancel_reason"] == 'no longer needed'
            and changed_records(state, initial) == [("orders", {oid!r},)]
            and "cancelled" in answer.lower())
'''


def test_dedup_ignores_formatting_comments_case_and_punctuation(task: CodeAsTask, small_world: World) -> None:
    oid, _order, _user = pending_order(small_world)
    shouting = re.sub(r"[.:]", " !", task.instruction.upper()).replace(" ", "   \n ")
    copy = variant(task, instruction=shouting, verifier=REFORMATTED_VERIFIER.format(oid=oid))
    assert copy.id != task.id and dedup_key(copy) == dedup_key(task)
    result = dedupe([task, copy])
    assert isinstance(result, DedupResult)
    assert result.kept == [task] and result.duplicate_of == {copy.id: task.id}
    assert result.dropped == {copy.id: f"duplicate of {task.id}"}
    assert result.summary() == {"total": 2, "kept": 1, "dropped": 1}
    json.dumps(result.summary())


def test_dedup_keeps_different_numbers_ids_and_code_apart(task: CodeAsTask, small_world: World) -> None:
    oid, _order, _user = pending_order(small_world)
    others = [
        variant(task, instruction=task.instruction.replace(oid, "#W0000001")),
        variant(task, instruction=task.instruction + " It cost 7.47."),
        variant(task, instruction=task.instruction + " It cost 747."),
        variant(task, verifier=task.verifier.replace("no longer needed", "ordered by mistake")),
        variant(task, verifier=task.verifier.replace("==", "!=", 1)),
        variant(task, domain="airline"),
    ]
    keys = [dedup_key(t) for t in [task, *others]]
    assert len(set(keys)) == len(keys)
    assert dedupe([task, *others]).kept == [task, *others]


def test_the_first_of_each_key_wins_and_unparsable_verifiers_compare_as_text(task: CodeAsTask) -> None:
    broken = variant(task, verifier="def evaluate(state, answer:\n    return  True")
    respaced = variant(broken, verifier="def evaluate(state,   answer:\n return True\n")
    other = variant(broken, verifier="def evaluate(state, answer:\n    return False")
    assert dedup_key(respaced) == dedup_key(broken) != dedup_key(other)
    later = variant(task, instruction=task.instruction + "  ")
    result = dedupe([broken, task, other, later, variant(broken, verifier=broken.verifier + "\n\n"), task])
    assert [t.id for t in result.kept] == [broken.id, task.id, other.id]
    assert result.duplicate_of[later.id] == task.id and result.duplicate_of[task.id] == task.id
    assert result.summary()["dropped"] == 3
    assert dedupe([]).summary() == {"total": 0, "kept": 0, "dropped": 0}


_WORDS = st.lists(st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789#_-.,!?'", min_size=1), min_size=1)
_SPACES = st.text(" \t\n", min_size=1, max_size=3)


def reformat(source: str, indent: int, comment: str, blank_every: int) -> str:
    """The same code re-indented, with comments, blank lines and a docstring added."""
    lines = []
    for number, line in enumerate(source.splitlines()):
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        lines.append(" " * (indent * depth) + stripped + (f"  # {comment}" if stripped else ""))
        if number == 0:
            lines.append(" " * indent + repr(comment))
        if blank_every and number % blank_every == 0:
            lines.append("")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(
    words=_WORDS,
    gaps=st.lists(_SPACES, min_size=1),
    flips=st.lists(st.booleans(), min_size=1),
    which=st.integers(0, len(BANK.tasks) - 1),
    indent=st.integers(1, 8),
    comment=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20),
    blank_every=st.integers(0, 5),
)
def test_dedup_key_ignores_whitespace_case_and_verifier_layout(
    words: list[str],
    gaps: list[str],
    flips: list[bool],
    which: int,
    indent: int,
    comment: str,
    blank_every: int,
) -> None:
    base = BANK.tasks[which]
    plain = variant(base, instruction=" ".join(words))
    spaced = "".join(w + gaps[i % len(gaps)] for i, w in enumerate(words))
    cased = "".join(c.swapcase() if flips[i % len(flips)] else c for i, c in enumerate(spaced))
    moved = variant(base, instruction=cased, verifier=reformat(base.verifier, indent, comment, blank_every))
    assert dedup_key(moved) == dedup_key(plain)


# --- ambiguity -----------------------------------------------------------------------------------------------------


def test_the_shipped_tasks_name_every_value_their_verifiers_check() -> None:
    calls: Counter[str] = Counter()

    def build(task: CodeAsTask) -> World:
        calls[task.id] += 1
        return world_of(task)

    result = screen_ambiguity(BANK.tasks, build)
    assert isinstance(result, AmbiguityResult)
    assert result.flagged == {} and len(result.kept) == len(BANK.tasks) == 36
    assert result.summary() == {"total": 36, "kept": 36, "dropped": 0, "flagged": 0}
    assert set(calls.values()) == {1}


def test_a_verifier_checking_an_address_the_instruction_omits_is_flagged() -> None:
    # Camila Palmer's address change, with the new address left out of the instruction.
    task = next(t for t in BANK.tasks if "1430 Grand Avenue" in t.instruction)
    vague = variant(task, instruction=task.instruction.split("Please send")[0] + "Send it to my new place.")
    assert "1430 Grand Avenue" in unnamed_values(vague, world_of(vague))
    result = screen_ambiguity([task, vague])
    assert result.kept == [task] and "1430 Grand Avenue" in result.flagged[vague.id]
    assert result.dropped[vague.id].startswith("unnamed values: '1430 Grand Avenue'")


def address_task(instruction: str, street: str) -> CodeAsTask:
    world = get_domain("retail").build_world(SMALL_WORLD)
    oid, _order, user = pending_order(world)
    verifier = (
        "def evaluate(state, answer, initial):\n"
        f"    address = state['orders']['{oid}']['address']\n"
        f"    return address.get('address1') == '{street}' and address['city'] == 'Nowhere'\n"
    )
    return cancel_task(world, instruction=f"I am {user['email']}. {instruction}", verifier=verifier)


def test_addresses_named_in_the_instruction_pass_and_field_names_are_not_values() -> None:
    world = get_domain("retail").build_world(SMALL_WORLD)
    named = address_task("Ship order to 12 Nowhere Road, NOWHERE.", "12 Nowhere Road")
    assert unnamed_values(named, world) == []
    vague = address_task("Ship it to my new place.", "12 Nowhere Road")
    assert unnamed_values(vague, world) == ["12 Nowhere Road", "Nowhere"]  # not 'address1', 'city', 'orders'


def test_choices_must_be_named_even_when_documented(small_world: World) -> None:
    task = cancel_task(small_world)  # 'no longer needed' named by 'I no longer need it'
    assert unnamed_values(task, small_world) == []
    silent = variant(task, instruction=task.instruction.replace(": I no longer need it", ""))
    assert unnamed_values(silent, small_world) == ["no longer needed"]
    mistake = variant(
        silent,
        instruction=silent.instruction + " I ordered it by mistake.",
        verifier=task.verifier.replace("no longer needed", "ordered by mistake"),
    )
    assert unnamed_values(mistake, small_world) == []


def screened(verifier: str, instruction: str, world: World) -> list[str]:
    task = cancel_task(world, instruction=instruction, verifier=f"def evaluate(state, answer):\n{verifier}")
    return unnamed_values(task, world)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Outcomes the domain's policy documents, and values of the world, need no naming.
        ("    return state['orders']['#W1']['status'] in ('return requested', 'cancelled')", []),
        ("    return answer == 'pending (item modified)'", []),
        # Subscript keys, .get keys and other calls' arguments are processing, not values.
        ("    return state['frobnicated'].get('zapped', 'x') == 1 and answer.replace('qqq', '') == ''", []),
        # Short literals and numbers are ignored; a name bound to literals and compared is followed.
        ("    want = ['ab', '4213.07', 'four', 'Wibble Lane']\n    return answer in want", ["Wibble Lane"]),
        # Fragments are looked for inside world strings; whole values must match one.
        ("    return '9120944' in answer and 'xylophone' in answer.lower()", ["xylophone"]),
        ("    return answer.startswith('zebra crossing')", ["zebra crossing"]),
        # Literals reached only through loops or f-strings are not seen (a documented blind spot).
        ("    return all(w in answer for w in ('quuxly', 'blorp')) and answer == f'{answer}zz-top'", []),
        ("    return answer == 'Please'  # named by the instruction", []),
        ("    return answer ==", []),
    ],
)
def test_literal_rules(small_world: World, body: str, expected: list[str]) -> None:
    assert screened(body, "Please help me with my order.", small_world) == expected


def test_words_match_by_prefix_of_four_or_more(small_world: World) -> None:
    body = "    return answer == 'order mistakes' or answer == 'red car'"
    assert screened(body, "I ordered it by mistake, a redder cart.", small_world) == ["red car"]
    _key, order = next(iter(small_world.table("orders")))
    item = order["items"][0]
    looked_up = [item["name"].upper(), *item["options"].values(), order["address"]["address1"]]
    assert screened(f"    return answer in {looked_up!r}", "hi", small_world) == []


def test_world_strings_are_built_once_per_loaded_world(small_world: World) -> None:
    from toolgym.tasks import ambiguity

    first = ambiguity._world_strings(small_world)
    assert ambiguity._world_strings(small_world.fork()) is first
    changed = small_world.fork()
    changed.put("orders", "#Wnew", {"status": "zonked out"})
    assert "zonked out" in ambiguity._world_strings(changed)[0]
    assert "zonked out" not in ambiguity._world_strings(small_world)[0]


# --- difficulty band -----------------------------------------------------------------------------------------------


class PatternPolicy:
    """Solves a task with its example solution on some attempts and says nonsense on the others.

    ``patterns`` maps an instruction to the attempts (first turns, counted per instruction) that succeed, as a
    function of the attempt number.
    """

    name = "scripted:pattern"
    action_format = "code"

    def __init__(self, plays: dict[str, tuple[str, str]], patterns: dict[str, Any]) -> None:
        self.plays, self.patterns = plays, patterns
        self.attempts: Counter[str] = Counter()

    def generate(
        self, conversations: Sequence[Conversation], tools: Any = None, sampling: Any = None, **_: Any
    ) -> list[str]:
        out = []
        for conversation in conversations:
            instruction = conversation[1]["content"]
            code, answer = self.plays[instruction]
            if len(conversation) > 2:
                out.append(answer)
                continue
            attempt = self.attempts[instruction]
            self.attempts[instruction] += 1
            solve = self.patterns[instruction](attempt)
            out.append(f"```python\n{code}\n```" if solve else "Blorp. I sold your order to a pelican.")
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def three() -> tuple[list[CodeAsTask], dict[str, tuple[str, str]]]:
    tasks = list(BANK.tasks[:3])
    env = CaTEnv(tasks, split="all")
    plays = {}
    for task in tasks:
        env.reset(options={"task_id": task.id})
        code, message = env.walkthrough()
        assert isinstance(code, CodeBlock) and isinstance(message, Message)
        plays[task.instruction] = (code.source, message.content)
    env.close()
    return tasks, plays


def test_pass_rates_and_the_band_keep_exactly_the_learnable_tasks(
    three: tuple[list[CodeAsTask], dict[str, tuple[str, str]]],
) -> None:
    tasks, plays = three
    always, never, half = tasks
    policy = PatternPolicy(
        plays,
        {
            always.instruction: lambda i: True,
            never.instruction: lambda i: False,
            half.instruction: lambda i: i % 2 == 0,
        },
    )
    rates = pass_rates([*tasks, always], policy, samples=4, seed=3, batch_size=5, env_kwargs={"max_turns": 3})
    assert rates == {always.id: 1.0, never.id: 0.0, half.id: 0.5}
    assert list(rates) == [t.id for t in tasks]
    assert sum(policy.attempts.values()) == 12

    band = difficulty_band(tasks, rates)
    assert isinstance(band, BandResult)
    assert band.kept == [half]
    assert band.dropped[never.id].startswith("too hard") and band.dropped[always.id].startswith("too easy")
    summary = band.summary()
    assert summary == {
        "total": 3,
        "kept": 1,
        "dropped": 2,
        "too_hard": 1,
        "too_easy": 1,
        "unmeasured": 0,
        "low": 0.0,
        "high": 1.0,
        "inclusive": False,
    }
    json.dumps(summary)
    assert difficulty_band(tasks, rates, 0.5, 1.0, inclusive=True).kept == [always, half]
    assert difficulty_band(tasks, rates, 0.5, 1.0).kept == []
    assert difficulty_band(tasks, rates, 0.0, 0.5, inclusive=True).kept == [never, half]
    partial = difficulty_band(tasks, {half.id: 0.5})
    assert partial.kept == [half] and partial.summary()["unmeasured"] == 2
    assert partial.dropped[always.id] == "unmeasured: no pass rate"


def test_bad_arguments_are_refused_clearly(
    three: tuple[list[CodeAsTask], dict[str, tuple[str, str]]],
) -> None:
    tasks, plays = three
    policy = PatternPolicy(plays, {})
    for low, high in [(-0.1, 1.0), (0.0, 1.5), (0.8, 0.2), (float("nan"), 1.0)]:
        with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
            difficulty_band(tasks, {}, low, high)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        difficulty_band(tasks, {tasks[0].id: 1.5})
    with pytest.raises(ValueError, match="samples must be at least 1"):
        pass_rates(tasks, policy, samples=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        pass_rates(tasks, policy, batch_size=0)
    with pytest.raises(ValueError, match="at least one task"):
        pass_rates([], policy)
    with pytest.raises(ValueError, match="split"):
        pass_rates(tasks, policy, env_kwargs={"split": "train"})
    assert policy.attempts == Counter()
    assert difficulty_band([], {}).summary()["total"] == 0
