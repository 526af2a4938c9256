"""Running a code action: Python in the sandbox whose tool calls run in this process, against a world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolgym.sandbox import Limits, SandboxPool, SandboxResult, ToolReply
from toolgym.tools import Toolset
from toolgym.world import World


@dataclass
class CodeRun:
    """The outcome of one code action.

    Attributes:
        result: The sandbox's report: status, printed output, error.
        calls: Each tool call's ``name``, ``arguments`` and ``error`` (``None`` when it succeeded), in order.
        ended: Whether a tool that ends the episode (e.g. a transfer to a human) was called successfully.
    """

    result: SandboxResult
    calls: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False

    @property
    def error(self) -> str | None:
        """Why the code stopped early, or ``None`` when it ran to the end."""
        return None if self.result.ok else self.result.error or self.result.status

    @property
    def observation(self) -> str:
        """What the agent sees: the printed output, a notice if it was cut, then ``Error: …`` if the code failed."""
        text = self.result.output
        if self.result.dropped:
            text += f"\n[output cut: {self.result.dropped} more characters were printed]"
        error = self.error
        if error is not None:
            return f"{text.rstrip()}\nError: {error}" if text.strip() else f"Error: {error}"
        if not text.strip():
            return "(the code printed nothing; print() what you want to see)"
        return text


def tool_parameters(toolset: Toolset) -> dict[str, list[str]]:
    """Parameter names of every tool, in declaration order (for positional arguments in code).

    Args:
        toolset: The domain's tools.

    Returns:
        ``{tool name: [parameter, …]}``.
    """
    return {name: list(t.parameters.get("properties", {})) for name, t in toolset.items()}


def run_code_action(
    pool: SandboxPool, toolset: Toolset, world: World, source: str, limits: Limits | None = None
) -> CodeRun:
    """Run ``source`` in the sandbox with the tools of ``toolset`` acting on ``world``.

    Each tool call is atomic, so the world holds exactly the writes that succeeded before the code stopped. After
    a tool that ends the episode, further calls fail.

    Args:
        pool: The sandbox pool.
        toolset: The tools the code may call.
        world: The world the tools act on (changed in place).
        source: The code.
        limits: Limits for this run (the pool's defaults otherwise).

    Returns:
        The run.
    """
    run = CodeRun(SandboxResult("ok"))

    def run_tool(name: str, arguments: dict[str, Any]) -> ToolReply:
        if run.ended:
            return ToolReply(error="the episode has ended; no further tool calls are possible")
        result = toolset.call(world, name, arguments)
        run.calls.append({"name": name, "arguments": arguments, "error": result.error})
        run.ended = result.terminates and result.error is None
        if result.error is not None:
            return ToolReply(error=result.error)
        return ToolReply(observation=result.observation)

    run.result = pool.run_code(source, run_tool, tool_params=tool_parameters(toolset), limits=limits)
    return run
