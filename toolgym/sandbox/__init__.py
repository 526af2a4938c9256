"""The sandbox: every piece of model-written code — code actions, verifiers, solutions, failure cases — runs here.

Two layers confine it. RestrictedPython (:mod:`toolgym.sandbox.restricted`) limits what the code can name: no
imports, no ``_`` names, a fixed set of builtins, read-only state. A pool of separate worker processes
(:mod:`toolgym.sandbox.pool`) limits what it can use: CPU seconds, memory, printed output, tool calls and wall-clock
time, with dead or overrunning workers killed and replaced.
"""

from __future__ import annotations

from toolgym.sandbox.pool import (
    Limits,
    SandboxError,
    SandboxPool,
    SandboxResult,
    ToolHandler,
    ToolReply,
    acquire_shared_pool,
    release_shared_pool,
)
from toolgym.sandbox.restricted import CompileError, FrozenList, ToolError, compile_source, freeze

__all__ = [
    "CompileError",
    "FrozenList",
    "Limits",
    "SandboxError",
    "SandboxPool",
    "SandboxResult",
    "ToolError",
    "ToolHandler",
    "ToolReply",
    "acquire_shared_pool",
    "compile_source",
    "freeze",
    "release_shared_pool",
]
