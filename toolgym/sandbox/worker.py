"""The sandbox worker process: runs model-written code under RestrictedPython with CPU, memory and output limits.

A worker is a separate interpreter started by :class:`~toolgym.sandbox.pool.SandboxPool`; it reads jobs from its
stdin and answers on a private copy of its stdout (the real fd 1 goes to ``/dev/null``, so nothing the job does can
write to the channel). Each job runs under per-job limits — CPU seconds (``SIGPROF`` stops the job), address space
(allocations fail with ``MemoryError``), no new files or processes — and the host kills the worker outright if it
overstays its wall-clock deadline. Tool calls made by code actions are sent to the host, which runs them against
the episode's world and answers, so the world never lives in the worker and a write either happened or not.

A worker exits when its stdin reaches end of file, which happens when the host closes the pool or dies. Between
jobs it waits on that pipe; during a job, the CPU limit bounds how long it can outlive a dead host.
"""

from __future__ import annotations

import collections
import json
import math
import os
import resource
import signal
import sys
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from toolgym.sandbox.protocol import ChannelClosed, encode, read_frame, write_frame
from toolgym.sandbox.restricted import (
    CappedPrintCollector,
    CompileError,
    ToolError,
    compile_source,
    freeze,
    restricted_globals,
    thaw,
)
from toolgym.world import World, canonical_json

RECURSION_LIMIT = 300
MAX_ERROR_CHARS = 2_000
EXIT_IGNORED_CPU_LIMIT = 152
"""Exit status of a worker whose job swallowed the CPU-limit exception and ran on to the next SIGXCPU."""
BASE_CACHE = 4
CODE_CACHE = 256


class CPULimitExceeded(BaseException):
    """Raised by the CPU-limit handler inside a job (a BaseException, so ``except Exception`` does not catch it)."""


class _Limits:
    """Per-job rlimits; the soft limits are lowered only while the job runs."""

    def __init__(self, cpu_s: float, memory_mb: int) -> None:
        self.cpu_s = cpu_s
        self.memory_mb = memory_mb
        self.saved: list[tuple[int, tuple[int, int]]] = []

    def _lower(self, which: int, soft: int) -> None:
        old = resource.getrlimit(which)
        hard = old[1]
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):  # not supported on this platform: the host's wall clock still applies
            return
        self.saved.append((which, old))

    def __enter__(self) -> _Limits:
        # SIGPROF stops the job after exactly cpu_s CPU seconds. RLIMIT_CPU (whole seconds) is the backstop that ends
        # a job which swallowed that stop; it fires at least 1 s later, so a job that stops cannot meet it.
        signal.setitimer(signal.ITIMER_PROF, max(self.cpu_s, 0.001))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._lower(resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime + self.cpu_s) + 1)
        try:
            pages = int(open("/proc/self/statm").read().split()[0])
            # The budget is on top of what the interpreter already maps, not an absolute cap.
            self._lower(resource.RLIMIT_AS, pages * os.sysconf("SC_PAGE_SIZE") + self.memory_mb * 2**20)
        except OSError:
            pass
        self._lower(resource.RLIMIT_FSIZE, 0)
        self._lower(resource.RLIMIT_NPROC, 0)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        for which, old in reversed(self.saved):
            resource.setrlimit(which, old)
        self.saved.clear()


