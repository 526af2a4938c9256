"""An adversarial corpus against the sandbox: every attack must be blocked or cut off, and leave the host unharmed.

Each attack runs in one module-wide pool with small limits. It must end as a compile error, a runtime error with a
clear reason, or a timeout/memory/truncation within its limits. After each one the pool must still answer a
trivial code action and a trivial verifier correctly, the host's own limits and signal handlers must be untouched,
and, at the end, closing the pool must leave no worker process behind.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from toolgym.code_actions import run_code_action
from toolgym.sandbox import Limits, SandboxPool, SandboxResult, ToolReply
from toolgym.tools import Toolset, tool
from toolgym.world import World

LIMITS = Limits(cpu_s=1.0, wall_s=3.0, memory_mb=128, output_chars=2_000, max_tool_calls=5)
SLACK_S = 1.5  # process start-up and scheduling on a busy machine, on top of wall_s
SEEN_PIDS: set[int] = set()


# ---------------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------------------------


def _reaped(pid: int) -> bool:
    """Whether ``pid`` is no longer a child of this process (neither running nor an unreaped zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    p = SandboxPool(size=1, limits=LIMITS).warm()
    SEEN_PIDS.update(p.worker_pids())
    yield p
    p.close()
    assert p.worker_pids() == []
    left = sorted(pid for pid in SEEN_PIDS if not _reaped(pid))
    assert not left, f"worker processes left behind after close(): {left}"


def _world() -> World:
    return World(
        {
            "users": {
                "u1": {"name": "Ann", "tags": ["a", "b"], "balance": 10},
                "u2": {"name": "Bob", "tags": [], "balance": 0},
            }
        }
    )


def _host_fingerprint() -> tuple[Any, ...]:
    limits = (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC)
    handlers = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGXCPU, signal.SIGPROF)
    return (
        os.getpid(),
        os.getcwd(),
        tuple(resource.getrlimit(r) for r in limits),
        tuple(signal.getsignal(s) for s in handlers),
        signal.getitimer(signal.ITIMER_PROF),
    )


HEALTH_VERIFIER = """
def evaluate(state, answer):
    user = state['users']['u1']
    return state_hash(state) == answer and user['tags'] == ['a', 'b'] and user['name'] == 'Ann'
"""


def _assert_pool_healthy(pool: SandboxPool) -> None:
    result = pool.run_code("print(sum([1, 2, 3]))")
    assert (result.status, result.output, result.error) == ("ok", "6\n", None)
    world = _world()
    verdict = pool.evaluate(HEALTH_VERIFIER, world, world.hash())
    assert (verdict.status, verdict.value) == ("ok", True), verdict
    SEEN_PIDS.update(pool.worker_pids())


@tool()
def lookup(world: World, key: str) -> str:
    """Look a user up.

    Args:
        key: The user's key.
    """
    return json.dumps(world.get("users", key))


@tool(terminates=True)
def transfer_to_human(world: World, summary: str) -> str:
    """Hand the conversation to a human agent.

    Args:
        summary: What the user needs.
    """
    return "Transfer successful"


TOOLSET = Toolset([lookup, transfer_to_human])


@dataclass
class Outcome:
    """What an attack produced, for the per-attack extra checks."""

    result: SandboxResult
    tool_calls: list[dict[str, Any]]


@dataclass(frozen=True)
class Attack:
    """One attack.

    Attributes:
        source: The code (a code action, or a whole verifier for ``mode="verify"``).
        status: Statuses that count as blocked / cut off.
        error: Regex that ``result.error`` must match; ``None`` means no error (e.g. output truncated only).
        mode: ``code`` (plain code action), ``tools`` (code action with a ``lookup(key)`` tool stub),
            ``episode`` (a real toolset through ``run_code_action``) or ``verify`` (``pool.evaluate`` on a world).
        check: Extra assertions on the outcome.
    """

    source: str
    status: tuple[str, ...]
    error: str | None
    mode: str = "code"
    check: Callable[[Outcome], None] | None = None


def _verifier(body: str, params: str = "state, answer") -> str:
    lines = "\n".join("    " + line for line in body.splitlines())
    return f"def evaluate({params}):\n{lines}\n    return True\n"


