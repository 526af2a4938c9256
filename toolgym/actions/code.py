"""The ``code`` action format (CodeAct): the agent acts by writing a Python block that calls tools as functions.

The block runs in the sandbox against the episode's world; what it prints is the observation. A turn without a
Python block is a message to the user.
"""

from __future__ import annotations

import re
import textwrap

from toolgym.actions.base import (
    ActionFormat,
    CodeBlock,
    Malformed,
    Message,
    Parsed,
    ToolCall,
    register_format,
)

# Every fence with its language, so that a ```json block's closing fence is never taken for an opening one; the
# closing fence may be missing when generation stopped.
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_PYTHON = frozenset({"", "py", "python", "python3"})
_EXECUTE = re.compile(r"<execute>(.*?)(?:</execute>|\Z)", re.DOTALL)


def parse_code(text: str) -> Parsed:
    """Find the Python block of a turn: a Markdown fence (python, py or no language) or CodeAct's ``<execute>``.

    Args:
        text: The model's turn.

    Returns:
        The first block as :class:`CodeBlock` (later blocks are counted and ignored), :class:`Malformed` for an
        empty block, or the whole text as a :class:`Message` when it holds no block.
    """
    blocks = [m.group(2) for m in _FENCE.finditer(text) if m.group(1).lower() in _PYTHON]
    if not blocks:
        blocks = [m.group(1) for m in _EXECUTE.finditer(text)]
    if not blocks:
        return Message(text)
    source = textwrap.dedent(blocks[0]).strip("\n")
    if not source.strip():
        return Malformed(
            "the code block is empty; write Python that calls the tools, or a message without a block"
        )
    return CodeBlock(source, ignored=len(blocks) - 1)


def render_code(call: ToolCall) -> str:
    """Write ``call`` as a Python block that calls the tool and prints its result.

    Args:
        call: The call.

    Returns:
        The text.
    """
    args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
    return f"```python\nprint({call.name}({args}))\n```"


CODE_INSTRUCTIONS = (
    "To use tools, reply with one Python code block (```python ... ```). Inside it, call the tools as functions "
    'with keyword arguments, e.g. `order = get_order_details(order_id="#W0000000")`. A tool returns a dict or a '
    "list when its result is JSON and text otherwise, and raises ToolError when it fails. Only what you print() "
    "comes back to you. The code runs in restricted Python: no imports and no names starting with an underscore. "
    "A reply without a code block is sent to the user as a message."
)

CODE_FORMAT = register_format(
    ActionFormat(name="code", parse=parse_code, render=render_code, instructions=CODE_INSTRUCTIONS)
)
