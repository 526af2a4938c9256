"""The host side of the sandbox: a pool of worker processes that run model-written code with hard limits.

Workers are separate interpreters (not forks of the host, which may be a multi-threaded trainer holding a model),
started once and reused, so a call costs a round trip over a pipe rather than a process start. A worker that
overstays its wall-clock deadline, dies, or hits a CPU or memory limit is killed and replaced; the caller gets a
result saying why. Workers exit when the host closes their pipe — at :meth:`SandboxPool.close`, at interpreter exit, or
when the host dies — and a forked child of the host never reuses its parent's workers.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from toolgym.sandbox.protocol import ChannelClosed, ChannelTimeout, encode, read_frame, write_frame
from toolgym.sandbox.worker import EXIT_IGNORED_CPU_LIMIT
from toolgym.world import World

Status = Literal["ok", "compile_error", "error", "timeout", "memory", "bad_result", "crashed"]

_BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[2]); "
    "from toolgym.sandbox.worker import main; main(int(sys.argv[1]))"
)
_START_TIMEOUT_S = 60.0
_RETIRING: frozenset[str] = frozenset({"timeout", "memory", "crashed"})


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use.

    Attributes:
        cpu_s: CPU seconds; the job is stopped when it uses more.
        wall_s: Wall-clock seconds (not counting tool calls run by the host); the worker is killed after it.
        memory_mb: Address space the job may add on top of the worker's own.
        output_chars: Printed characters kept; the rest is counted and dropped.
        max_tool_calls: Tool calls one code action may make.
    """

    cpu_s: float = 2.0
    wall_s: float = 4.0
    memory_mb: int = 256
    output_chars: int = 20_000
    max_tool_calls: int = 200


@dataclass(frozen=True)
class SandboxResult:
    """The outcome of one sandboxed run.

    Attributes:
        status: ``ok``; ``compile_error`` (refused by RestrictedPython); ``error`` (raised an exception);
            ``timeout`` (CPU or wall-clock limit); ``memory`` (memory limit); ``bad_result`` (a verifier that is
            missing, has the wrong signature or returns a non-boolean); ``crashed`` (the worker died).
        value: A verifier's verdict (``True``/``False``) when ``status`` is ``ok``; ``None`` for code actions.
        output: What the code printed (at most ``Limits.output_chars`` characters).
        dropped: Printed characters beyond the limit.
        error: Why the run failed, naming the line where known.
        seconds: Wall-clock time of the call.
        tool_calls: Tool calls the code made (code actions only).
    """

    status: Status
    value: bool | None = None
    output: str = ""
    dropped: int = 0
    error: str | None = None
    seconds: float = 0.0
    tool_calls: int = 0

    @property
    def ok(self) -> bool:
        """Whether the code ran to completion."""
        return self.status == "ok"


@dataclass(frozen=True)
class ToolReply:
    """What the host answers to a tool call made from sandboxed code.

    Attributes:
        observation: The tool's text result, or ``None`` when the call failed.
        error: The tool's error message when it failed.
    """

    observation: str | None = None
    error: str | None = None


