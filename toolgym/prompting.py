"""What a policy is shown: the system prompt, the tools, and how observations enter the conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolgym.policies.base import ChatMessage

OBSERVATION_ROLES = {"tool_call": "tool", "code": "tool", "malformed": "tool", "message": "user"}
"""Which chat role carries the env's answer to each kind of action: tools answer tool calls, the user answers messages."""


def _type_name(schema: Mapping[str, Any]) -> str:
    if schema.get("enum"):
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_type_name(schema.get('items', {}))}]"
    names = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "object": "dict"}
    if isinstance(kind, list):
        return " | ".join(names.get(k, str(k)) for k in kind)
    return names.get(str(kind), "Any")


def tool_signatures(schemas: Sequence[Mapping[str, Any]]) -> str:
    """The tools as Python signatures with their descriptions: shorter than JSON schemas, and what code writes.

    Args:
        schemas: Tool schemas in the OpenAI ``{"type": "function", "function": {…}}`` form.

    Returns:
        One block per tool.
    """
    blocks = []
    for schema in schemas:
        function = schema.get("function", schema)
        params = function.get("parameters", {}).get("properties", {})
        args = ", ".join(f"{name}: {_type_name(p)}" for name, p in params.items())
        lines = [f"{function['name']}({args})", f"    {function.get('description', '').strip()}"]
        lines += [f"    {name}: {p['description']}" for name, p in params.items() if p.get("description")]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def opening_messages(
    system_prompt: str, observation: str, tools: Sequence[Mapping[str, Any]], *, native_tools: bool
) -> list[ChatMessage]:
    """The conversation an episode starts with.

    Args:
        system_prompt: The env's system prompt (domain policy and action-format instructions).
        observation: The first observation (the user's first message).
        tools: The env's tool schemas.
        native_tools: Whether the policy shows the tools itself (through its chat template or server); otherwise
            they are listed in the system prompt.

    Returns:
        The system and user messages.
    """
    system = (
        system_prompt
        if native_tools or not tools
        else f"{system_prompt.rstrip()}\n\n## Tools\n\n{tool_signatures(tools)}\n"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": observation}]


def observation_message(observation: str, action_type: str | None) -> ChatMessage:
    """The message that carries the env's answer to an action.

    Args:
        observation: What the env returned.
        action_type: ``info["action_type"]`` of the step.

    Returns:
        A ``tool`` or ``user`` message.
    """
    return {"role": OBSERVATION_ROLES.get(action_type or "", "tool"), "content": observation}
