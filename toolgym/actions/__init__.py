"""Action formats: how a model's text turn becomes a tool call or a message to the user."""

from __future__ import annotations

from toolgym.actions.base import (
    ActionFormat,
    CodeBlock,
    Malformed,
    Message,
    Parsed,
    ToolCall,
    UnknownFormatError,
    available_formats,
    get_format,
    register_format,
)
from toolgym.actions.code import parse_code, render_code
from toolgym.actions.parsers import (
    call_from_object,
    parse_auto,
    parse_hermes,
    parse_json,
    parse_pythonic,
    render_hermes,
    render_json,
    render_llama3,
    render_pythonic,
)

__all__ = [
    "ActionFormat",
    "CodeBlock",
    "Malformed",
    "Message",
    "Parsed",
    "ToolCall",
    "UnknownFormatError",
    "available_formats",
    "call_from_object",
    "get_format",
    "parse_auto",
    "parse_code",
    "parse_hermes",
    "parse_json",
    "parse_pythonic",
    "register_format",
    "render_code",
    "render_hermes",
    "render_json",
    "render_llama3",
    "render_pythonic",
]
