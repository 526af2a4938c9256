"""What a parsed agent turn is, and the registry of action formats that turn model text into it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class ToolCall:
    """A request to run one tool.

    Attributes:
        name: The tool's name.
        arguments: The argument object, as the model wrote it (validated later against the tool's schema).
        ignored: How many further tool calls in the same turn were ignored (one call per turn is executed).
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    ignored: int = 0


@dataclass(frozen=True)
class Message:
    """Text addressed to the user rather than to a tool.

    Attributes:
        content: The text.
    """

    content: str


@dataclass(frozen=True)
class CodeBlock:
    """A block of Python that calls tools as functions (the ``code`` action format), run in the sandbox.

    Attributes:
        source: The code.
        ignored: How many further code blocks in the same turn were ignored.
    """

    source: str
    ignored: int = 0


@dataclass(frozen=True)
class Malformed:
    """Text that tries to call a tool but cannot be understood.

    Attributes:
        reason: What is wrong, phrased for the agent.
    """

    reason: str


Parsed: TypeAlias = ToolCall | CodeBlock | Message | Malformed
Parser: TypeAlias = Callable[[str], Parsed]
Renderer: TypeAlias = Callable[[ToolCall], str]


class UnknownFormatError(KeyError):
    """Raised when an action format name is not registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown action format"


@dataclass(frozen=True)
class ActionFormat:
    """How tool calls are written in model text.

    Attributes:
        name: Registry key, e.g. ``"hermes"``.
        parse: Turns one model turn into a :class:`ToolCall`, :class:`CodeBlock`, :class:`Message` or
            :class:`Malformed`; never raises.
        render: Writes a tool call the way this format expects (for demonstrations and tests).
        instructions: What the system prompt tells the model about calling tools in this format.
    """

    name: str
    parse: Parser
    render: Renderer
    instructions: str


_FORMATS: dict[str, ActionFormat] = {}


def register_format(fmt: ActionFormat) -> ActionFormat:
    """Add an action format to the registry.

    Args:
        fmt: The format; its name must not be registered yet.

    Returns:
        The format, unchanged.

    Raises:
        ValueError: If a format with the same name exists.
    """
    if fmt.name in _FORMATS:
        raise ValueError(f"action format {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> ActionFormat:
    """Look up a registered action format.

    Args:
        name: The format's name.

    Returns:
        The format.

    Raises:
        UnknownFormatError: If no format has that name.
    """
    try:
        return _FORMATS[name]
    except KeyError:
        raise UnknownFormatError(f"unknown action format {name!r}; registered: {sorted(_FORMATS)}") from None


def available_formats() -> list[str]:
    """Names of the registered action formats.

    Returns:
        Sorted names.
    """
    return sorted(_FORMATS)
