"""How the retail task families write code: verifiers, answer checks and the failure cases of a task.

Write verifiers check exactly which records changed (``changed_records(state, initial)``) and every changed field;
question verifiers check that nothing changed and read the numbers and ids in the answer with small helpers they
define themselves (a verifier may use only the sandbox's helpers and plain Python). A question's failure cases are
checked here, against the verifier, with the answers they will print, before the task is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from toolgym.tasks.format import MIN_FAILURE_CASES, CodeAsTask

from toolgym.world import World

from .family_words import OrderRef, Who, opening
from .family_world import Draw, shuffled

MAX_FAILURES = 4
"""Failure cases kept per task: enough near-misses to pin the verifier down, few enough to validate quickly."""


# --- verifiers -----------------------------------------------------------------------------------------------------


class Verifier:
    """Writes a verifier ``evaluate(state, answer, initial)`` as a list of checks."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.preamble = ""

    def line(self, text: str) -> None:
        """Add a line to the function body (indent nested lines yourself).

        Args:
            text: The line.
        """
        self.lines.append(text)

    def require(self, condition: str) -> None:
        """Reject unless ``condition`` holds.

        Args:
            condition: A Python expression.
        """
        self.lines += [f"if not ({condition}):", "    return False"]

    def reject(self, condition: str) -> None:
        """Reject when ``condition`` holds.

        Args:
            condition: A Python expression.
        """
        self.lines += [f"if {condition}:", "    return False"]

    def require_says(self, *values: float) -> None:
        """Require the answer to state each value, however the number is written (see :data:`ANSWER_HELPERS`).

        Args:
            values: The numbers.
        """
        self.require(" and ".join(f"says(answer, {value!r})" for value in values))

    def changed(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Require exactly these records, and no other, to differ from the starting world.

        Args:
            pairs: ``(table, key)`` pairs.
        """
        self.require(f"changed_records(state, initial) == {sorted(pairs)!r}")

    def only_keys_changed(
        self, table: str, key: str, before: Mapping[str, Any], keys: Sequence[str], name: str
    ) -> None:
        """Bind ``name`` and ``name0`` to a record after and before, and require its other fields to be unchanged.

        The unchanged fields are compared one by one and the fields counted, so the check names no field the
        tools add (a field name is no value the user has to give).

        Args:
            table: The table.
            key: The record key.
            before: The record in the starting world.
            keys: The fields allowed to change (or appear).
            name: The variable for the record after; ``name + "0"`` holds it before.
        """
        added = sum(k not in before for k in keys)
        same = " and ".join(f"{name}[{k!r}] == {name}0[{k!r}]" for k in before if k not in keys)
        self.lines += [f"{name} = state[{table!r}][{key!r}]", f"{name}0 = initial[{table!r}][{key!r}]"]
        count = f"len({name}) == len({name}0)" + (f" + {added}" if added else "")
        self.require(count + (f" and {same}" if same else ""))

    def balances(self, user_id: str, user: Mapping[str, Any], expected: Mapping[str, float]) -> None:
        """Require a user's record to be unchanged except for the given gift-card balances.

        Args:
            user_id: The user.
            user: The user's record in the starting world.
            expected: Gift card id → its balance now.
        """
        self.only_keys_changed("users", user_id, user, ("payment_methods",), "u")
        methods = user["payment_methods"]
        self.line("pm = u['payment_methods']")
        self.line("pm0 = u0['payment_methods']")
        checks = [f"len(pm) == {len(methods)}"]
        for pid, method in methods.items():
            if pid in expected:
                checks.append(f"abs(pm[{pid!r}]['balance'] - {expected[pid]!r}) < 0.005")
                checks += [f"pm[{pid!r}][{k!r}] == pm0[{pid!r}][{k!r}]" for k in method if k != "balance"]
            else:
                checks.append(f"pm[{pid!r}] == pm0[{pid!r}]")
        self.require(" and ".join(checks))

    def source(self) -> str:
        """The verifier's source.

        Returns:
            Python source defining ``evaluate``.
        """
        body = "\n".join(f"    {line}" for line in self.lines)
        return f"{self.preamble}def evaluate(state, answer, initial):\n{body}\n    return True\n"


ANSWER_HELPERS = '''def numbers(text):
    """Every number in the text: '$1,234.50', '1234.5' and '1234.50' all read 1234.5."""
    text = text.replace(",", "").replace("$", " ")
    found = []
    current = ""
    for ch in text + " ":
        if ch.isdigit() or (ch == "." and current != "" and "." not in current):
            current = current + ch
        else:
            if current != "":
                found.append(float(current.rstrip(".")))
            current = ""
    return found


def says(text, value):
    return any(abs(n - value) < 0.006 for n in numbers(text))


def digit_runs(text):
    """Every run of digits, as text (ids and card digits)."""
    runs = []
    current = ""
    for ch in text + " ":
        if ch.isdigit():
            current = current + ch
        else:
            if current != "":
                runs.append(current)
            current = ""
    return runs


'''
"""Functions a read-only verifier defines before ``evaluate`` to read numbers and ids in the answer."""


def read_verifier() -> Verifier:
    """A verifier for a question: nothing may change, and the answer helpers are defined.

    Returns:
        The verifier, with the no-change check added.
    """
    verifier = Verifier()
    verifier.preamble = ANSWER_HELPERS
    verifier.changed([])
    return verifier


def judge_answer(verifier: str, answer: str, world: World) -> bool:
    """Run a read-only verifier here on an answer, the world unchanged (a cheap check of predicted outputs).

    Only verifiers the families wrote are run this way, never model-written code.

    Args:
        verifier: The verifier's source.
        answer: The answer.
        world: The task's starting world.

    Returns:
        The verdict.
    """
    scope: dict[str, Any] = {"changed_records": lambda after, before: []}
    exec(compile(verifier, "<family verifier>", "exec"), scope)
    tables = {name: dict(world.table(name)) for name in world.table_names}
    return bool(scope["evaluate"](tables, answer, tables))


# --- tasks ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A failure case of a question, with the answer it will print.

    Attributes:
        label: What it gets wrong.
        source: Its code.
        answer: What it prints, predicted here; ``None`` when it writes (the no-change check rejects it anyway).
        must: Keep it whenever it is rejected (else it is one of the cases drawn at random).
    """

    label: str
    source: str
    answer: str | None
    must: bool = False


def said(*parts: object) -> str:
    """What ``print(*parts)`` writes, without the newline: the predicted answer of a script.

    Args:
        parts: The printed values.

    Returns:
        The text.
    """
    return " ".join(str(p) for p in parts)


def transfer_case(who: Who, topic: str) -> Case:
    """The near-miss of handing a question the agent could answer to a human.

    Args:
        who: The user.
        topic: What the question is about.

    Returns:
        The case.
    """
    answer = "I have transferred you to a human agent who can help."
    source = f"{who.lookup}\ntransfer_to_human_agents(summary={topic!r})\nprint({answer!r})\n"
    return Case("hands the question to a human instead of answering", source, answer)


def read_task(
    draw: Draw, instruction: str, verifier: Verifier, solution: tuple[str, str], cases: Sequence[Case]
) -> CodeAsTask | None:
    """Assemble a question after checking, here, that the verifier accepts the solution's answer and rejects each case's.

    Cases whose predicted answer the verifier would accept (a wrong number that happens to equal the right one)
    are dropped rather than shipped.

    Args:
        draw: The request (its world is the task's starting world, unchanged).
        instruction: The instruction.
        verifier: The verifier (from :func:`read_verifier`).
        solution: The solution's code and predicted answer.
        cases: Candidate failure cases.

    Returns:
        The task, or ``None`` when the solution's answer is rejected or too few cases remain.
    """
    code, answer = solution
    source = verifier.source()
    if not judge_answer(source, answer, draw.world):
        return None
    rejected = [c for c in cases if c.answer is None or not judge_answer(source, c.answer, draw.world)]
    must = [near_miss(c.label, c.source) for c in rejected if c.must]
    optional = [near_miss(c.label, c.source) for c in rejected if not c.must]
    return _assemble(draw, instruction, source, code, must, optional)


def write_task(
    draw: Draw,
    who: Who,
    request: str,
    verifier: Verifier,
    solution: str,
    must: Sequence[str],
    optional: Sequence[str],
) -> CodeAsTask | None:
    """Assemble a task that changes the world: the user's introduction and request, and its failure cases.

    Args:
        draw: The request to the family.
        who: The user.
        request: What the user asks for, after their introduction.
        verifier: The verifier.
        solution: The example solution.
        must: Failure cases always kept.
        optional: Failure cases drawn from.

    Returns:
        The task, or ``None`` when there are too few failure cases.
    """
    return _assemble(draw, f"{who.intro} {request}", verifier.source(), solution, must, optional)


def near_miss(label: str, body: str) -> str:
    """A failure case: a comment saying what it gets wrong, then its code.

    Args:
        label: What the near-miss does wrong.
        body: The code.

    Returns:
        The failure case's source.
    """
    return f"# near miss: {label}\n{body}"


def claim(who: Who) -> str:
    """The near-miss of saying the job is done without doing it.

    Args:
        who: The user.

    Returns:
        The failure case's source.
    """
    return near_miss(
        "answers without doing anything",
        f"{who.lookup}\nprint('Done, everything is updated as you asked.')\n",
    )


def direct_miss(label: str, who: Who, *calls: str, says: str = "Done.") -> str:
    """A failure case that finds the user, then makes tool calls with literal arguments and prints a message.

    Args:
        label: What it does wrong.
        who: The user.
        calls: The calls, one a line.
        says: What it prints.

    Returns:
        The failure case's source.
    """
    lines = "".join(f"{call}\n" for call in calls)
    return near_miss(label, f"{who.lookup}\n{lines}print({says!r})\n")


def order_miss(label: str, who: Who, ref: OrderRef, code: str) -> str:
    """A failure case that finds the order as the user describes it, then goes wrong.

    Args:
        label: What it does wrong.
        who: The user.
        ref: The user's description of the order.
        code: What it runs once ``order`` and ``oid`` are bound.

    Returns:
        The failure case's source.
    """
    return near_miss(label, f"{opening(who)}{ref.find}{code}")


def choose_failures(
    rng: np.random.Generator, must: Sequence[str], optional: Sequence[str]
) -> list[str] | None:
    """Pick the failure cases of a task: every ``must`` case first, then random ``optional`` ones.

    Args:
        rng: The generator.
        must: Cases always kept (in order).
        optional: Cases to draw from.

    Returns:
        Between :data:`MIN_FAILURE_CASES` and :data:`MAX_FAILURES` cases, or ``None`` when there are too few.
    """
    chosen = list(must)[:MAX_FAILURES]
    for case in shuffled(rng, list(optional)):
        if len(chosen) >= MAX_FAILURES:
            break
        if case not in chosen:
            chosen.append(case)
    return chosen if len(chosen) >= MIN_FAILURE_CASES else None


def _assemble(
    draw: Draw, instruction: str, verifier: str, solution: str, must: Sequence[str], optional: Sequence[str]
) -> CodeAsTask | None:
    """A task with its failure cases picked by :func:`choose_failures`, or ``None`` when too few could be written.

    The challenger adds the provenance.
    """
    failures = choose_failures(draw.rng, must, optional)
    if failures is None:
        return None
    return CodeAsTask(
        domain="retail",
        world=dict(draw.spec),
        instruction=instruction,
        verifier=verifier,
        solution=solution,
        failure_cases=tuple(failures),
    )
