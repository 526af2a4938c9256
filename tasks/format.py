"""The Code-as-Task (CaT) format: one task as an instruction plus code — verifier, example solution, failure cases.

A task is one JSON object. Its ``id`` is a hash of its content (domain, world, instruction and all the code), so
two banks holding the same task agree on its id and an edited task gets a new one. Solutions and failure cases
are ``code`` actions: Python calling the domain's tools as functions; what the code prints is its answer to the
user. The verifier defines ``evaluate(state, answer)`` or ``evaluate(state, answer, initial)`` returning
``True``/``False``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema

from toolgym.world import canonical_json

MIN_FAILURE_CASES = 3
LOCATION_KEYS = ("data_dir",)
"""Keys of a world spec that say where data lies rather than what it is; left out of the id."""
SPLITS = ("train", "test")

TASK_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Code-as-Task instance",
    "type": "object",
    "required": ["domain", "world", "instruction", "verifier", "solution", "failure_cases"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "content hash; computed when absent"},
        "domain": {"type": "string", "minLength": 1},
        "world": {"type": "object", "description": "what the domain builds the starting world from"},
        "instruction": {"type": "string", "minLength": 1},
        "verifier": {
            "type": "string",
            "minLength": 1,
            "description": "source defining evaluate(state, answer[, initial])",
        },
        "solution": {"type": "string", "minLength": 1, "description": "a code action that passes"},
        "failure_cases": {
            "type": "array",
            "minItems": MIN_FAILURE_CASES,
            "items": {"type": "string", "minLength": 1},
            "description": "code actions that must fail",
        },
        "split": {"enum": [*SPLITS, None]},
        "provenance": {
            "type": "object",
            "description": "who or what wrote the task, when, from which exploration",
        },
    },
}
"""JSON Schema (draft 7) of one task object."""

_check = fastjsonschema.compile(TASK_SCHEMA)


class TaskFormatError(ValueError):
    """A task object or line that is not a valid CaT instance; the message says where and what."""


def _where(where: str) -> str:
    return f"{where}: " if where else ""


@dataclass(frozen=True)
class CodeAsTask:
    """One Code-as-Task instance.

    Attributes:
        domain: The tool domain, e.g. ``"retail"``.
        world: What the domain builds the starting world from, e.g. ``{"generator": "retail", "seed": 3}``.
        instruction: What the user asks for.
        verifier: Python source defining ``evaluate(state, answer[, initial])``.
        solution: A code action that completes the task.
        failure_cases: Code actions that must not pass (at least three).
        split: ``"train"``, ``"test"`` or ``None`` (assigned by the bank from the id).
        provenance: Who or what wrote the task, with which model and settings, when, after which exploration.
        id: The content hash; computed from the other fields when not given.
    """

    domain: str
    world: Mapping[str, Any]
    instruction: str
    verifier: str
    solution: str
    failure_cases: tuple[str, ...]
    split: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "failure_cases", tuple(self.failure_cases))
        if not self.id:
            object.__setattr__(self, "id", self.content_id())

    def content(self) -> dict[str, Any]:
        """The fields the id is a hash of: everything but the split, the provenance and the id itself.

        Where a dataset lies on disk (``world["data_dir"]``) is not part of a task, so the same task has the same
        id on every machine.

        Returns:
            The content as JSON data.
        """
        return {
            "domain": self.domain,
            "world": {k: v for k, v in self.world.items() if k not in LOCATION_KEYS},
            "instruction": self.instruction,
            "verifier": self.verifier,
            "solution": self.solution,
            "failure_cases": list(self.failure_cases),
        }

    @property
    def family(self) -> str | None:
        """The task family its writer recorded (``provenance["family"]``, e.g. ``"gift_card_balance"``), if any."""
        family = self.provenance.get("family")
        return family if isinstance(family, str) and family else None

    def content_id(self) -> str:
        """Compute the id from the content: the domain and 16 hex digits of a SHA-256.

        Returns:
            E.g. ``"retail-3f9a0c1d2b4e5f60"``.
        """
        digest = hashlib.sha256(canonical_json(self.content()).encode()).hexdigest()
        return f"{self.domain}-{digest[:16]}"

    def to_dict(self) -> dict[str, Any]:
        """The task as a JSON object (the id first).

        Returns:
            A fresh dict.
        """
        return {
            "id": self.id,
            **self.content(),
            "world": dict(self.world),
            "split": self.split,
            "provenance": json.loads(json.dumps(dict(self.provenance))),
        }

    def to_json(self) -> str:
        """The task as one line of JSON.

        Returns:
            The line, without a newline.
        """
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, obj: Any, *, where: str = "") -> CodeAsTask:
        """Read a task object, checking it against :data:`TASK_SCHEMA` and its id against its content.

        Args:
            obj: The decoded JSON object.
            where: Where it came from (e.g. ``"bank.jsonl, line 12"``), for error messages.

        Returns:
            The task.

        Raises:
            TaskFormatError: If a field is missing, has the wrong type, or the id does not match the content.
        """
        try:
            _check(obj)
        except fastjsonschema.JsonSchemaValueException as exc:
            field_name = ".".join(str(p) for p in exc.path[1:]) or "task"
            message = exc.message.removeprefix(str(exc.name)).strip()
            raise TaskFormatError(f"{_where(where)}{field_name}: {message}") from None
        task = cls(
            domain=obj["domain"],
            world=obj["world"],
            instruction=obj["instruction"],
            verifier=obj["verifier"],
            solution=obj["solution"],
            failure_cases=tuple(obj["failure_cases"]),
            split=obj.get("split"),
            provenance=obj.get("provenance") or {},
        )
        given = obj.get("id")
        if given and given != task.id:
            raise TaskFormatError(
                f"{_where(where)}id {given!r} does not match the task's content (expected {task.id!r}); "
                "a changed task needs its new id"
            )
        return task

    @classmethod
    def from_json(cls, line: str, *, where: str = "") -> CodeAsTask:
        """Read a task from one line of JSON.

        Args:
            line: The JSON text.
            where: Where it came from, for error messages.

        Returns:
            The task.

        Raises:
            TaskFormatError: If the text is not JSON or not a valid task.
        """
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFormatError(f"{_where(where)}invalid JSON at column {exc.colno}: {exc.msg}") from None
        return cls.from_dict(obj, where=where)

    def with_split(self, split: str | None) -> CodeAsTask:
        """The same task in another split (the id does not change).

        Args:
            split: ``"train"``, ``"test"`` or ``None``.

        Returns:
            A copy.

        Raises:
            ValueError: For another split name.
        """
        if split not in (*SPLITS, None):
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return CodeAsTask(**{**self.__dict__, "split": split})