class _CachedBase:
    """A world's base data held by the worker: the world itself (for hashing) and its frozen tables."""

    def __init__(self, tables: dict[str, dict[str, Any]]) -> None:
        self.world = World(tables, copy=False)
        self.frozen_tables = {name: {k: freeze(v) for k, v in t.items()} for name, t in tables.items()}
        self.frozen = MappingProxyType({name: MappingProxyType(t) for name, t in self.frozen_tables.items()})

    def state(self, changes: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
        tables: dict[str, Any] = dict(self.frozen)
        for name, records in changes.items():
            table = dict(self.frozen_tables[name])
            table.update({k: freeze(v) for k, v in records.items()})
            tables[name] = MappingProxyType(table)
        return MappingProxyType(tables)


class Worker:
    """The job loop of one worker process.

    Args:
        in_fd: Where jobs arrive.
        out_fd: Where answers go.
    """

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.bases: collections.OrderedDict[str, _CachedBase] = collections.OrderedDict()
        self.code: collections.OrderedDict[tuple[str, str], Any] = collections.OrderedDict()
        self.in_job = False
        self.cpu_exceeded = False

    # ---- plumbing -------------------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Send one message to the host."""
        write_frame(self.out_fd, encode(message))

    def receive(self) -> Any:
        """Wait for the host's next message."""
        return read_frame(self.in_fd, allow_pickle=True)

    def on_sigxcpu(self, signum: int, frame: object) -> None:
        """Stop the running job when it passes its CPU limit."""
        if not self.in_job:
            return
        if self.cpu_exceeded:  # the job caught the first stop and kept going: end the process
            os._exit(EXIT_IGNORED_CPU_LIMIT)
        self.cpu_exceeded = True
        raise CPULimitExceeded("CPU time limit exceeded")

    def compiled(self, source: str, filename: str) -> Any:
        """Compile under RestrictedPython, remembering recent sources."""
        key = (filename, source)
        code = self.code.get(key)
        if code is None:
            code = compile_source(source, filename)
            self.code[key] = code
            if len(self.code) > CODE_CACHE:
                self.code.popitem(last=False)
        else:
            self.code.move_to_end(key)
        return code

    def base(self, token: str) -> _CachedBase:
        """A world base by token, asking the host for its data the first time."""
        cached = self.bases.get(token)
        if cached is None:
            self.send({"op": "need_base", "token": token})
            message = self.receive()
            cached = _CachedBase(message["tables"])
            self.bases[token] = cached
            if len(self.bases) > BASE_CACHE:
                self.bases.popitem(last=False)
        else:
            self.bases.move_to_end(token)
        return cached

    # ---- jobs -----------------------------------------------------------------------------------------------

    def serve(self) -> None:
        """Answer jobs until the host closes the channel."""
        while True:
            try:
                job = self.receive()
            except ChannelClosed:
                return
            op = job.get("op")
            if op == "ping":
                self.send({"op": "pong", "pid": os.getpid()})
            elif op in ("exec", "evaluate", "compile"):
                self.send(self.run(job))
            else:
                self.send({"op": "done", "status": "error", "error": f"unknown job {op!r}"})

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job under its limits and describe the outcome."""
        limits = job.get("limits", {})
        printed = CappedPrintCollector(int(limits.get("output_chars", 20_000)))
        reply: dict[str, Any] = {"op": "done", "status": "ok", "value": None, "error": None}
        filename = job.get("filename", "<sandbox>")
        try:
            code = self.compiled(job["source"], filename)
        except CompileError as exc:
            reply.update(status="compile_error", error="\n".join(exc.errors))
            return reply
        if job["op"] == "compile":
            return reply
        prepared = self.prepare(job, printed)
        started = time.process_time()
        self.cpu_exceeded = False
        try:
            with _Limits(float(limits.get("cpu_s", 2.0)), int(limits.get("memory_mb", 256))):
                self.in_job = True
                try:
                    reply["value"] = self.execute(job, code, prepared)
                except (CPULimitExceeded, MemoryError, _BadResult):
                    raise
                except BaseException as exc:
                    # Described while the limits hold: the str() of what the job raised may be huge or slow.
                    reply.update(status="error", error=_describe(exc))
                finally:
                    self.in_job = False
        except CPULimitExceeded:
            reply.update(status="timeout", error=f"CPU time limit of {limits.get('cpu_s', 2.0)} s exceeded")
        except MemoryError:
            reply.update(
                status="memory", error=f"memory limit of {limits.get('memory_mb', 256)} MiB exceeded"
            )
        except _BadResult as exc:
            reply.update(status="bad_result", error=str(exc))
        except BaseException as exc:  # describing the job's exception failed
            reply.update(status="error", error=_describe(exc))
        if self.cpu_exceeded and reply["status"] != "timeout":  # the job caught the signal's exception itself
            reply.update(
                status="timeout", value=None, error=f"CPU time limit of {limits.get('cpu_s', 2.0)} s exceeded"
            )
        reply["output"] = printed()
        reply["dropped"] = printed.dropped
        reply["cpu_s"] = round(time.process_time() - started, 6)
        return reply

    def prepare(self, job: dict[str, Any], printed: CappedPrintCollector) -> dict[str, Any]:
        """Build the job's globals outside the limits (loading a base may take memory and time)."""
        if job["op"] == "exec":
            calls = {"n": 0, "max": int(job.get("limits", {}).get("max_tool_calls", 200))}
            tools = {
                name: self.tool_stub(name, params, calls) for name, params in job.get("tools", {}).items()
            }
            return {"globals": restricted_globals(printed, tools)}
        base = self.base(job["base"])
        changes = job.get("changes", {})
        state = base.state(changes)
        world = base.world.with_changes(changes)
        return {
            "globals": restricted_globals(printed, _verifier_helpers(state, world, base)),
            "state": state,
            "initial": base.frozen,
        }

    def execute(self, job: dict[str, Any], code: Any, prepared: dict[str, Any]) -> Any:
        """Execute the code and, for verifiers, call the entry function and check its verdict."""
        glb = prepared["globals"]
        exec(code, glb)
        if job["op"] == "exec":
            return None
        entry = job.get("entry", "evaluate")
        func = glb.get(entry)
        if not callable(func):
            raise _BadResult(f"the verifier must define a function {entry}(state, answer[, initial])")
        argcount = getattr(getattr(func, "__code__", None), "co_argcount", -1)
        if argcount == 2:
            result = func(prepared["state"], job.get("answer", ""))
        elif argcount == 3:
            result = func(prepared["state"], job.get("answer", ""), prepared["initial"])
        else:
            raise _BadResult(f"{entry} must take (state, answer) or (state, answer, initial)")
        if isinstance(result, bool):
            return result
        if isinstance(result, int | float) and result in (0, 1):
            return bool(result)
        raise _BadResult(f"{entry} must return True or False, got {type(result).__name__} {_short(result)}")

    def tool_stub(self, name: str, params: list[str], calls: dict[str, int]) -> Callable[..., Any]:
        """A function that sandboxed code calls like the tool; the host runs the real tool."""
        worker = self

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) > len(params):
                raise TypeError(
                    f"{name}() takes {len(params)} positional arguments but {len(args)} were given"
                )
            for param, arg in zip(params, args, strict=False):
                if param in kwargs:
                    raise TypeError(f"{name}() got multiple values for argument '{param}'")
                kwargs[param] = arg
            calls["n"] += 1
            if calls["n"] > calls["max"]:
                raise ToolError(f"too many tool calls in one code action (limit {calls['max']})")
            try:
                arguments = json.loads(json.dumps(thaw(kwargs)))
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name}(): arguments must be JSON values (str, int, float, bool, list, dict)"
                ) from None
            worker.send({"op": "tool", "name": name, "arguments": arguments})
            answer = worker.receive()
            if not answer.get("ok"):
                raise ToolError(answer.get("error", "tool call failed"))
            observation: str = answer["observation"]
            if observation[:1] in ("{", "["):
                try:
                    return json.loads(observation)
                except ValueError:
                    pass
            return observation

        call.__name__ = call.__qualname__ = name
        return call


