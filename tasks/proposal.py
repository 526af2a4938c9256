"""Reading a challenger's written task: tagged sections in, a :class:`CodeAsTask` (or the reason there is none) out.

A challenger writes its task as four kinds of tagged sections::

    <instruction> … </instruction>
    <evaluation_function> def evaluate(state, answer, initial): … </evaluation_function>
    <solution> … </solution>
    <failure_case> … </failure_case>      (three or more)

Real model output is untidy, so the reader is lenient about form and strict about substance. Tags may be in any
case, spaced, hyphenated or numbered (``<Failure Case 2>``); a closing tag may be missing (the section then ends at
the next tag or at the end of the text); code may sit inside Markdown fences; prose may surround the sections;
line endings may be CRLF and indentation may use tabs. What the code *says* is never repaired: a verifier that does
not define ``evaluate`` is passed on as written, and the filter rejects it. Nothing here raises on model text; an
unusable text gets a reason code instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .format import MIN_FAILURE_CASES, CodeAsTask, TaskFormatError

REASONS = (
    "ok",
    "no_output",
    "missing_instruction",
    "missing_evaluation_function",
    "missing_solution",
    "too_few_failure_cases",
    "not_a_task",
    "generation_error",
)
"""Every reason code a proposal can carry; ``"ok"`` means it holds a task."""

_SEP = r"[\s_-]*"
# The kinds of section, each with the spellings accepted for its tag name. ``failure_cases`` is a container some
# models put around their failure cases; it only marks where sections end.
_KINDS: dict[str, str] = {
    "instruction": r"instructions?",
    "evaluation_function": rf"(?:evaluation|verification){_SEP}function",
    "solution": rf"(?:example{_SEP})?solution",
    "failure_case": rf"failure{_SEP}case{_SEP}#?\d*",
    "failure_cases": rf"failure{_SEP}cases",
}
_NAMES = "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _KINDS.items())
# Tags are found in two steps so that no text, however long its runs of spaces, makes matching slow: a short
# bracketed stretch first, then a full match of its inside (attributes allowed, e.g. ``<failure_case id="2">``).
_BRACKETED_RE = re.compile(r"<([^<>]{1,80})>")
_TAG_INSIDE_RE = re.compile(rf"\s*(?P<close>/)?\s*(?:{_NAMES})(?:\s[^<>]*)?", re.IGNORECASE)


class Tag(NamedTuple):
    """A section tag found in a text.

    Attributes:
        start: Where the tag starts.
        end: Where it ends (just after ``>``).
        kind: ``"instruction"``, ``"evaluation_function"``, ``"solution"``, ``"failure_case"`` or the container
            ``"failure_cases"``.
        closing: Whether it is a closing tag.
    """

    start: int
    end: int
    kind: str
    closing: bool


def find_tags(text: str) -> list[Tag]:
    """Every opening and closing section tag in a text, in order, whatever its case, spacing or numbering.

    Args:
        text: The text.

    Returns:
        The tags.
    """
    tags = []
    for bracketed in _BRACKETED_RE.finditer(text):
        inside = _TAG_INSIDE_RE.fullmatch(bracketed.group(1))
        if inside is not None:
            kind = next(k for k in _KINDS if inside.group(k) is not None)
            tags.append(Tag(bracketed.start(), bracketed.end(), kind, inside.group("close") is not None))
    return tags


PREVIEW_CHARS = 300
"""Characters of each action and observation kept in a task's provenance."""