NESTED = "x = []\nfor i in range(500):\n    for j in range(20):\n        x = [x]\n"
COMPILE = ("compile_error",)
ERROR = ("error",)
TIMEOUT = ("timeout",)
MEMORY = ("memory",)
INVALID_ATTR = r'"{}" is an invalid attribute name because it starts with "_"'
RESTRICTED = r'"{}" is a restricted name'
NOT_DEFINED = r"^NameError \(line \d+\): name '{}' is not defined"
NO_IMPORT = r"^Line 1: imports are not allowed"
FORMAT = r"^NotImplementedError \(line \d+\): Using the format\*\(\) methods of `str` is not safe"
CPU = r"^CPU time limit of 1.0 s exceeded"
MEM = r"^memory limit of 128 MiB exceeded"


def _flood_capped(out: Outcome) -> None:
    assert out.result.output == "x" * 1000 + "\n" + "x" * (LIMITS.output_chars - 1001)
    assert out.result.dropped > 0


def _huge_print_capped(out: Outcome) -> None:
    assert out.result.output == "x" * LIMITS.output_chars
    assert out.result.dropped == 10**6 + 1 - LIMITS.output_chars


def _short_error(out: Outcome) -> None:
    assert len(out.result.error or "") < 2_200


def _printed(text: str) -> Callable[[Outcome], None]:
    def check(out: Outcome) -> None:
        assert out.result.output == text

    return check


def _tool_calls(n: int, printed: str | None = None) -> Callable[[Outcome], None]:
    def check(out: Outcome) -> None:
        assert len(out.tool_calls) == n
        assert out.result.tool_calls == n
        if printed is not None:
            assert out.result.output == printed

    return check


def _only_the_transfer_ran(out: Outcome) -> None:
    assert [(c["name"], c["error"]) for c in out.tool_calls] == [("transfer_to_human", None)]


