"""Users: who the agent talks to when it does not call a tool.

``direct`` (the default) hands the agent the task instruction as the first user message and treats the agent's
first message back as its final answer, ending the episode — deterministic and free. ``scripted`` replies from a
fixed list, for tests and demonstrations. ``llm`` is a simulated user played by any policy
(:mod:`toolgym.llm_user`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

STOP_TOKEN = "###STOP###"


@dataclass(frozen=True)
class UserReply:
    """The user's answer to an agent message.

    Attributes:
        text: What the user says (the agent's next observation).
        done: Whether the conversation is over.
    """

    text: str
    done: bool


@runtime_checkable
class User(Protocol):
    """The protocol every user follows."""

    def reset(self, instruction: str, rng: np.random.Generator) -> str:
        """Start a conversation.

        Args:
            instruction: The task's instruction (or, without a task, the domain's opening text).
            rng: The episode's random generator, for users that sample.

        Returns:
            The user's first message, the episode's first observation.
        """
        ...

    def reply(self, message: str) -> UserReply:
        """Answer a message from the agent.

        Args:
            message: The agent's message.

        Returns:
            The user's reply.
        """
        ...


class DirectUser:
    """The instruction is the first message; the agent's first message back is its final answer."""

    def reset(self, instruction: str, rng: np.random.Generator) -> str:
        """Return the instruction unchanged.

        Args:
            instruction: The instruction.
            rng: Unused.

        Returns:
            The instruction.
        """
        return instruction

    def reply(self, message: str) -> UserReply:
        """End the conversation: the message is the agent's answer.

        Args:
            message: The agent's answer.

        Returns:
            An empty, final reply.
        """
        return UserReply(text="", done=True)


class ScriptedUser:
    """Replies with fixed lines in order; ends on the last line or on a line containing ``###STOP###``.

    Args:
        replies: What the user says after each agent message.
        opening: The first message; the instruction when ``None``.

    Raises:
        TypeError: If ``replies`` is not a sequence of strings.
    """

    def __init__(self, replies: Sequence[str] = (), opening: str | None = None) -> None:
        if isinstance(replies, str) or not all(isinstance(r, str) for r in replies):
            raise TypeError("ScriptedUser replies must be a sequence of strings")
        self.replies = list(replies)
        self.opening = opening
        self._next = 0

    def reset(self, instruction: str, rng: np.random.Generator) -> str:
        """Restart the script.

        Args:
            instruction: Used as the opening when no opening line was given.
            rng: Unused.

        Returns:
            The opening line.
        """
        self._next = 0
        return self.opening if self.opening is not None else instruction

    def reply(self, message: str) -> UserReply:
        """Say the next scripted line.

        Args:
            message: The agent's message (ignored).

        Returns:
            The next line; the conversation ends after the last one or at a stop token.
        """
        if self._next >= len(self.replies):
            return UserReply(text=STOP_TOKEN, done=True)
        text = self.replies[self._next]
        self._next += 1
        return UserReply(text=text, done=STOP_TOKEN in text or self._next >= len(self.replies))


def _llm_user(**kwargs: Any) -> User:
    from toolgym.llm_user import LLMUser  # loads model backends only when a simulated user is asked for

    return LLMUser(**kwargs)


UserFactory = Callable[..., User]
_USERS: dict[str, UserFactory] = {"direct": DirectUser, "scripted": ScriptedUser, "llm": _llm_user}


def register_user(name: str, factory: UserFactory) -> None:
    """Make a user kind available by name to every environment.

    Args:
        name: The name envs accept as ``user=``.
        factory: Called with the env's ``user_kwargs`` to build a user.

    Raises:
        ValueError: If the name is taken.
    """
    if name in _USERS:
        raise ValueError(f"user kind {name!r} is already registered")
    _USERS[name] = factory


def make_user(spec: str | User, **kwargs: Any) -> User:
    """Build a user from a registered name, or pass an instance through.

    Args:
        spec: A registered name (``"direct"``, ``"scripted"``, …) or a :class:`User`.
        **kwargs: Arguments for the factory.

    Returns:
        The user.

    Raises:
        ValueError: If the name is unknown or the factory rejects the arguments.
    """
    if not isinstance(spec, str):
        if not isinstance(spec, User):
            raise ValueError(f"user must be a registered name or a User, got {type(spec).__name__}")
        return spec
    factory = _USERS.get(spec)
    if factory is None:
        raise ValueError(f"unknown user kind {spec!r}; registered: {sorted(_USERS)}")
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ValueError(f"cannot build user {spec!r} from {kwargs}: {exc}") from exc