ToolHandler = Callable[[str, dict[str, Any]], ToolReply]
"""Runs one tool call for a code action: ``(name, arguments) -> ToolReply``."""


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start), as opposed to the code it ran."""


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(os.getpid()), json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.write_fd = self.proc.stdin.fileno()
        self.read_fd = self.proc.stdout.fileno()
        self.ready = False
        self.jobs = 0

    def wait_ready(self) -> None:
        if self.ready:
            return
        try:
            hello = read_frame(self.read_fd, deadline=time.monotonic() + _START_TIMEOUT_S)
        except (ChannelClosed, ChannelTimeout) as exc:
            self.kill()
            raise SandboxError(f"a sandbox worker failed to start: {exc}") from None
        if hello.get("op") != "ready":
            self.kill()
            raise SandboxError(f"a sandbox worker sent {hello!r} instead of its greeting")
        self.ready = True

    def send(self, message: Any, *, pickled: bool = False) -> None:
        write_frame(self.write_fd, encode(message, pickled=pickled))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Ask the worker to exit (end of file on its stdin), killing it if it does not."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def abandon(self) -> None:
        """Drop the handles without touching the process (in a forked child: the worker is the parent's)."""
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class SandboxPool:
    """A pool of sandbox worker processes, safe to share between threads.

    Args:
        size: Most workers running at once (each call holds one); defaults to 2 or the CPU count if smaller.
        limits: Default limits for every call.

    Raises:
        ValueError: For a size below 1.
    """

    def __init__(self, size: int | None = None, limits: Limits | None = None) -> None:
        if size is None:
            size = max(1, min(2, os.cpu_count() or 1))
        if size < 1:
            raise ValueError(f"a sandbox pool needs at least one worker, got size={size}")
        self.size = size
        self.limits = limits or Limits()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._owner = os.getpid()
        self.replaced = 0
        _POOLS.add(self)

    # ---- workers --------------------------------------------------------------------------------------------

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox pool is closed")
                if self._idle:
                    worker = self._idle.pop()
                    break
                if len(self._all) < self.size:
                    worker = _Worker()
                    self._all.add(worker)
                    break
                self._cond.wait()
        try:
            worker.wait_ready()
        except SandboxError:
            self._discard(worker)
            raise
        return worker

    def _release(self, worker: _Worker, *, retire: bool) -> None:
        if retire:
            self._discard(worker)
            return
        with self._cond:
            if self._closed:
                worker.close()
                self._all.discard(worker)
            else:
                self._idle.append(worker)
            self._cond.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._cond:
            self._all.discard(worker)
            self.replaced += 1
            self._cond.notify()

    def warm(self) -> SandboxPool:
        """Start every worker now rather than at first use.

        Returns:
            The pool.
        """
        workers = [self._acquire() for _ in range(self.size)]
        for worker in workers:
            self._release(worker, retire=False)
        return self

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (for monitoring and tests)."""
        with self._cond:
            return [w.proc.pid for w in self._all]

    def close(self) -> None:
        """Stop every worker. Calls in progress finish first; later calls raise :class:`SandboxError`."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            for worker in idle:
                self._all.discard(worker)
        for worker in idle:
            worker.close()

    def _forget(self) -> None:
        for worker in list(self._all):
            worker.abandon()
        self._all.clear()
        self._idle.clear()
        self._closed = True
        self._cond = threading.Condition()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- calls ----------------------------------------------------------------------------------------------

    def _call(
        self,
        job: dict[str, Any],
        limits: Limits,
        *,
        world: World | None = None,
        tools: ToolHandler | None = None,
    ) -> SandboxResult:
        if os.getpid() != self._owner:
            raise SandboxError("this sandbox pool belongs to another process; create a new one after fork")
        job["limits"] = asdict(limits)
        started = time.monotonic()
        worker = self._acquire()
        deadline = time.monotonic() + limits.wall_s
        tool_calls = 0
        try:
            worker.send(job)
            while True:
                message = read_frame(worker.read_fd, deadline=deadline)
                op = message.get("op")
                if op == "done":
                    break
                if op == "need_base" and world is not None:
                    paused = time.monotonic()
                    worker.send({"tables": world.base_tables()}, pickled=True)
                    deadline += time.monotonic() - paused  # shipping the base is ours, not the job's time
                elif op == "tool" and tools is not None:
                    tool_calls += 1
                    paused = time.monotonic()
                    reply = tools(str(message.get("name")), message.get("arguments") or {})
                    deadline += time.monotonic() - paused
                    if reply.error is not None:
                        worker.send({"ok": False, "error": reply.error})
                    else:
                        worker.send({"ok": True, "observation": reply.observation or ""})
                else:
                    raise ValueError(f"unexpected message from a sandbox worker: {str(message)[:200]}")
        except ChannelTimeout:
            self._release(worker, retire=True)
            return SandboxResult(
                "timeout",
                error=f"wall-clock limit of {limits.wall_s} s exceeded; the worker was killed",
                seconds=time.monotonic() - started,
                tool_calls=tool_calls,
            )
        except (ChannelClosed, ValueError) as exc:
            self._release(worker, retire=True)
            code = worker.proc.returncode
            if code == EXIT_IGNORED_CPU_LIMIT:
                return SandboxResult(
                    "timeout",
                    error=f"CPU time limit of {limits.cpu_s} s exceeded, and the code kept running after being "
                    "stopped; the worker was ended",
                    seconds=time.monotonic() - started,
                    tool_calls=tool_calls,
                )
            how = f" (exit status {code})" if code is not None else ""
            return SandboxResult(
                "crashed",
                error=f"the sandbox worker died{how}: {exc}",
                seconds=time.monotonic() - started,
                tool_calls=tool_calls,
            )
        except BaseException:
            self._release(worker, retire=True)
            raise
        worker.jobs += 1
        status = message.get("status", "error")
        self._release(worker, retire=status in _RETIRING)
        value = message.get("value")
        return SandboxResult(
            status if status in _STATUSES else "error",
            value=value if isinstance(value, bool) else None,
            output=str(message.get("output", "")),
            dropped=int(message.get("dropped", 0)),
            error=message.get("error"),
            seconds=time.monotonic() - started,
            tool_calls=tool_calls,
        )

    def check(
        self, source: str, *, filename: str = "<sandbox>", limits: Limits | None = None
    ) -> SandboxResult:
        """Compile code under RestrictedPython in a worker without running it.

        Args:
            source: Python source.
            filename: Name used in error messages.
            limits: Limits for this call.

        Returns:
            ``ok`` or ``compile_error`` with the compiler's messages.
        """
        return self._call({"op": "compile", "source": source, "filename": filename}, limits or self.limits)

    def run_code(
        self,
        source: str,
        tools: ToolHandler | None = None,
        *,
        tool_params: Mapping[str, Sequence[str]] | None = None,
        filename: str = "<code>",
        limits: Limits | None = None,
    ) -> SandboxResult:
        """Run a code action: top-level code that may call tools as functions.

        Args:
            source: Python source.
            tools: Runs each tool call in the host and answers it.
            tool_params: The callable tools and their parameter names in order (for positional arguments).
            filename: Name used in error messages.
            limits: Limits for this call.

        Returns:
            The run's status, printed output and error.
        """
        job = {
            "op": "exec",
            "source": source,
            "filename": filename,
            "tools": {name: list(params) for name, params in (tool_params or {}).items()},
        }
        return self._call(job, limits or self.limits, tools=tools)

    def evaluate(
        self,
        source: str,
        world: World,
        answer: str | None,
        *,
        entry: str = "evaluate",
        filename: str = "<verifier>",
        limits: Limits | None = None,
    ) -> SandboxResult:
        """Run a verifier ``evaluate(state, answer[, initial])`` on a world.

        The verifier sees the world's current state and the state it was loaded with as read-only data. The base
        data is shipped to a worker once and cached there; each call sends only the records the world changed.

        Args:
            source: Python source defining the entry function.
            world: The final world.
            answer: The agent's final message (``None`` counts as empty).
            entry: Name of the function to call.
            filename: Name used in error messages.
            limits: Limits for this call.

        Returns:
            ``value`` is the verdict when ``status`` is ``ok``.
        """
        job = {
            "op": "evaluate",
            "source": source,
            "filename": filename,
            "entry": entry,
            "base": world.base_token,
            "changes": world.changes(),
            "answer": answer or "",
        }
        return self._call(job, limits or self.limits, world=world)

    def with_limits(self, **changes: Any) -> Limits:
        """Return this pool's default limits with some fields changed.

        Args:
            **changes: Fields of :class:`Limits`.

        Returns:
            The new limits.
        """
        return replace(self.limits, **changes)


_STATUSES: frozenset[str] = frozenset(Status.__args__)  # type: ignore[attr-defined]
_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


@dataclass
class _Shared:
    pool: SandboxPool | None = None
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_SHARED = _Shared()


def acquire_shared_pool() -> SandboxPool:
    """Take a reference to the process-wide pool that environments share, starting it if needed.

    Pair every call with :func:`release_shared_pool`; the workers stop when the last user releases.

    Returns:
        The shared pool.
    """
    with _SHARED.lock:
        if _SHARED.pool is None:
            _SHARED.pool = SandboxPool()
        _SHARED.users += 1
        return _SHARED.pool


def release_shared_pool(pool: SandboxPool) -> None:
    """Give back a reference taken with :func:`acquire_shared_pool`.

    Args:
        pool: The pool that was acquired.
    """
    with _SHARED.lock:
        if pool is not _SHARED.pool:
            return
        _SHARED.users -= 1
        if _SHARED.users <= 0:
            _SHARED.pool, _SHARED.users = None, 0
            pool.close()


def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool._forget()
    _SHARED.pool, _SHARED.users, _SHARED.lock = None, 0, threading.Lock()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
