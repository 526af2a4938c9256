"""The policy protocol: a batch of chat transcripts (and the tools each may call) in, a batch of texts out.

Every backend — local ``transformers`` models, OpenAI-compatible servers — implements :class:`Policy`, so rollouts,
evaluation, the simulated user and the challenger never care where text comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

ChatMessage: TypeAlias = dict[str, Any]
"""One chat message: ``{"role": "system" | "user" | "assistant" | "tool", "content": str}``."""

Conversation: TypeAlias = Sequence[ChatMessage]
ToolSchemas: TypeAlias = Sequence[dict[str, Any]]
"""JSON schemas of the tools a conversation may call, in the OpenAI ``{"type": "function", …}`` form."""


@dataclass(frozen=True)
class Sampling:
    """How to sample a completion.

    Attributes:
        temperature: 0 means greedy decoding.
        top_p: Nucleus sampling mass.
        max_new_tokens: Most tokens generated per completion.
        seed: Seeds the sampler, so a batch with the same seed and inputs gives the same texts.
    """

    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be positive, got {self.max_new_tokens}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON data (for trajectories and provenance).

        Returns:
            A dict.
        """
        return asdict(self)


@runtime_checkable
class Policy(Protocol):
    """What every policy backend provides.

    Attributes:
        name: The spec it was loaded from, e.g. ``"hf:default"`` or ``"openai:http://localhost:8000/v1"``.
        action_format: The action format this model writes naturally (``"hermes"`` for Qwen-style templates,
            ``"llama3"`` for Llama 3.1, …); environments may use another.
    """

    name: str
    action_format: str

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
        grammars: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Complete each conversation with the assistant's next message.

        Args:
            conversations: The transcripts, each ending where the assistant speaks next.
            tools: For each conversation, the tools it may call (``None``: no tools, or not shown).
            sampling: Sampling settings; the backend's defaults when ``None``.
            grammars: For each conversation, a Lark grammar its answer must follow (guided decoding; see
                :mod:`toolgym.policies.guidance`), or ``None`` for free text.

        Returns:
            One text per conversation, in order.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """What produced the texts: backend, model, settings (recorded with trajectories).

        Returns:
            JSON data.
        """
        ...

    def close(self) -> None:
        """Release the backend's resources (models, connections)."""
        ...


class PolicyError(RuntimeError):
    """A policy could not be loaded or could not produce text (a server error after retries, a bad spec)."""
