"""Tool declaration: typed Python functions whose JSON schemas come from their signatures and docstrings.

A domain writes each tool as a function whose first parameter is the episode's :class:`~toolgym.world.World`,
followed by the arguments the model supplies, with type hints and a Google-style docstring::

    @tool(writes=True)
    def cancel_pending_order(world: World, order_id: str, reason: str) -> str:
        '''Cancel a pending order.

Args:
            order_id: The order id, such as '#W0000000'.
            reason: Why the order is cancelled (choices: ["no longer needed", "ordered by mistake"])
        '''

The schema the model sees is built by ``transformers.utils.get_json_schema`` with the ``world`` parameter hidden.
A tool signals a failure by raising :class:`ToolError`; :meth:`Toolset.call` turns it into the observation
``"Error: <message>"`` and undoes any change the tool made before failing.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema

from toolgym.world import World

ToolFunction = Callable[..., str]


class ToolError(Exception):
    """A tool's refusal or failure; its message becomes the observation ``"Error: <message>"``."""


class ToolDefinitionError(TypeError):
    """A tool function cannot be declared (missing world parameter, type hint or argument description)."""


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call.

    Attributes:
        name: Name of the tool called.
        observation: The text the agent sees: the tool's return value, or ``"Error: …"``.
        error: The error message without the ``"Error: "`` prefix, or ``None`` on success.
        wrote: Whether a write tool completed (and so may have changed the world).
        terminates: Whether a terminating tool completed, which ends the episode.
    """

    name: str
    observation: str
    error: str | None = None
    wrote: bool = False
    terminates: bool = False

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None


def _schema_of(func: ToolFunction) -> dict[str, Any]:
    """Build the OpenAI-style function schema of ``func`` with its leading ``world`` parameter hidden."""
    from transformers.utils.chat_template_utils import get_json_schema  # heavy import, needed once per tool

    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    if not params or params[0].name != "world":
        raise ToolDefinitionError(f"tool {func.__name__!r}: the first parameter must be `world`")

    @functools.wraps(func)
    def facade(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called, only inspected
        raise NotImplementedError

    facade.__signature__ = signature.replace(parameters=params[1:])  # type: ignore[attr-defined]
    facade.__annotations__ = {k: v for k, v in func.__annotations__.items() if k != "world"}
    try:
        schema = get_json_schema(facade)
    except Exception as exc:  # transformers raises several exception types for docstring problems
        raise ToolDefinitionError(f"tool {func.__name__!r}: {exc}") from exc
    # The return hint says nothing the model needs; tools always return text.
    schema["function"].pop("return", None)
    return schema


@dataclass(frozen=True, eq=False)
class Tool:
    """A declared tool.

    Attributes:
        func: The implementation, called as ``func(world, **arguments)``.
        writes: Whether the tool may change the world.
        terminates: Whether calling it ends the episode (e.g. a transfer to a human agent).
    """

    func: ToolFunction
    writes: bool = False
    terminates: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The tool's name, the function's name."""
        return self.func.__name__

    @property
    def schema(self) -> dict[str, Any]:
        """The tool's JSON schema in the OpenAI ``{"type": "function", "function": {…}}`` form."""
        if "schema" not in self._cache:
            self._cache["schema"] = _schema_of(self.func)
        return self._cache["schema"]  # type: ignore[no-any-return]

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the tool's arguments object."""
        return self.schema["function"]["parameters"]  # type: ignore[no-any-return]

    def validate(self, arguments: Any) -> str | None:
        """Check ``arguments`` against the tool's schema.

        Args:
            arguments: The arguments the model supplied.

        Returns:
            ``None`` if they are valid, otherwise a message naming the offending argument.
        """
        if not isinstance(arguments, Mapping):
            return f"arguments of {self.name} must be an object, got {type(arguments).__name__}"
        props = self.parameters.get("properties", {})
        unknown = [k for k in arguments if k not in props]
        if unknown:
            return f"unexpected argument {unknown[0]!r} for {self.name}; it takes {sorted(props) or 'no arguments'}"
        validator = self._cache.get("validator")
        if validator is None:
            # Enumerations are left to the tool, whose own message (e.g. τ-bench's "invalid reason") is the
            # one agents are trained and evaluated on.
            validator = fastjsonschema.compile(_without_enums(self.parameters))
            self._cache["validator"] = validator
        try:
            validator(dict(arguments))
        except fastjsonschema.JsonSchemaValueException as exc:
            path = exc.name or "data"
            where = path.removeprefix("data").lstrip(".") or "arguments"
            what = exc.message.removeprefix(path).strip()
            return f"invalid arguments for {self.name}: {where} {what}"
        return None

    def __call__(self, world: World, **arguments: Any) -> str:
        """Call the implementation directly (no validation, no error conversion)."""
        return self.func(world, **arguments)


def tool(*, writes: bool = False, terminates: bool = False) -> Callable[[ToolFunction], Tool]:
    """Declare a function as a tool.

    Args:
        writes: Whether the tool may change the world.
        terminates: Whether calling the tool ends the episode.

    Returns:
        A decorator turning the function into a :class:`Tool`.
    """

    def wrap(func: ToolFunction) -> Tool:
        params = list(inspect.signature(func).parameters)
        if not params or params[0] != "world":
            raise ToolDefinitionError(f"tool {func.__name__!r}: the first parameter must be `world`")
        return Tool(func=func, writes=writes, terminates=terminates)

    return wrap


class Toolset(Mapping[str, Tool]):
    """An ordered, named collection of tools that a domain offers.

    Args:
        tools: The tools, in the order they are shown to the model.

    Raises:
        ToolDefinitionError: If two tools share a name.
    """

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            if t.name in self._tools:
                raise ToolDefinitionError(f"duplicate tool name {t.name!r}")
            self._tools[t.name] = t

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """JSON schemas of all tools, in order."""
        return [t.schema for t in self._tools.values()]

    def call(self, world: World, name: str, arguments: Any) -> ToolResult:
        """Validate and run one tool call, never raising on bad input.

        Unknown names and invalid arguments give an error result. A tool that raises :class:`ToolError` — or any
        other exception, which is reported the way τ-bench reports it — leaves the world exactly as it was.

        Args:
            world: The episode's world.
            name: Tool name.
            arguments: Argument object.

        Returns:
            The call's result.
        """
        t = self._tools.get(name)
        if t is None:
            return _error(name, f"unknown tool {name!r}; available tools: {', '.join(self._tools)}")
        problem = t.validate(arguments)
        if problem is not None:
            return _error(name, problem)
        # Read tools skip the transaction: they must not edit, so there is nothing to undo.
        guard = world.transaction() if t.writes else contextlib.nullcontext()
        try:
            with guard:
                observation = t.func(world, **arguments)
        except ToolError as exc:
            return _error(name, str(exc))
        except Exception as exc:
            return _error(name, _describe(exc))
        return ToolResult(name, observation, wrote=t.writes, terminates=t.terminates)


def _without_enums(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_enums(v) for k, v in schema.items() if k != "enum"}
    if isinstance(schema, list):
        return [_without_enums(v) for v in schema]
    return schema


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _error(name: str, message: str) -> ToolResult:
    return ToolResult(name, f"Error: {message}", error=message)