class _BadResult(Exception):
    """The verifier ran but is not usable (missing entry point, wrong signature, non-boolean result)."""


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # e.g. a list nested too deep
        return f"<{type(value).__name__} that cannot be shown: {type(exc).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(exc: BaseException) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:  # the innermost frame of sandboxed code names the line to fix
        if tb.tb_frame.f_code.co_filename.startswith("<"):
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f" (line {line})" if line is not None else ""
    try:
        message = str(exc)
    except Exception as failure:  # e.g. an int too long to print, a list nested too deep to repr, MemoryError
        message = f"<the message cannot be shown: {type(failure).__name__}>"
    if len(message) > MAX_ERROR_CHARS:
        message = f"{message[:MAX_ERROR_CHARS]}... [{len(message) - MAX_ERROR_CHARS} more characters]"
    return f"{type(exc).__name__}{where}: {message}" if message else f"{type(exc).__name__}{where}"


def _verifier_helpers(state: Mapping[str, Any], world: World, base: _CachedBase) -> dict[str, Any]:
    """Functions a verifier may call besides the builtins."""

    def changed_records(after: Mapping[str, Any], before: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Sorted ``(table, key)`` pairs whose records differ between two states."""
        if after is state and before is base.frozen:
            candidates = [(t, k) for t, records in world.changes().items() for k in records]
        else:
            candidates = [
                (t, k)
                for t in set(after) | set(before)
                for k in set(after.get(t, ())) | set(before.get(t, ()))
            ]
        return sorted((t, k) for t, k in candidates if after.get(t, {}).get(k) != before.get(t, {}).get(k))

    def state_hash(value: Mapping[str, Any]) -> str:
        """Canonical SHA-256 of a state, equal for equal data whatever the number spelling (25 == 25.0)."""
        if value is state:
            return world.hash()
        if value is base.frozen:
            return base.world.hash()
        return World(thaw(value), copy=False).hash()

    def to_json(value: Any) -> str:
        """Canonical JSON text of a value (sorted keys, normalised numbers)."""
        return canonical_json(thaw(value))

    return {"changed_records": changed_records, "state_hash": state_hash, "to_json": to_json}


def main(parent_pid: int) -> None:
    """Entry point of a worker process.

    Args:
        parent_pid: The host's pid; the worker exits when the host is gone.
    """
    if os.getppid() != parent_pid:  # the host is already gone
        os._exit(0)
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.setrecursionlimit(RECURSION_LIMIT)
    worker = Worker(0, out_fd)
    signal.signal(signal.SIGXCPU, worker.on_sigxcpu)
    signal.signal(signal.SIGPROF, worker.on_sigxcpu)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the host's terminal is the host's to handle
    worker.send({"op": "ready", "pid": os.getpid()})
    worker.serve()