ATTACKS: dict[str, Attack] = {
    # ---- imports ----
    "import_os": Attack("import os\nos.system('touch /tmp/toolgym-pwned')", COMPILE, NO_IMPORT),
    "from_os_import": Attack("from os import system\nsystem('true')", COMPILE, NO_IMPORT),
    "dunder_import": Attack("__import__('os')", COMPILE, r'"__import__" is an invalid variable name'),
    "importlib": Attack("import importlib\nimportlib.import_module('os')", COMPILE, NO_IMPORT),
    "import_builtins": Attack("import builtins", COMPILE, r'"builtins" is a reserved name'),
    "star_import": Attack("from os import *", COMPILE, r'"\*" imports are not allowed'),
    # ---- dunders and frame walking ----
    "subclasses_walk": Attack(
        "().__class__.__base__.__subclasses__()", COMPILE, INVALID_ATTR.format("__class__")
    ),
    "getattr_dunder": Attack("getattr((), '__class__')", ERROR, INVALID_ATTR.format("__class__")),
    "mro_to_object": Attack(
        "base = ToolError.mro()[-1]\nprint(base)\ngetattr(base, '__subclasses__')()",
        ERROR,
        INVALID_ATTR.format("__subclasses__"),
        check=_printed("<class 'object'>\n"),
    ),
    "lambda_globals": Attack("(lambda: 0).__globals__", COMPILE, INVALID_ATTR.format("__globals__")),
    "getattr_globals": Attack("getattr(lambda: 0, '__globals__')", ERROR, INVALID_ATTR.format("__globals__")),
    "function_code": Attack(
        "def f():\n    pass\ngetattr(f, '__code__')", ERROR, INVALID_ATTR.format("__code__")
    ),
    "tb_frame": Attack(
        "try:\n    1 / 0\nexcept Exception as e:\n    e.tb_frame", COMPILE, RESTRICTED.format("tb_frame")
    ),
    "gi_frame": Attack("g = (x for x in [1])\ng.gi_frame.f_globals", COMPILE, RESTRICTED.format("gi_frame")),
    "gi_frame_getattr": Attack(
        "g = (x for x in [1])\ngetattr(g, 'gi_frame')", ERROR, RESTRICTED.format("gi_frame")
    ),
    "gi_code_getattr": Attack(
        "def g():\n    yield 1\ngetattr(g(), 'gi_code')", ERROR, RESTRICTED.format("gi_code")
    ),
    "cr_frame": Attack("def f():\n    pass\nf().cr_frame", COMPILE, RESTRICTED.format("cr_frame")),
    "ag_frame": Attack("x = [1]\nx.ag_frame", COMPILE, RESTRICTED.format("ag_frame")),
    "f_back": Attack("def f():\n    pass\ngetattr(f, 'f_back')", ERROR, RESTRICTED.format("f_back")),
    "builtins_dict": Attack("__builtins__['open']", COMPILE, r'"__builtins__" is an invalid variable name'),
    "globals": Attack("globals()['__builtins__']", ERROR, NOT_DEFINED.format("globals")),
    "locals": Attack("locals()", ERROR, NOT_DEFINED.format("locals")),
    "vars": Attack("vars(ToolError)", ERROR, NOT_DEFINED.format("vars")),
    "dir": Attack("dir(ToolError)", ERROR, NOT_DEFINED.format("dir")),
    "private_name": Attack("_getattr_ = getattr", COMPILE, r'"_getattr_" is an invalid variable name'),
    # ---- format-string tricks ----
    "format_attr": Attack("'{0.__class__}'.format(1)", ERROR, FORMAT),
    "format_map": Attack("'{x.__class__}'.format_map({'x': 1})", ERROR, FORMAT),
    "str_format_unbound": Attack("str.format('{0.__class__.__mro__}', 1)", ERROR, FORMAT),
    "getattr_format": Attack("f = getattr('{0.__class__}', 'format')\nf(1)", ERROR, FORMAT),
    "string_formatter": Attack(
        "string.Formatter().format('{0.__class__}', 1)", ERROR, NOT_DEFINED.format("string")
    ),
    "fstring_dunder": Attack("x = 1\nprint(f'{x.__class__}')", COMPILE, INVALID_ATTR.format("__class__")),
    # ---- builtins that must not exist ----
    "open": Attack("open('/etc/passwd').read()", ERROR, NOT_DEFINED.format("open")),
    "eval": Attack("eval('1 + 1')", COMPILE, r"Eval calls are not allowed"),
    "eval_by_name": Attack("e = eval\ne('1')", ERROR, NOT_DEFINED.format("eval")),
    "exec": Attack("exec('import os')", COMPILE, r"Exec calls are not allowed"),
    "compile": Attack("compile('1', 'x', 'exec')", ERROR, NOT_DEFINED.format("compile")),
    "type": Attack("type('X', (), {})", ERROR, NOT_DEFINED.format("type")),
    "object": Attack("object()", ERROR, NOT_DEFINED.format("object")),
    "input": Attack("input()", ERROR, NOT_DEFINED.format("input")),
    "breakpoint": Attack("breakpoint()", COMPILE, r'"breakpoint" is a reserved name'),
    "help": Attack("help()", ERROR, NOT_DEFINED.format("help")),
    "exit": Attack("exit(0)", ERROR, NOT_DEFINED.format("exit")),
    "class_statement": Attack(
        "class X:\n    pass", ERROR, r"^NameError \(line 1\): __build_class__ not found"
    ),
    "print_to_object": Attack(
        "print('x', file=ToolError)", ERROR, r"^AttributeError \(line 1\): .*has no attribute 'write'"
    ),
    # ---- known RestrictedPython escapes ----
    "except_star_cve_2025_22153": Attack(
        "try:\n    1 / 0\nexcept* ZeroDivisionError as group:\n    pass",
        COMPILE,
        r"TryStar statements are not allowed",
    ),
    "posonly_guard_shadow": Attack(
        "def f(_getattr_, /):\n    return _getattr_\nf(getattr)",
        COMPILE,
        r'"_getattr_" is an invalid variable name',
    ),
    "posonly_lambda_shadow": Attack(
        "(lambda _write_, /: 0)(1)", COMPILE, r'"_write_" is an invalid variable name'
    ),
    # ---- attribute leaks through exceptions ----
    "attributeerror_obj": Attack(
        "try:\n    ToolError.nope\nexcept AttributeError as e:\n    leaked = e.obj\n"
        "print(leaked is ToolError)\ngetattr(leaked, '__subclasses__')",
        ERROR,
        INVALID_ATTR.format("__subclasses__"),
        check=_printed("True\n"),
    ),
    "exception_traceback": Attack(
        "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__",
        COMPILE,
        INVALID_ATTR.format("__traceback__"),
    ),
    "exception_traceback_getattr": Attack(
        "try:\n    1 / 0\nexcept Exception as e:\n    getattr(e, '__traceback__')",
        ERROR,
        INVALID_ATTR.format("__traceback__"),
    ),
    "exception_context": Attack(
        "try:\n    1 / 0\nexcept Exception as e:\n    getattr(e, '__context__')",
        ERROR,
        INVALID_ATTR.format("__context__"),
    ),
    # ---- CPU ----
    "infinite_loop": Attack("while True:\n    pass", TIMEOUT, CPU),
    "big_power": Attack("x = 7 ** 10 ** 7", TIMEOUT, CPU),
    "huge_power": Attack("x = 10 ** 10 ** 10", (*TIMEOUT, *MEMORY), r"^(CPU time|memory) limit"),
    "bare_except_keeps_looping": Attack(
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
        TIMEOUT,
        r"^(CPU time|wall-clock) limit",
    ),
    "catch_cpu_limit_then_finish": Attack(
        "try:\n    while True:\n        pass\nexcept:\n    pass\nprint('escaped')", TIMEOUT, CPU
    ),
    # ---- memory ----
    "string_bomb": Attack("x = 'a' * 2 ** 33", MEMORY, MEM),
    "list_bomb": Attack("x = [0] * 10 ** 10", MEMORY, MEM),
    "list_growth": Attack("x = []\nwhile True:\n    x.append([0] * 100000)", MEMORY, MEM),
    "string_doubling": Attack("s = 'a'\nwhile True:\n    s = s + s", MEMORY, MEM),
    # ---- recursion and pathological exceptions ----
    "deep_recursion": Attack(
        "def f(n):\n    return f(n + 1)\nf(0)", ERROR, r"^RecursionError \(line 2\): maximum recursion depth"
    ),
    "repr_of_nested_list": Attack(NESTED + "print(x)", ERROR, r"^RecursionError \(line 5\)"),
    "nested_list_in_exception": Attack(
        NESTED + "raise ValueError(x, 1)", ERROR, r"^ValueError \(line 5\): <the message cannot be shown"
    ),
    "huge_int_in_exception": Attack(
        "raise ValueError(10 ** 5000)", ERROR, r"^ValueError \(line 1\): <the message cannot be shown"
    ),
    "huge_exception_message": Attack(
        "raise ValueError('a' * 10 ** 7)",
        ERROR,
        r"^ValueError \(line 1\): a+\.\.\. \[\d+ more",
        check=_short_error,
    ),
    "exception_repr_bomb": Attack(
        "s = 'a' * 10 ** 6\nraise ValueError([s] * 20000, 1)",
        ERROR,
        r"^ValueError \(line 2\): <the message cannot be shown: MemoryError>",
    ),
    # ---- output floods ----
    "print_flood": Attack("while True:\n    print('x' * 1000)", TIMEOUT, CPU, check=_flood_capped),
    "one_huge_print": Attack("print('x' * 10 ** 6)", ("ok",), None, check=_huge_print_capped),
    # ---- fork and signal tampering ----
    "os_fork": Attack("os.fork()", ERROR, NOT_DEFINED.format("os")),
    "signal_signal": Attack("signal.signal(14, None)", ERROR, NOT_DEFINED.format("signal")),
    "os_kill": Attack("os.kill(1, 9)", ERROR, NOT_DEFINED.format("os")),
    # ---- killing the worker from inside ----
    "system_exit": Attack("raise SystemExit(0)", ERROR, r"^SystemExit \(line 1\)"),
    "keyboard_interrupt": Attack("raise KeyboardInterrupt", ERROR, r"^KeyboardInterrupt \(line 1\)"),
    "base_exception": Attack("raise BaseException('bye')", ERROR, r"^BaseException \(line 1\): bye"),
    "generator_exit": Attack("raise GeneratorExit", ERROR, r"^GeneratorExit \(line 1\)"),
    "fake_memory_error": Attack("raise MemoryError", MEMORY, MEM),
    # ---- tool stubs abused ----
    "tool_function_argument": Attack(
        "lookup(key=lookup)", ERROR, r"^TypeError \(line 1\): lookup\(\): arguments must be JSON", "tools"
    ),
    "tool_set_argument": Attack(
        "lookup(key={1, 2})", ERROR, r"^TypeError \(line 1\): lookup\(\): arguments must be JSON", "tools"
    ),
    "tool_huge_int_argument": Attack(
        "lookup(key=10 ** 5000)", ERROR, r"^TypeError \(line 1\): lookup\(\): arguments must be JSON", "tools"
    ),
    "tool_too_many_positional": Attack(
        "lookup('u1', 'u2')", ERROR, r"lookup\(\) takes 1 positional arguments but 2 were given", "tools"
    ),
    "tool_duplicate_argument": Attack(
        "lookup('u1', key='u2')", ERROR, r"lookup\(\) got multiple values for argument 'key'", "tools"
    ),
    "tool_call_flood": Attack(
        "for i in range(100):\n    lookup(str(i))",
        ERROR,
        r"^ToolError \(line 2\): too many tool calls in one code action \(limit 5\)",
        "tools",
        check=_tool_calls(5),
    ),
    "tool_call_flood_swallowed": Attack(
        "n = 0\nfor i in range(100):\n    try:\n        lookup(str(i))\n    except ToolError:\n        n += 1\nprint(n)",
        ("ok",),
        None,
        "tools",
        check=_tool_calls(5, printed="95\n"),
    ),
    "tool_after_episode_end": Attack(
        "transfer_to_human('bye')\nlookup('u1')",
        ERROR,
        r"^ToolError \(line 2\): the episode has ended",
        "episode",
        check=_only_the_transfer_ran,
    ),
    # ---- writing to the state a verifier sees ----
    "state_setitem": Attack(
        _verifier("state['users']['u3'] = {}"),
        ERROR,
        r"^TypeError \(line 2\): object does not support item",
        "verify",
    ),
    "record_setitem": Attack(
        _verifier("state['users']['u1']['name'] = 'Eve'"), ERROR, r"^TypeError \(line 2\)", "verify"
    ),
    "list_append": Attack(
        _verifier("state['users']['u1']['tags'].append('admin')"),
        ERROR,
        r"^AttributeError \(line 2\): 'FrozenList' object has no attribute 'append'",
        "verify",
    ),
    "list_sort_in_place": Attack(
        _verifier("state['users']['u1']['tags'].sort()"), ERROR, r"has no attribute 'sort'", "verify"
    ),
    "state_del": Attack(
        _verifier("del state['users']['u1']"),
        ERROR,
        r"^TypeError \(line 2\): object does not support",
        "verify",
    ),
    "state_setattr": Attack(
        _verifier("setattr(state, 'users', {})"),
        ERROR,
        r"^TypeError \(line 2\): attribute-less object",
        "verify",
    ),
    "state_update": Attack(
        _verifier("state['users'].update({'u1': {}})"),
        ERROR,
        r"^AttributeError \(line 2\): 'mappingproxy' object has no attribute 'update'",
        "verify",
    ),
    "state_inplace_or": Attack(
        _verifier("users = state['users']\nusers |= {'u1': {}}"), ERROR, r"^TypeError \(line 3\)", "verify"
    ),
    "initial_setitem": Attack(
        _verifier("initial['users']['u1'] = {}", "state, answer, initial"),
        ERROR,
        r"^TypeError \(line 2\): object does not support item",
        "verify",
    ),
}


