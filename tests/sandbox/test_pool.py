"""The sandbox pool's own behaviour: worker reuse, bounds, replacement, shutdown, forks, verifier and code-action
results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from toolgym.sandbox import (
    Limits,
    SandboxError,
    SandboxPool,
    SandboxResult,
    ToolReply,
    acquire_shared_pool,
    release_shared_pool,
)
from toolgym.sandbox import pool as pool_module
from toolgym.world import World

LIMITS = Limits(cpu_s=1.0, wall_s=3.0, memory_mb=128, output_chars=2_000, max_tool_calls=20)
LINUX = sys.platform.startswith("linux")


def _reaped(pid: int) -> bool:
    """Whether ``pid`` is no longer a child of this process (neither running nor an unreaped zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _gone(pid: int) -> bool:
    """Whether ``pid`` (not necessarily our child) has exited: absent, or a zombie waiting for its reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state in ("Z", "X")


def _wait_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """Poll until every pid has exited or the deadline passes; returns the ones still running."""
    deadline = time.monotonic() + timeout_s
    left = [pid for pid in pids if not _gone(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [pid for pid in left if not _gone(pid)]
    return left


@pytest.fixture
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(size=1, limits=LIMITS) as p:
        yield p


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxPool]:
    """One warm pool for the tests that only look at results."""
    with SandboxPool(size=1, limits=LIMITS) as p:
        yield p.warm()


def _world() -> World:
    return World(
        {
            "users": {
                "u1": {"name": "Ann", "tags": ["a", "b"], "balance": 10},
                "u2": {"name": "Bob", "tags": [], "balance": 25.0},
            },
            "orders": {"o1": {"user": "u1", "items": [[1, 2], [3]]}},
        }
    )


def _ok(pool: SandboxPool) -> None:
    result = pool.run_code("print(6 * 7)")
    assert (result.status, result.output) == ("ok", "42\n"), result


# ---------------------------------------------------------------------------------------------------------------
# Workers: start, reuse, bounds, shutdown
# ---------------------------------------------------------------------------------------------------------------


def test_pool_starts_lazily_and_warm_starts_every_worker() -> None:
    with SandboxPool(size=2, limits=LIMITS) as p:
        assert p.worker_pids() == []
        assert p.warm() is p
        pids = p.worker_pids()
        assert len(set(pids)) == 2
        assert not any(_gone(pid) for pid in pids)


def test_workers_are_reused_across_calls(pool: SandboxPool) -> None:
    pool.warm()
    (pid,) = pool.worker_pids()
    for i in range(5):
        assert pool.run_code(f"print({i})").output == f"{i}\n"
        assert pool.evaluate("def evaluate(state, answer):\n    return True", _world(), "").value is True
        assert pool.worker_pids() == [pid]
    assert pool.replaced == 0


def test_size_bounds_concurrent_calls_from_threads() -> None:
    active = 0
    most = 0
    seen_pids: set[int] = set()
    lock = threading.Lock()

    with SandboxPool(size=2, limits=LIMITS) as p:

        def handler(name: str, arguments: dict[str, Any]) -> ToolReply:
            nonlocal active, most
            with lock:
                active += 1
                most = max(most, active)
                seen_pids.update(p.worker_pids())
            with lock:
                active -= 1
            return ToolReply(observation=str(arguments["n"] * 2))

        results: list[SandboxResult | BaseException] = []

        def call(n: int) -> None:
            try:
                results.append(p.run_code(f"print(double({n}))", handler, tool_params={"double": ["n"]}))
            except BaseException as exc:
                results.append(exc)

        threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert sorted(r.output for r in results if isinstance(r, SandboxResult)) == sorted(
            f"{2 * n}\n" for n in range(8)
        ), results
        assert all(isinstance(r, SandboxResult) and r.ok for r in results)
        assert 1 <= most <= 2
        assert len(seen_pids) <= 2 and len(p.worker_pids()) <= 2
        # The workers were started from the callers' threads, which have ended: they must still be alive.
        pids = p.worker_pids()
        for _ in range(4):
            _ok(p)
        assert p.worker_pids() == pids and p.replaced == 0


def test_workers_started_from_short_lived_threads_outlive_them() -> None:
    """PR_SET_PDEATHSIG is tied to the thread that started a worker; the pool must not die with that thread."""
    with SandboxPool(size=1, limits=LIMITS) as p:
        thread = threading.Thread(target=p.warm)
        thread.start()
        thread.join()
        (pid,) = p.worker_pids()
        # If the worker were killed with its starter thread, it would be a zombie by now or within moments.
        assert _wait_gone([pid], timeout_s=0.5) == [pid]
        _ok(p)
        assert p.worker_pids() == [pid] and p.replaced == 0


def test_close_stops_every_worker_and_later_calls_raise() -> None:
    p = SandboxPool(size=2, limits=LIMITS).warm()
    pids = p.worker_pids()
    p.close()
    assert p.worker_pids() == []
    assert all(_reaped(pid) for pid in pids)
    with pytest.raises(SandboxError, match="closed"):
        p.run_code("print(1)")
    with pytest.raises(SandboxError):
        p.evaluate("def evaluate(state, answer):\n    return True", _world(), "")
    with pytest.raises(SandboxError):
        p.check("x = 1")
    with pytest.raises(SandboxError):
        p.warm()
    p.close()  # closing twice is harmless


def test_close_during_a_call_lets_it_finish_then_stops_its_worker() -> None:
    p = SandboxPool(size=1, limits=LIMITS).warm()
    (pid,) = p.worker_pids()
    results: list[SandboxResult] = []

    def handler(name: str, arguments: dict[str, Any]) -> ToolReply:
        p.close()  # from inside the call, while the worker is busy
        return ToolReply(observation="done")

    results.append(p.run_code("print(step())", handler, tool_params={"step": []}))
    assert results[0].output == "done\n"
    assert p.worker_pids() == []
    assert _reaped(pid)


def test_context_manager_closes_the_pool() -> None:
    with SandboxPool(size=1, limits=LIMITS) as p:
        p.warm()
        pids = p.worker_pids()
        _ok(p)
    assert all(_reaped(pid) for pid in pids)
    with pytest.raises(SandboxError):
        p.run_code("print(1)")


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        SandboxPool(size=0)


# ---------------------------------------------------------------------------------------------------------------
# Replacement of dead or overrunning workers
# ---------------------------------------------------------------------------------------------------------------

OVERRUNS = {
    "cpu": ("while True:\n    pass", "timeout", "CPU time limit of 0.5 s exceeded"),
    "cpu_swallowed": (
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
        "timeout",
        "CPU time limit of 0.5 s exceeded, and the code kept running",
    ),
    "memory": ("x = 'a' * 2 ** 33", "memory", "memory limit of 128 MiB"),
}


@pytest.mark.parametrize("kind", list(OVERRUNS))
def test_overrunning_worker_is_replaced(pool: SandboxPool, kind: str) -> None:
    source, status, message = OVERRUNS[kind]
    pool.warm()
    (old,) = pool.worker_pids()
    limits = Limits(cpu_s=0.5, wall_s=4.0, memory_mb=128)
    result = pool.run_code(source, limits=limits)
    assert result.status == status, result
    assert message in (result.error or "")
    assert result.seconds < limits.wall_s
    assert pool.replaced == 1
    assert _reaped(old)
    _ok(pool)
    (new,) = pool.worker_pids()
    assert new != old


def test_stalled_worker_is_killed_at_the_wall_clock_limit(pool: SandboxPool) -> None:
    pool.warm()
    (old,) = pool.worker_pids()

    def handler(name: str, arguments: dict[str, Any]) -> ToolReply:
        os.kill(old, signal.SIGSTOP)  # the worker uses no CPU from here on: only the wall clock can end it
        return ToolReply(observation="")

    limits = Limits(cpu_s=5.0, wall_s=1.0)
    result = pool.run_code("stall()\nprint('unreached')", handler, tool_params={"stall": []}, limits=limits)
    assert result.status == "timeout", result
    assert result.error == "wall-clock limit of 1.0 s exceeded; the worker was killed"
    assert 1.0 <= result.seconds < 3.0
    assert pool.replaced == 1
    assert _reaped(old)
    _ok(pool)
    assert pool.worker_pids() != [old]


def test_crashed_worker_is_replaced(pool: SandboxPool) -> None:
    pool.warm()
    (old,) = pool.worker_pids()
    os.kill(old, signal.SIGKILL)  # dies while idle: the next call finds out
    result = pool.run_code("print(1)")
    assert result.status == "crashed", result
    assert "the sandbox worker died" in (result.error or "")
    assert pool.replaced == 1
    assert _reaped(old)
    _ok(pool)
    assert pool.worker_pids() != [old]


def test_errors_do_not_replace_the_worker(pool: SandboxPool) -> None:
    pool.warm()
    (pid,) = pool.worker_pids()
    assert pool.run_code("1 / 0").status == "error"
    assert pool.run_code("x = (").status == "compile_error"
    assert (
        pool.evaluate("def evaluate(state, answer):\n    return 'yes'", _world(), "").status == "bad_result"
    )
    assert pool.worker_pids() == [pid] and pool.replaced == 0


# ---------------------------------------------------------------------------------------------------------------
# The shared pool, forks, and the host's death
# ---------------------------------------------------------------------------------------------------------------


def test_shared_pool_is_reference_counted() -> None:
    if pool_module._SHARED.pool is not None:
        pytest.skip("another test holds the shared pool")
    first = acquire_shared_pool()
    second = acquire_shared_pool()
    assert first is second
    first.warm()
    pids = first.worker_pids()
    assert pids

    release_shared_pool(first)
    assert first.worker_pids() == pids and not any(_gone(pid) for pid in pids)
    _ok(second)

    release_shared_pool(first)  # the second reference
    assert all(_reaped(pid) for pid in pids)
    with pytest.raises(SandboxError):
        second.run_code("print(1)")

    third = acquire_shared_pool()
    try:
        assert third is not first
        _ok(third)
    finally:
        release_shared_pool(third)
        release_shared_pool(third)  # an extra release is harmless
        release_shared_pool(SandboxPool(size=1))  # so is releasing a pool that is not the shared one
    assert pool_module._SHARED.pool is None and pool_module._SHARED.users == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_cannot_use_the_parents_pool(pool: SandboxPool) -> None:
    pool.warm()
    (pid,) = pool.worker_pids()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which reports through its exit status
        code = 1
        try:
            try:
                pool.run_code("print(1)")
            except SandboxError as exc:
                code = 0 if "another process" in str(exc) else 2
            if code == 0 and pool.worker_pids() != []:
                code = 3
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    _ok(pool)
    assert pool.worker_pids() == [pid] and pool.replaced == 0


BUSY_CPU_S = 2.0
HOST_SCRIPT = """
import atexit, os, sys, threading

def check():  # registered before toolgym is imported, so it runs after the pool's own atexit hook
    left = []
    for pid in PIDS:
        try:
            os.waitpid(pid, os.WNOHANG)
            left.append(pid)
        except ChildProcessError:
            pass
    print("left", left, flush=True)

PIDS = []
atexit.register(check)

from toolgym.sandbox import Limits, SandboxPool, ToolReply

pool = SandboxPool(size=2, limits=Limits(cpu_s=float(sys.argv[2]), wall_s=60)).warm()
PIDS.extend(pool.worker_pids())
mode = sys.argv[1]
if mode == "busy":
    def handler(name, arguments):
        print("pids", *PIDS, flush=True)
        return ToolReply(observation="")
    threading.Thread(
        target=pool.run_code, args=("ready()\\nwhile True:\\n    pass", handler), kwargs={"tool_params": {"ready": []}}
    ).start()
    sys.stdin.read()  # until killed
else:
    pool.run_code("print(1)")
    print("pids", *PIDS, flush=True)
"""


def _start_host(mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOST_SCRIPT), mode, str(BUSY_CPU_S)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line and line[0] == "pids", line
    return proc, [int(pid) for pid in line[1:]]


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux-only")
def test_workers_die_with_a_killed_host() -> None:
    host, pids = _start_host("busy")
    try:
        assert len(pids) == 2
        assert not any(_gone(pid) for pid in pids)
    finally:
        host.kill()
        host.communicate()
    # The idle worker sees end of file on its pipe at once. The busy one is in an endless loop and never reads
    # its pipe: its CPU limit stops the job, and the answer it then tries to send finds nobody listening.
    assert _wait_gone(pids, timeout_s=BUSY_CPU_S + 8.0) == []


def test_workers_are_closed_at_interpreter_exit() -> None:
    host, pids = _start_host("exit")
    out, _ = host.communicate(timeout=30)
    assert host.returncode == 0
    assert out.strip() == "left []"  # the pool's atexit hook closed and reaped both workers
    assert _wait_gone(pids) == []


# ---------------------------------------------------------------------------------------------------------------
# Verifier results
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def evaluate(state, answer):\n    return 'yes'", "must return True or False, got str 'yes'"),
        ("def evaluate(state, answer):\n    return None", "got NoneType None"),
        ("def evaluate(state, answer):\n    return 2", "got int 2"),
        ("def evaluate(state, answer):\n    return [state]", "got list"),
        (
            "def verify(state, answer):\n    return True",
            "must define a function evaluate(state, answer[, initial])",
        ),
        ("evaluate = 3", "must define a function evaluate"),
        ("def evaluate(state):\n    return True", "must take (state, answer) or (state, answer, initial)"),
        (
            "def evaluate(a, b, c, d):\n    return True",
            "must take (state, answer) or (state, answer, initial)",
        ),
        ("evaluate = len", "must take (state, answer)"),
    ],
)
def test_unusable_verifiers_are_bad_results(shared: SandboxPool, source: str, message: str) -> None:
    result = shared.evaluate(source, _world(), "answer")
    assert result.status == "bad_result", result
    assert result.value is None
    assert message in (result.error or "")


def test_verdicts_and_numeric_verdicts(shared: SandboxPool) -> None:
    world = _world()
    for source, value in [
        ("def evaluate(state, answer):\n    return answer == 'yes'", True),
        ("def evaluate(state, answer):\n    return answer == 'no'", False),
        ("def evaluate(state, answer):\n    return 1", True),
        ("def evaluate(state, answer):\n    return 0.0", False),
        ("evaluate = lambda state, answer: len(answer) == 3", True),
    ]:
        result = shared.evaluate(source, world, "yes")
        assert (result.status, result.value) == ("ok", value), (source, result)


def test_evaluate_with_two_and_three_parameters(shared: SandboxPool) -> None:
    world = _world()
    world.edit("users", "u1")["name"] = "Eve"
    two = "def evaluate(state, answer):\n    return state['users']['u1']['name'] == answer"
    three = (
        "def evaluate(state, answer, initial):\n"
        "    return state['users']['u1']['name'] == answer and initial['users']['u1']['name'] == 'Ann'"
    )
    assert shared.evaluate(two, world, "Eve").value is True
    assert shared.evaluate(three, world, "Eve").value is True
    assert shared.evaluate(three, world, "Ann").value is False
    assert shared.evaluate(two, world, None).value is False  # None counts as an empty answer
    assert shared.evaluate("def evaluate(state, answer):\n    return answer == ''", world, None).value is True


def test_changed_records_helper(shared: SandboxPool) -> None:
    world = _world()
    world.edit("users", "u1")["balance"] = 11
    world.put("users", "u3", {"name": "Cy", "tags": [], "balance": 0})
    world.edit("users", "u2")["balance"] = 25  # 25 == 25.0: a rewrite to an equal value is not a change
    expected = "[('users', 'u1'), ('users', 'u3')]"
    source = (
        "def evaluate(state, answer, initial):\n"
        "    print(changed_records(state, initial))\n"
        "    print(changed_records(dict(state), initial))\n"  # the generic path, not the overlay shortcut
        "    print(changed_records(initial, initial))\n"
        "    return True"
    )
    result = shared.evaluate(source, world, "")
    assert result.status == "ok", result
    assert result.output == f"{expected}\n{expected}\n[]\n"


def test_state_hash_helper_matches_the_host(shared: SandboxPool) -> None:
    world = _world()
    source = (
        "def evaluate(state, answer, initial):\n"
        "    print(state_hash(state))\n"
        "    print(state_hash(initial))\n"
        "    print(state_hash(dict(state)))\n"  # computed from the data, not the cached world
        "    return True"
    )
    result = shared.evaluate(source, world, "")
    assert result.output.split() == [world.hash()] * 3

    pristine = world.hash()
    world.edit("orders", "o1")["items"] = [[1, 2], [3], [4]]
    result = shared.evaluate(source, world, "")
    assert result.output.split() == [world.hash(), pristine, world.hash()]
    assert world.hash() != pristine

    world.edit("users", "u2")["balance"] = 25  # was 25.0
    assert shared.evaluate(source, world, "").output.split()[0] == world.hash()


def test_lists_in_state_compare_equal_to_python_lists(shared: SandboxPool) -> None:
    source = (
        "def evaluate(state, answer):\n"
        "    tags = state['users']['u1']['tags']\n"
        "    items = state['orders']['o1']['items']\n"
        "    print(tags, items)\n"
        "    return (tags == ['a', 'b'] and ['a', 'b'] == tags and tags != ['b', 'a'] and not tags != ['a', 'b']\n"
        "            and items == [[1, 2], [3]] and state['users']['u2']['tags'] == []\n"
        "            and to_json(state['orders']) == answer)"
    )
    answer = json.dumps({"o1": {"items": [[1, 2], [3]], "user": "u1"}}, separators=(",", ":"))
    result = shared.evaluate(source, _world(), answer)
    assert (result.status, result.value) == ("ok", True), result
    assert result.output == "['a', 'b'] [[1, 2], [3]]\n"


class _CountingWorld(World):
    """A world that counts how often the host ships its base data to a worker."""

    shipped = 0

    def base_tables(self) -> dict[str, dict[str, Any]]:
        type(self).shipped += 1
        return super().base_tables()


def test_the_base_is_shipped_once_per_worker(pool: SandboxPool) -> None:
    _CountingWorld.shipped = 0
    world = _CountingWorld(_world().to_dict())
    source = "def evaluate(state, answer):\n    return state['users']['u1']['name'] == answer"
    assert pool.evaluate(source, world, "Ann").value is True
    assert pool.evaluate(source, world, "Ann").value is True
    world.edit("users", "u1")["name"] = "Eve"
    assert pool.evaluate(source, world, "Eve").value is True  # only the change travels
    assert _CountingWorld.shipped == 1

    other = _CountingWorld(_world().to_dict())  # another base: shipped too
    assert pool.evaluate(source, other, "Ann").value is True
    assert _CountingWorld.shipped == 2

    pool.run_code("while True:\n    pass", limits=Limits(cpu_s=0.3, wall_s=2.0))  # the worker is replaced...
    assert pool.evaluate(source, world, "Eve").value is True
    assert _CountingWorld.shipped == 3  # ...and the new one asks for the base again


# ---------------------------------------------------------------------------------------------------------------
# Code actions
# ---------------------------------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, replies: dict[str, ToolReply] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.replies = replies or {}

    def __call__(self, name: str, arguments: dict[str, Any]) -> ToolReply:
        self.calls.append((name, arguments))
        return self.replies.get(name, ToolReply(observation="ok"))


def test_positional_arguments_are_mapped_by_tool_params(shared: SandboxPool) -> None:
    tools = _Recorder()
    source = "find('u1', True)\nfind(user_id='u2')\nfind('u3', verbose=False)\nnothing()"
    result = shared.run_code(source, tools, tool_params={"find": ["user_id", "verbose"], "nothing": []})
    assert result.status == "ok", result
    assert result.tool_calls == 4
    assert tools.calls == [
        ("find", {"user_id": "u1", "verbose": True}),
        ("find", {"user_id": "u2"}),
        ("find", {"user_id": "u3", "verbose": False}),
        ("nothing", {}),
    ]


def test_tools_not_in_tool_params_do_not_exist(shared: SandboxPool) -> None:
    result = shared.run_code("find('u1')", _Recorder(), tool_params={"other": []})
    assert result.status == "error"
    assert result.error == "NameError (line 1): name 'find' is not defined"


def test_a_failed_tool_call_raises_tool_error(shared: SandboxPool) -> None:
    tools = _Recorder({"find": ToolReply(error="no user 'u9'")})
    result = shared.run_code(
        "x = 1\nfind('u9')\nprint('unreached')", tools, tool_params={"find": ["user_id"]}
    )
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("ToolError")
    assert result.error == "ToolError (line 2): no user 'u9'"
    assert result.output == ""

    caught = shared.run_code(
        "try:\n    find('u9')\nexcept ToolError as e:\n    print('failed:', e)",
        tools,
        tool_params={"find": ["user_id"]},
    )
    assert (caught.status, caught.output) == ("ok", "failed: no user 'u9'\n")


@pytest.mark.parametrize(
    ("observation", "shown"),
    [
        ('{"name": "Ann", "tags": ["a"]}', "dict Ann ['a']"),
        ("[1, 2, 3]", "list 3"),
        ("Transfer successful", "str Transfer successful"),
        ("{not json", "str {not json"),
        ("", "str "),
    ],
)
def test_observations_are_parsed_when_json(shared: SandboxPool, observation: str, shown: str) -> None:
    source = (
        "r = get()\n"
        "if isinstance(r, dict):\n    print('dict', r['name'], r['tags'])\n"
        "elif isinstance(r, list):\n    print('list', len(r))\n"
        "elif isinstance(r, str):\n    print('str', r)\n"
    )
    result = shared.run_code(
        source, _Recorder({"get": ToolReply(observation=observation)}), tool_params={"get": []}
    )
    assert result.status == "ok", result
    assert result.output == shown + "\n"


def test_compile_and_runtime_errors_name_the_line(shared: SandboxPool) -> None:
    result = shared.run_code("x = 1\ny = (\n")
    assert result.status == "compile_error"
    assert result.error is not None and result.error.startswith("Line 2: SyntaxError")

    result = shared.run_code("x = 1\n\nx._secret")
    assert result.status == "compile_error"
    assert result.error == 'Line 3: "_secret" is an invalid attribute name because it starts with "_".'

    result = shared.run_code("x = 0\n\ny = 1 / x")
    assert result.status == "error"
    assert result.error == "ZeroDivisionError (line 3): division by zero"

    checked = shared.check("def f():\n    return (\n")
    assert checked.status == "compile_error" and "Line 2" in (checked.error or "")


def test_check_only_compiles(shared: SandboxPool) -> None:
    result = shared.check("while True:\n    pass")
    assert (result.status, result.error, result.output) == ("ok", None, "")
    assert result.seconds < 1.0


def test_output_is_capped_per_call(shared: SandboxPool) -> None:
    limits = shared.with_limits(output_chars=10)
    assert limits.cpu_s == LIMITS.cpu_s and limits.output_chars == 10
    result = shared.run_code("print('abcdefgh')\nprint('ijklmnop')", limits=limits)
    assert (result.output, result.dropped) == ("abcdefgh\ni", 8)
