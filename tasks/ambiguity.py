"""The ambiguity screen: does an instruction give every value its verifier insists on?

The paper's residual false negatives come from ambiguous instructions: the verifier wants a value (an address, a
reason) that the user never states, so a correct agent cannot know it. :func:`unnamed_values` finds such values
cheaply from the verifier's syntax tree, the instruction, the starting world and the domain's documentation.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from toolgym.domains import get_domain
from toolgym.world import World

from .format import CodeAsTask
from .quality import FilterResult, normalise_text

MIN_LITERAL_CHARS = 3
"""String literals shorter than this are ignored by the ambiguity screen."""
MIN_PREFIX_CHARS = 4
"""Two words match when one is a prefix of the other sharing at least this many characters."""

_NUMBER = re.compile(r"[+\-]?[$€£]?\d[\d.,]*%?")
_NUMBER_WORDS = frozenset(
    re.findall(
        r"\w+",
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
        "hundred thousand",
    )
)
# Calls whose arguments are the data being compared (``list(x) != [...]``); arguments of any other call are how
# the verifier processes data (``text.replace(",", "")``, ``x.get("status")``), not values it expects.
_CONTAINER_CALLS = frozenset({"list", "tuple", "set", "frozenset", "dict", "sorted"})
_PREFIX_TESTS = frozenset({"startswith", "endswith"})


def _compared_literals(source: str) -> list[tuple[str, bool]]:
    # (value, fragment) pairs, in order of first appearance; the rules are in unnamed_values' docstring.
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    bound: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs = [(target, node.value) for target in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        else:
            continue
        for target, value in pairs:
            if isinstance(target, ast.Name):
                bound.setdefault(target.id, []).append(value)
    found: dict[tuple[str, bool], None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            # A string left of ``in`` is looked for inside the right side, unless that is a display of values.
            operands = [node.left, *node.comparators]
            for i, operand in enumerate(operands):
                fragment = (
                    i < len(node.ops)
                    and isinstance(node.ops[i], ast.In | ast.NotIn)
                    and not isinstance(operands[i + 1], ast.List | ast.Tuple | ast.Set | ast.Dict)
                )
                for text in _strings(operand, bound, set()):
                    found[(text, fragment)] = None
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _PREFIX_TESTS
        ):
            for arg in node.args:
                for text in _strings(arg, bound, set()):
                    found[(text, True)] = None
    return list(found)


def _strings(node: ast.expr, bound: Mapping[str, list[ast.expr]], seen: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            yield node.value
    elif isinstance(node, ast.Name):
        if node.id not in seen:
            seen.add(node.id)  # guards against ``x = x + [...]`` looping forever
            for value in bound.get(node.id, []):
                yield from _strings(value, bound, seen)
    elif isinstance(node, ast.Subscript):
        yield from _strings(node.value, bound, seen)
    elif isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in _CONTAINER_CALLS:
            for arg in node.args:
                yield from _strings(arg, bound, seen)
    elif isinstance(node, ast.Dict):
        for part in [*node.keys, *node.values]:
            if part is not None:
                yield from _strings(part, bound, seen)
    elif not isinstance(node, ast.JoinedStr | ast.Lambda | ast.ListComp | ast.GeneratorExp | ast.SetComp):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                yield from _strings(child, bound, seen)


def _nodes(value: Any) -> Iterator[Any]:
    """Every node of a JSON value: itself, then its keys, values and items, recursively."""
    pending = [value]
    while pending:
        item = pending.pop()
        yield item
        if isinstance(item, Mapping):
            pending.extend([*item.keys(), *item.values()])
        elif isinstance(item, list | tuple):
            pending.extend(item)


@functools.lru_cache(maxsize=16)
def _domain_docs(name: str) -> tuple[str, frozenset[str]]:
    """The domain's normalised policy and tool documentation (padded with spaces), and its tools' enum choices."""
    try:
        domain = get_domain(name)
    except KeyError:
        return " ", frozenset()
    nodes = list(_nodes(domain.toolset.schemas))
    text = " ".join([domain.policy(), *(n for n in nodes if isinstance(n, str))])
    enums = (n.get("enum") or [] for n in nodes if isinstance(n, Mapping))
    return f" {normalise_text(text)} ", frozenset(
        v.casefold() for e in enums for v in e if isinstance(v, str)
    )


_WORLD_CACHE: dict[str, tuple[frozenset[str], str]] = {}
_WORLD_CACHE_SIZE = 8


def _world_strings(world: World) -> tuple[frozenset[str], str]:
    """Every case-folded table name, key and string value of a world; and the same joined, for fragments."""
    # Forks of one loaded world share its base token; a world with changes of its own is not cached.
    token = None if world.changed else world.base_token
    if token is not None and token in _WORLD_CACHE:
        return _WORLD_CACHE[token]
    tables = {name: dict(world.table(name)) for name in world.table_names}
    folded = frozenset(n.casefold() for n in _nodes(tables) if isinstance(n, str))
    strings = folded, "\x00".join(sorted(folded))
    if token is not None:
        if len(_WORLD_CACHE) >= _WORLD_CACHE_SIZE:
            _WORLD_CACHE.clear()
        _WORLD_CACHE[token] = strings
    return strings


def _words_match(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= MIN_PREFIX_CHARS and (a.startswith(b) or b.startswith(a)))


def _is_number(value: str) -> bool:
    text = value.strip().casefold()
    return bool(_NUMBER.fullmatch(text)) or all(w in _NUMBER_WORDS for w in normalise_text(text).split())


def unnamed_values(task: CodeAsTask, world: World) -> list[str]:
    """The strings the verifier insists on that the agent can neither read in the instruction nor look up.

    A **cheap screen** for ambiguous instructions, read from the code alone (nothing runs). The literals are read
    from the verifier's syntax tree: string constants in any operand of a comparison (``==``, ``!=``, ``in``, …),
    also inside list/tuple/set/dict displays there, and in the values of plain ``name = …`` assignments whose
    name appears in a comparison; arguments of ``startswith``/``endswith``. Not collected: subscript keys
    (``state["orders"]``) and arguments of calls other than ``list``/``tuple``/``set``/``dict``/``sorted``
    (``.get("status")``, ``.replace(",", "")``): field names and processing, not values; f-strings; names bound
    by loops or comprehensions. A literal left of ``in`` (with no display on the right) is a *fragment*, looked
    for inside a longer string. Literals shorter than :data:`MIN_LITERAL_CHARS` or spelling a number (digits, or
    words like ``"four"``: computed answers, not names) are ignored. Any other literal counts as

    * **named** when its normalised form occurs in the normalised instruction, or every one of its words matches
      an instruction word (equal, or one a prefix of the other sharing at least :data:`MIN_PREFIX_CHARS`
      characters: ``"ordered by mistake"`` is named by "I ordered it by mistake");
    * **looked up** when it equals, case-folded, a table name, key or string value anywhere in the starting world
      (a fragment need only occur inside one);
    * **documented** when it occurs in the domain's policy or tool descriptions (outcomes such as
      ``"return requested"``) — unless it is one of a tool parameter's enum choices (a cancellation reason): the
      user has to say which one, so a choice must be named.

    Known blind spots: it cannot tell which world value the instruction points at (a verifier checking the wrong
    existing address, or a city that happens to exist, passes); it ignores numbers, so an unstated quantity, zip
    code or digits-only id goes unnoticed; literals reached through loops, comprehensions, helper-function
    arguments or method calls other than ``startswith``/``endswith`` are not seen; a single common word may be
    "named" by coincidence.

    Args:
        task: The task.
        world: Its starting world (the set of its strings is built once per loaded world and cached).

    Returns:
        The unnamed values, in order of first appearance in the verifier.
    """
    instruction = normalise_text(task.instruction)
    padded, words = f" {instruction} ", instruction.split()
    exact, joined = _world_strings(world)
    docs, choices = _domain_docs(task.domain)
    unnamed: list[str] = []
    for value, fragment in _compared_literals(task.verifier):
        norm = normalise_text(value)
        if len(value.strip()) < MIN_LITERAL_CHARS or not norm or _is_number(value) or value in unnamed:
            continue
        if f" {norm} " in padded or all(any(_words_match(w, i) for i in words) for w in norm.split()):
            continue
        folded = value.casefold()
        looked_up = folded in exact or (fragment and folded in joined)
        if folded in choices or not (looked_up or f" {norm} " in docs):
            unnamed.append(value)
    return unnamed


@dataclass(frozen=True)
class AmbiguityResult(FilterResult):
    """What :func:`screen_ambiguity` kept: the tasks with no unnamed value.

    Attributes:
        flagged: Each flagged task's id → its unnamed values.
    """

    flagged: dict[str, tuple[str, ...]]

    def summary(self) -> dict[str, Any]:
        """Counts as JSON data: ``{"total", "kept", "dropped", "flagged"}``."""
        return {**super().summary(), "flagged": len(self.flagged)}


def _starting_world(task: CodeAsTask) -> World:
    return get_domain(task.domain).build_world(task.world)


def screen_ambiguity(
    tasks: Iterable[CodeAsTask], build_world: Callable[[CodeAsTask], World] | None = None
) -> AmbiguityResult:
    """Flag tasks whose verifier expects a value the agent cannot know (a cheap screen; see :func:`unnamed_values`).

    Args:
        tasks: The tasks.
        build_world: Builds a task's starting world; by default its domain builds it from ``task.world``.

    Returns:
        The unflagged tasks, and the unnamed values of each flagged one.

    Raises:
        KeyError: For a task of an unknown domain (default ``build_world`` only).
        WorldSpecError: If a task's world cannot be built (default ``build_world`` only).
    """
    build = build_world or _starting_world
    kept: list[CodeAsTask] = []
    flagged: dict[str, tuple[str, ...]] = {}
    total = 0
    for task in tasks:
        total += 1
        values = unnamed_values(task, build(task))
        if values:
            flagged[task.id] = tuple(values)
        else:
            kept.append(task)
    dropped = {tid: "unnamed values: " + ", ".join(repr(v) for v in vals) for tid, vals in flagged.items()}
    return AmbiguityResult(total, kept, dropped, flagged)