def _run_attack(pool: SandboxPool, attack: Attack) -> Outcome:
    if attack.mode == "code":
        return Outcome(pool.run_code(attack.source), [])
    if attack.mode == "tools":
        calls: list[dict[str, Any]] = []

        def handler(name: str, arguments: dict[str, Any]) -> ToolReply:
            calls.append({"name": name, "arguments": arguments})
            return ToolReply(observation=json.dumps({"key": arguments.get("key")}))

        return Outcome(pool.run_code(attack.source, handler, tool_params={"lookup": ["key"]}), calls)
    world = _world()
    before = world.hash()
    if attack.mode == "episode":
        run = run_code_action(pool, TOOLSET, world, attack.source, limits=LIMITS)
        assert world.hash() == before
        return Outcome(run.result, run.calls)
    assert attack.mode == "verify"
    result = pool.evaluate(attack.source, world, "answer")
    assert world.hash() == before and world.changes() == {}
    assert result.value is not True
    return Outcome(result, [])


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_blocked(pool: SandboxPool, name: str) -> None:
    attack = ATTACKS[name]
    host = _host_fingerprint()

    outcome = _run_attack(pool, attack)
    result = outcome.result

    assert result.status in attack.status, result
    if attack.error is None:
        assert result.error is None
    else:
        assert result.error is not None and re.search(attack.error, result.error), result.error
    if result.status != "ok":
        assert result.value is None
    assert result.seconds < LIMITS.wall_s + SLACK_S
    assert len(result.output) <= LIMITS.output_chars
    if attack.check is not None:
        attack.check(outcome)
    assert not os.path.exists("/tmp/toolgym-pwned")
    assert _host_fingerprint() == host
    _assert_pool_healthy(pool)