_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class Sections:
    """The tagged sections found in a text.

    Attributes:
        instruction: The instruction, or ``None`` when there is no non-empty one.
        evaluation_function: The verifier's source, or ``None``.
        solution: The example solution's source, or ``None``.
        failure_cases: The failure cases' sources, in order, without duplicates.
    """

    instruction: str | None = None
    evaluation_function: str | None = None
    solution: str | None = None
    failure_cases: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether no section at all was found."""
        return not (self.instruction or self.evaluation_function or self.solution or self.failure_cases)


@dataclass(frozen=True)
class Proposal:
    """One challenger episode's result: a task, or why its text gives none.

    Attributes:
        task: The task, when the text could be read as one (it has not been through the filter yet).
        reason: ``"ok"`` or a code from :data:`REASONS` saying why there is no task.
        detail: A sentence about the reason.
        raw: The model's written text.
        exploration: What the challenger did before writing: one entry per turn (its action, the kind of action,
            the tool and arguments, and what it saw).
    """

    task: CodeAsTask | None
    reason: str = "ok"
    detail: str = ""
    raw: str = ""
    exploration: list[dict[str, Any]] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Whether the proposal holds a task to put through the filter."""
        return self.task is not None and self.reason == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The proposal as JSON data (for logs of every proposal, kept or not).

        Returns:
            A fresh dict.
        """
        return {
            "reason": self.reason,
            "detail": self.detail,
            "task": self.task.to_dict() if self.task is not None else None,
            "raw": self.raw,
            "exploration": list(self.exploration),
        }


def _reindent(text: str) -> str:
    """Expand tabs in indentation only (inside a line they may be data) and remove the indentation all lines share."""
    lines = []
    for line in text.split("\n"):
        body = line.lstrip(" \t")
        lines.append(line[: len(line) - len(body)].expandtabs(4) + body)
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    cut = min(indents, default=0)
    if cut:
        lines = [line[cut:] if line.strip() else "" for line in lines]
    return "\n".join(lines)


def _unfence(text: str) -> str:
    """The code inside Markdown fences, when the text has any (an unclosed fence runs to the end)."""
    fences = list(_FENCE_RE.finditer(text))
    if not fences:
        return text
    if len(fences) == 1:
        # A lone fence either opens a block the model never closed, or closes one it opened before the tag.
        before, after = text[: fences[0].start()], text[fences[0].end() :]
        return after if after.strip() else before
    blocks = []
    for opening, closing in zip(fences[::2], [*fences[1::2], None], strict=False):
        end = closing.start() if closing is not None else len(text)
        blocks.append(text[opening.end() : end].strip("\n"))
    return "\n".join(block for block in blocks if block.strip())


def clean_code(text: str) -> str:
    """Normalise a code section: fences removed, tabs in indentation expanded, common indentation removed.

    Args:
        text: The section's text (with LF line endings).

    Returns:
        The code with one final newline, or ``""`` when there is none.
    """
    code = _reindent(_unfence(text)).strip("\n").rstrip()
    return code + "\n" if code.strip() else ""


def clean_instruction(text: str) -> str:
    """Normalise the instruction: surrounding space and a fence wrapped around all of it removed.

    Args:
        text: The section's text.

    Returns:
        The instruction, possibly ``""``.
    """
    stripped = text.strip()
    fences = list(_FENCE_RE.finditer(stripped))
    if len(fences) == 2 and fences[0].start() == 0 and fences[1].end() == len(stripped):
        stripped = stripped[fences[0].end() : fences[1].start()].strip()
    return stripped


def parse_sections(text: str) -> Sections:
    """Find the tagged sections of a challenger's text.

    A section runs from its opening tag to its closing tag or, when that is missing, to the next section tag (or
    the end). Where the instruction, the verifier or the solution appears more than once, the last non-empty one
    counts: models tend to restate the format before writing, or to correct themselves after. The failure cases are
    those after that solution (all of them when none follows it), each counted once.

    Args:
        text: The model's text.

    Returns:
        The sections; never raises.
    """
    if not isinstance(text, str):
        return Sections()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tags = find_tags(text)
    found: dict[str, list[tuple[int, str]]] = {kind: [] for kind in _KINDS}
    for i, tag in enumerate(tags):
        if tag.closing or tag.kind == "failure_cases":
            continue
        end = tags[i + 1].start if i + 1 < len(tags) else len(text)
        clean = clean_instruction if tag.kind == "instruction" else clean_code
        content = clean(text[tag.end : end])
        if content:
            found[tag.kind].append((tag.start, content))
    solution = found["solution"][-1] if found["solution"] else None
    failures = [content for _, content in found["failure_case"]]
    if solution is not None:
        # The failure cases written after the solution kept belong with it; earlier ones are a draft or prose.
        failures = [content for at, content in found["failure_case"] if at > solution[0]] or failures
    return Sections(
        instruction=found["instruction"][-1][1] if found["instruction"] else None,
        evaluation_function=found["evaluation_function"][-1][1] if found["evaluation_function"] else None,
        solution=solution[1] if solution is not None else None,
        failure_cases=tuple(dict.fromkeys(failures)),
    )


def render_sections(sections: Sections) -> str:
    """Write sections in the tagged format (the inverse of :func:`parse_sections` for tidy sections).

    Args:
        sections: The sections; missing ones are left out.

    Returns:
        The text.
    """
    parts = []
    if sections.instruction is not None:
        parts.append(f"<instruction>\n{sections.instruction}\n</instruction>")
    if sections.evaluation_function is not None:
        parts.append(
            f"<evaluation_function>\n{sections.evaluation_function.rstrip()}\n</evaluation_function>"
        )
    if sections.solution is not None:
        parts.append(f"<solution>\n{sections.solution.rstrip()}\n</solution>")
    parts += [f"<failure_case>\n{case.rstrip()}\n</failure_case>" for case in sections.failure_cases]
    return "\n".join(parts) + "\n"


def parse_proposal(
    text: str,
    *,
    domain: str,
    world: Mapping[str, Any],
    provenance: Mapping[str, Any] | None = None,
    exploration: list[dict[str, Any]] | None = None,
) -> Proposal:
    """Read a challenger's text as a task.

    Args:
        text: The model's text.
        domain: The task's domain.
        world: The task's world spec (the world the challenger explored).
        provenance: Who wrote it, how (stored with the task).
        exploration: The exploration transcript, kept on the proposal.

    Returns:
        The proposal: a task with reason ``"ok"``, or no task and the first reason found; never raises.
    """
    raw = text if isinstance(text, str) else ""
    steps = list(exploration or [])

    def refuse(reason: str, detail: str) -> Proposal:
        return Proposal(None, reason, detail, raw, steps)

    if not raw.strip():
        return refuse("no_output", "the challenger wrote nothing")
    sections = parse_sections(raw)
    if sections.empty:
        return refuse("missing_instruction", "no tagged section was found in the text")
    if sections.instruction is None:
        return refuse("missing_instruction", "no non-empty <instruction> section")
    if sections.evaluation_function is None:
        return refuse("missing_evaluation_function", "no non-empty <evaluation_function> section")
    if sections.solution is None:
        return refuse("missing_solution", "no non-empty <solution> section")
    if len(sections.failure_cases) < MIN_FAILURE_CASES:
        return refuse(
            "too_few_failure_cases",
            f"{len(sections.failure_cases)} distinct non-empty <failure_case> sections; "
            f"at least {MIN_FAILURE_CASES} are needed",
        )
    obj = {
        "domain": domain,
        "world": dict(world) if isinstance(world, Mapping) else world,
        "instruction": sections.instruction,
        "verifier": sections.evaluation_function,
        "solution": sections.solution,
        "failure_cases": list(sections.failure_cases),
        "provenance": dict(provenance or {}),
    }
    try:
        task = CodeAsTask.from_dict(obj)
    except TaskFormatError as exc:
        return refuse("not_a_task", str(exc))
    except (TypeError, ValueError) as exc:  # e.g. a world or provenance that is not JSON data
        return refuse("not_a_task", f"{type(exc).__name__}: {exc}")
    return Proposal(task, "ok", "", raw, steps)


def _cut(text: Any, limit: int = PREVIEW_CHARS) -> str:
    text = text if isinstance(text, str) else json.dumps(text, default=str)
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"


def compact_exploration(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The exploration as a task's provenance keeps it: each action and a cut observation.

    Args:
        steps: Entries of :attr:`Proposal.exploration`.

    Returns:
        One small dict per turn.
    """
    out = []
    for step in steps:
        kind = step.get("action_type") or "malformed"
        entry: dict[str, Any] = {"type": kind}
        if kind == "tool_call":
            entry.update(tool=step.get("tool"), arguments=step.get("arguments"))
        else:
            entry["action"] = _cut(step.get("action", ""))
        if "observation" in step:
            entry["observation"] = _cut(step["observation"])
        if step.get("error"):
            entry["error"] = _cut(step["error"], PREVIEW_CHARS // 2)
        out.append(entry)
    return out