def test_the_corpus_is_large_enough() -> None:
    assert len(ATTACKS) >= 45


def test_harmless_constructs_still_work(pool: SandboxPool) -> None:
    """The policy is not simply refusing everything: f-string conversions, exceptions and builtins work."""
    source = (
        "x = [1, 'a']\n"
        "print(f'{x!r} {len(x)}')\n"
        "try:\n    ToolError.nope\nexcept AttributeError as e:\n    print('caught', e.name)\n"
        "print(sorted(zip([2, 1], 'ba')), max(3, 4), '%s-%d' % ('a', 2))"
    )
    result = pool.run_code(source)
    assert result.status == "ok", result
    assert result.output == "[1, 'a'] 2\ncaught nope\n[(1, 'a'), (2, 'b')] 4 a-2\n"


def test_recursion_around_tool_calls_keeps_the_channel_in_step(pool: SandboxPool) -> None:
    """Running out of stack at every depth around a tool call must never leave an unread answer in the pipe."""
    answers = iter(range(1, 10_000))

    def handler(name: str, arguments: dict[str, Any]) -> ToolReply:
        return ToolReply(observation=f"answer {next(answers)}")

    source = (
        "def f(n):\n    if n == 0:\n        return get(1)\n    return f(n - 1)\n"
        "failed = 0\n"
        "for depth in range(230, 300):\n"
        "    try:\n        f(depth)\n    except Exception:\n        failed += 1\n"
        "print(get(2), failed)"
    )
    limits = Limits(cpu_s=2.0, wall_s=5.0, memory_mb=128, max_tool_calls=500)
    result = pool.run_code(source, handler, tool_params={"get": ["x"]}, limits=limits)
    assert result.status == "ok", result
    last, failed = result.output.split()[1:]
    assert 0 < int(failed) < 70  # the stack did run out, at some of the depths only
    # The last call read the last answer the host sent: none was left unread along the way.
    assert int(last) == result.tool_calls
    follow = pool.run_code("print(get(3))", handler, tool_params={"get": ["x"]})
    assert follow.output == f"answer {result.tool_calls + 1}\n"
    _assert_pool_healthy(pool)


def test_worker_killed_from_outside_during_a_job(pool: SandboxPool) -> None:
    started = threading.Event()
    resume = threading.Event()

    def handler(name: str, arguments: dict[str, Any]) -> ToolReply:
        started.set()
        return ToolReply(observation="go")

    results: list[SandboxResult] = []
    limits = Limits(cpu_s=30.0, wall_s=30.0, memory_mb=128)

    def job() -> None:
        results.append(
            pool.run_code("ready()\nwhile True:\n    pass", handler, tool_params={"ready": []}, limits=limits)
        )
        resume.set()

    (victim,) = pool.worker_pids()
    replaced = pool.replaced
    thread = threading.Thread(target=job)
    thread.start()
    assert started.wait(10.0)
    os.kill(victim, signal.SIGKILL)
    assert resume.wait(10.0)
    thread.join()

    (result,) = results
    assert result.status == "crashed"
    assert result.error is not None and "the sandbox worker died (exit status -9)" in result.error
    assert result.seconds < 10.0
    assert pool.replaced == replaced + 1
    assert _reaped(victim)
    _assert_pool_healthy(pool)
    assert victim not in pool.worker_pids()
