"""The ``code`` action format: parsing model text into a Python block, and running it in a retail env."""

from __future__ import annotations

import ast
import keyword
import os
from collections.abc import Iterator

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toolgym.envs.retail.env import generated_world
from toolgym.envs.retail.tools import RETAIL_TOOLS

import toolgym.sandbox.pool as pool_module
from toolgym.actions import CodeBlock, Malformed, Message, ToolCall, get_format
from toolgym.actions.code import parse_code, render_code
from toolgym.env import CODE_OUTPUT_CHARS
from toolgym.sandbox import Limits, SandboxPool, compile_source

SIZE = {"n_users": 20, "n_products": 10, "n_orders": 40}
SEED = 0
WRITE_TOOLS = frozenset(name for name, t in RETAIL_TOOLS.items() if t.writes)


def code(source: str) -> str:
    """A model turn holding one Python block."""
    return f"Let me look.\n```python\n{source}\n```"


def first(table: str, **match: str) -> tuple[str, dict]:
    """The first record of the seed's world whose fields equal ``match``."""
    for key, rec in generated_world(SEED, tuple(sorted(SIZE.items()))).table(table):
        if all(rec.get(k) == v for k, v in match.items()):
            return key, rec
    raise AssertionError(f"no {table} record with {match}")


PENDING_ID, PENDING = first("orders", status="pending")
USER_ID, USER = next(iter(generated_world(SEED, tuple(sorted(SIZE.items()))).table("users")))


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(size=1) as p:
        yield p.warm()


def make(pool: SandboxPool, **kwargs: object) -> gym.Env[str, str]:
    env = gym.make("toolgym/Retail-v0", action_format="code", world_size=SIZE, sandbox=pool, **kwargs)
    env.reset(seed=SEED)
    return env


@pytest.fixture
def env(pool: SandboxPool) -> Iterator[gym.Env[str, str]]:
    e = make(pool)
    yield e
    e.close()


# ---- parse_code -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "```python\nprint(1)\n```",
        "```py\nprint(1)\n```",
        "```python3\nprint(1)\n```",
        "```Python\nprint(1)\n```",
        "```\nprint(1)\n```",
        "<execute>print(1)</execute>",
        "<execute>\nprint(1)\n</execute>",
        "I will check the order.\n```python\nprint(1)\n```\nThat should tell us.",
        "Thinking... <execute>\nprint(1)\n</execute> done",
        "```python\nprint(1)",  # generation stopped before the closing fence
        "<execute>\nprint(1)\n",
    ],
)
def test_parse_code_finds_the_block(text: str) -> None:
    assert parse_code(text) == CodeBlock("print(1)")


def test_parse_code_keeps_the_block_verbatim_and_counts_ignored_blocks() -> None:
    src = 'for o in ["a", "b"]:\n    print(o)\n\nprint("```")'
    assert parse_code(f"```python\n{src}\n```") == CodeBlock(src)
    two = "```python\nprint(1)\n```\nand then\n```py\nprint(2)\n```\n```\nprint(3)\n```"
    assert parse_code(two) == CodeBlock("print(1)", ignored=2)
    assert parse_code("<execute>a()</execute> or <execute>b()</execute>") == CodeBlock("a()", ignored=1)
    assert get_format("code").parse is parse_code


@pytest.mark.parametrize(
    "text",
    [
        "Your order #W123 has been cancelled.",
        'Here it is:\n```json\n{"a": 1}\n```',
        "```bash\nrm -rf /\n```",
        "Use `print(x)` to show it.",
        "",
        "``` not a fence",
    ],
)
def test_text_without_a_python_block_is_a_message_unchanged(text: str) -> None:
    assert parse_code(text) == Message(text)


def test_a_json_block_followed_by_text_is_a_message() -> None:
    text = 'Here it is:\n```json\n{"a": 1}\n```\nAnything else?'
    assert parse_code(text) == Message(text)


@pytest.mark.parametrize(
    "text", ["```python\n\n```", "```python\n   \n  \n```", "<execute> </execute>", "```\n"]
)
def test_an_empty_block_is_malformed_with_a_reason(text: str) -> None:
    out = parse_code(text)
    assert isinstance(out, Malformed)
    assert "empty" in out.reason and "code block" in out.reason


@given(text=st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_parse_code_never_raises(text: str) -> None:
    out = parse_code(text)
    assert isinstance(out, CodeBlock | Message | Malformed)
    if isinstance(out, Message):
        assert out.content == text
    if isinstance(out, CodeBlock):
        assert out.source.strip() and out.ignored >= 0


fragments = st.sampled_from(
    ["```", "```python", "```py", "```json", "<execute>", "</execute>", "\n", " ", "print(1)", "x", "`", "\t"]
)


@given(parts=st.lists(fragments, max_size=30))
@settings(max_examples=200, deadline=None)
def test_parse_code_never_raises_on_fence_soup(parts: list[str]) -> None:
    assert isinstance(parse_code("".join(parts)), CodeBlock | Message | Malformed)


identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)
calls = st.builds(ToolCall, name=identifiers, arguments=st.dictionaries(identifiers, json_values, max_size=4))


@given(call=calls)
@settings(max_examples=100, deadline=None)
def test_render_code_parses_back_to_valid_restricted_python(call: ToolCall) -> None:
    out = parse_code(render_code(call))
    assert isinstance(out, CodeBlock) and out.ignored == 0
    compile_source(out.source)  # raises CompileError if the sandbox would refuse it
    tree = ast.parse(out.source)
    (stmt,) = tree.body
    assert isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
    (inner,) = stmt.value.args
    assert isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == call.name
    assert {kw.arg: ast.literal_eval(kw.value) for kw in inner.keywords} == call.arguments


def test_rendered_call_runs_that_tool(env: gym.Env[str, str]) -> None:
    call = ToolCall("get_order_details", {"order_id": PENDING_ID})
    obs, reward, term, trunc, info = env.step(render_code(call))
    assert ast.literal_eval(obs) == PENDING
    assert (reward, term, trunc) == (0.0, False, False)
    assert info["tool_calls"] == [{"name": call.name, "arguments": call.arguments, "error": None}]


# ---- running code in the env ------------------------------------------------------------------------------------


def test_code_finds_a_user_and_prints_details(env: gym.Env[str, str]) -> None:
    h = env.unwrapped.world.hash()
    source = (
        f'uid = find_user_id_by_email("{USER["email"].upper()}")\n'
        "user = get_user_details(uid)\n"
        'print(uid, user["name"]["first_name"], len(user["orders"]))'
    )
    obs, reward, term, trunc, info = env.step(code(source))
    assert obs == f"{USER_ID} {USER['name']['first_name']} {len(USER['orders'])}\n"
    assert (reward, term, trunc) == (0.0, False, False)
    assert info["action_type"] == "code" and "error" not in info
    assert info["tool_calls"] == [
        {"name": "find_user_id_by_email", "arguments": {"email": USER["email"].upper()}, "error": None},
        {"name": "get_user_details", "arguments": {"user_id": USER_ID}, "error": None},
    ]
    assert env.unwrapped.world.hash() == h
    assert env.unwrapped.transcript[-2] == {"role": "assistant", "code": source}


def test_tool_error_stops_the_code_and_keeps_earlier_output(env: gym.Env[str, str]) -> None:
    source = 'print("looking")\nx = 1\nget_order_details(order_id="#W0000000")\nprint("never")'
    obs, _, term, _, info = env.step(code(source))
    assert obs == "looking\nError: ToolError (line 3): order not found"
    assert info["error"] == "ToolError (line 3): order not found"
    assert info["tool_calls"] == [
        {"name": "get_order_details", "arguments": {"order_id": "#W0000000"}, "error": "order not found"}
    ]
    assert term is False


def test_code_can_catch_a_tool_error_and_go_on(env: gym.Env[str, str]) -> None:
    source = (
        "try:\n"
        '    get_product_details("nope")\n'
        "except ToolError as exc:\n"
        '    print("caught:", exc)\n'
        f'print(get_order_details("{PENDING_ID}")["status"])'
    )
    obs, *_, info = env.step(code(source))
    assert obs == "caught: product not found\npending\n"
    assert "error" not in info
    assert [c["error"] for c in info["tool_calls"]] == ["product not found", None]


def test_writes_before_a_failure_stay_and_the_failing_call_changes_nothing(env: gym.Env[str, str]) -> None:
    world = env.unwrapped.world
    expected = generated_world(SEED, tuple(sorted(SIZE.items()))).fork()
    assert (
        RETAIL_TOOLS.call(
            expected, "cancel_pending_order", {"order_id": PENDING_ID, "reason": "no longer needed"}
        ).error
        is None
    )
    source = (
        f'cancel_pending_order(order_id="{PENDING_ID}", reason="no longer needed")\n'
        'print("cancelled")\n'
        f'modify_pending_order_address("{PENDING_ID}", "1 Main St", "", "Austin", "TX", "USA", "78701")\n'
        f'modify_user_address("{USER_ID}", "2 Main St", "", "Austin", "TX", "USA", "78701")'
    )
    obs, *_, info = env.step(code(source))
    assert obs == "cancelled\nError: ToolError (line 3): non-pending order cannot be modified"
    assert [c["name"] for c in info["tool_calls"]] == ["cancel_pending_order", "modify_pending_order_address"]
    assert world.get("orders", PENDING_ID)["status"] == "cancelled"
    assert world.get("orders", PENDING_ID)["address"] == PENDING["address"]
    assert world.get("users", USER_ID)["address"] == USER["address"]  # line 4 never ran
    assert world.hash() == expected.hash()


def test_a_python_error_after_a_write_keeps_the_write(env: gym.Env[str, str]) -> None:
    source = f'cancel_pending_order("{PENDING_ID}", "ordered by mistake")\nprint(1 / 0)'
    obs, *_, info = env.step(code(source))
    assert obs == "Error: ZeroDivisionError (line 2): division by zero"
    assert env.unwrapped.world.get("orders", PENDING_ID)["status"] == "cancelled"
    assert info["tool_calls"][0]["error"] is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'print("a")\nprint(undefined_name)',
            "a\nError: NameError (line 2): name 'undefined_name' is not defined",
        ),
        ("x = 0\ny = 1\nprint(y / x)", "Error: ZeroDivisionError (line 3): division by zero"),
        ('d = {}\nprint(d["k"])', "Error: KeyError (line 2): 'k'"),
    ],
)
def test_python_errors_name_the_line(env: gym.Env[str, str], source: str, expected: str) -> None:
    h = env.unwrapped.world.hash()
    obs, reward, term, trunc, info = env.step(code(source))
    assert obs == expected
    assert info["error"] == expected.split("Error: ", 1)[1]
    assert (reward, term, trunc) == (0.0, False, False)
    assert env.unwrapped.world.hash() == h


def test_output_flood_is_cut_with_a_notice(env: gym.Env[str, str]) -> None:
    obs, *_, info = env.step(code('print("x" * 100000)\nprint("tail")'))
    assert obs.startswith("x" * 100)
    total = 100_001 + len("tail\n")
    assert obs.endswith(f"\n[output cut: {total - CODE_OUTPUT_CHARS} more characters were printed]")
    assert len(obs) <= CODE_OUTPUT_CHARS + 100
    assert "tail" not in obs and "error" not in info


def test_output_cut_and_error_together(env: gym.Env[str, str]) -> None:
    obs, *_ = env.step(code('print("y" * 9000)\nboom()'))
    assert "[output cut: 1001 more characters were printed]\nError: NameError (line 2)" in obs


def test_code_that_prints_nothing_gets_a_hint(env: gym.Env[str, str]) -> None:
    obs, *_, info = env.step(code(f'order = get_order_details("{PENDING_ID}")'))
    assert obs == "(the code printed nothing; print() what you want to see)"
    assert len(info["tool_calls"]) == 1 and "error" not in info


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\nprint(get_order_details(OID))", "Line 1: imports are not allowed"),
        ("print(get_order_details(OID))\nfrom os import path", "Line 2: imports are not allowed"),
        (
            "print(get_order_details(OID))\nx = 1\nprint(x.__class__)",
            'Line 3: "__class__" is an invalid attribute',
        ),
        ('print(get_order_details(OID))\nd = {"a": 1}\nd["a"] += 1', "Line 3: Augmented assignment"),
        ("print(get_order_details(OID))\nprint(", "Line 2: SyntaxError"),
        (
            "print(get_order_details(OID))\ndef _hidden():\n    pass",
            'Line 2: "_hidden" is an invalid variable name',
        ),
        ('print(get_order_details(OID))\nexec("1")', "Line 2: Exec calls are not allowed"),
    ],
)
def test_refused_code_names_the_line_and_calls_no_tool(
    env: gym.Env[str, str], source: str, expected: str
) -> None:
    obs, reward, term, trunc, info = env.step(code(source.replace("OID", repr(PENDING_ID))))
    assert obs.startswith(f"Error: {expected}")
    assert expected in info["error"]
    assert info["tool_calls"] == []
    assert (reward, term, trunc) == (0.0, False, False)


def test_transfer_ends_the_episode_and_later_calls_fail(env: gym.Env[str, str]) -> None:
    source = (
        'print(transfer_to_human_agents(summary="user wants a refund"))\n'
        f'print(get_order_details("{PENDING_ID}"))'
    )
    obs, reward, term, trunc, info = env.step(code(source))
    assert obs.startswith("Transfer successful\nError: ToolError (line 2): the episode has ended")
    assert (reward, term, trunc) == (0.0, True, False)
    assert info["tool_calls"] == [
        {"name": "transfer_to_human_agents", "arguments": {"summary": "user wants a refund"}, "error": None}
    ]
    obs, *_ = env.step(code("print(1)"))
    assert obs.startswith("Error: the episode is over")


def test_a_failed_transfer_does_not_end_the_episode(env: gym.Env[str, str]) -> None:
    _, _, term, _, info = env.step(code("transfer_to_human_agents(summary=3)"))
    assert term is False and "invalid arguments for transfer_to_human_agents" in info["error"]


def test_tool_call_limit(pool: SandboxPool) -> None:
    env = make(pool, code_limits=Limits(max_tool_calls=3))
    try:
        obs, *_, info = env.step(code('for i in range(5):\n    think(thought=str(i))\nprint("done")'))
    finally:
        env.close()
    assert obs == "Error: ToolError (line 2): too many tool calls in one code action (limit 3)"
    assert [c["arguments"] for c in info["tool_calls"]] == [{"thought": str(i)} for i in range(3)]


def test_timeout_kills_the_worker_and_the_next_step_works(pool: SandboxPool) -> None:
    env = make(pool, code_limits=Limits(cpu_s=0.2, wall_s=1.0))
    try:
        before = pool.worker_pids()
        replaced = pool.replaced
        obs, _, term, trunc, info = env.step(code('print("start")\nwhile True:\n    pass'))
        assert obs.startswith("start\nError: ")
        assert "CPU time limit of 0.2 s exceeded" in obs or "wall-clock limit of 1.0 s exceeded" in obs
        assert info["error"] in obs
        assert (term, trunc) == (False, False)
        assert pool.replaced == replaced + 1
        obs, *_, info = env.step(code(f'print(get_order_details("{PENDING_ID}")["status"])'))
        assert obs == "pending\n" and "error" not in info
        assert not set(before) & set(pool.worker_pids())
    finally:
        env.close()


def test_positional_arguments_follow_the_tool_parameter_order(env: gym.Env[str, str]) -> None:
    name, zip_code = USER["name"], USER["address"]["zip"]
    source = (
        f'print(find_user_id_by_name_zip("{name["first_name"]}", "{name["last_name"]}", zip="{zip_code}"))'
    )
    obs, *_, info = env.step(code(source))
    assert obs == f"{USER_ID}\n"
    assert info["tool_calls"][0]["arguments"] == {
        "first_name": name["first_name"],
        "last_name": name["last_name"],
        "zip": zip_code,
    }


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('get_order_details(id="#W1")', "ToolError (line 1): unexpected argument 'id' for get_order_details"),
        (
            "get_order_details(order_id=7)",
            "ToolError (line 1): invalid arguments for get_order_details: order_id",
        ),
        ("calculate()", "ToolError (line 1): invalid arguments for calculate"),
        ('get_order_details("#W1", "#W2")', "TypeError (line 1): get_order_details() takes 1 positional"),
        (
            'get_order_details("#W1", order_id="#W2")',
            "TypeError (line 1): get_order_details() got multiple values",
        ),
        (
            "get_order_details(order_id=print)",
            "TypeError (line 1): get_order_details(): arguments must be JSON",
        ),
    ],
)
def test_bad_arguments_give_the_toolset_or_python_error(
    env: gym.Env[str, str], call: str, expected: str
) -> None:
    obs, *_, info = env.step(code(call))
    assert obs.startswith(f"Error: {expected}")
    assert info["error"].startswith(expected)
    assert len(info["tool_calls"]) == (1 if expected.startswith("ToolError") else 0)


def test_extra_blocks_are_ignored_with_a_note(env: gym.Env[str, str]) -> None:
    obs, *_, info = env.step("```python\nprint(1)\n```\n```python\nprint(2)\n```")
    assert obs == "1\n\n\nNote: only the first code block was run; 1 more were ignored."
    assert info["action_type"] == "code"


def test_messages_and_malformed_blocks_in_code_format(pool: SandboxPool) -> None:
    env = make(pool)
    try:
        obs, *_, info = env.step("```python\n\n```")
        assert info["action_type"] == "malformed" and obs.startswith("Error: the code block is empty")
        obs, _, term, *_, info = env.step("Your order is on its way.")
        assert info["action_type"] == "message" and term is True
        assert env.unwrapped.answer == "Your order is on its way."
        assert env.unwrapped.sandbox is pool
    finally:
        env.close()


# ---- arbitrary model text ---------------------------------------------------------------------------------------

statements = st.sampled_from(
    [
        f'print(get_order_details("{PENDING_ID}"))',
        'get_order_details("#W0")',
        "get_user_details(user_id=1)",
        "print(list_all_product_types())",
        f'cancel_pending_order("{PENDING_ID}", "no longer needed")',
        f'cancel_pending_order("{PENDING_ID}", "bored")',
        f'modify_user_address("{USER_ID}", "1 A St", "", "B", "CA", "USA", "90001")',
        'think("hmm")',
        "transfer_to_human_agents(summary='x')",
        "x = 1 / 0",
        "import os",
        "print(x.__class__)",
        "try:\n    get_order_details('#W0')\nexcept ToolError as e:\n    print(e)",
        "print([1, 2][5])",
        'print("x" * 9000)',
        "    print(1)",
        "print(",
        "x = 'text'",
    ]
)
fences = st.sampled_from(
    [("```python\n", "\n```"), ("```\n", ""), ("<execute>", "</execute>"), ("```py\n", "")]
)
block_texts = st.builds(
    lambda pre, fence, lines, post: f"{pre}{fence[0]}{chr(10).join(lines)}{fence[1]}{post}",
    st.text(max_size=10),
    fences,
    st.lists(statements, min_size=1, max_size=5),
    st.text(max_size=10),
)
fragments_of_text = st.sampled_from(
    ["```python\n", "```", "\n", "<execute>", "</execute>", "print(", ")", "`"]
)
model_texts = block_texts | st.lists(fragments_of_text | statements | st.text(max_size=8), max_size=12).map(
    "".join
)


@pytest.fixture(scope="module")
def module_env(pool: SandboxPool) -> Iterator[gym.Env[str, str]]:
    e = make(pool)
    yield e
    e.close()


@given(text=model_texts)
@settings(max_examples=30, deadline=None)
def test_step_never_raises_and_only_successful_writes_change_the_world(
    module_env: gym.Env[str, str], text: str
) -> None:
    module_env.reset(seed=SEED)
    h = module_env.unwrapped.world.hash()
    obs, reward, term, trunc, info = module_env.step(text)
    assert isinstance(obs, str) and reward == 0.0 and isinstance(term, bool) and isinstance(trunc, bool)
    assert info["action_type"] in {"code", "message", "malformed"}
    wrote = any(c["name"] in WRITE_TOOLS and c["error"] is None for c in info.get("tool_calls", []))
    if not wrote:
        assert module_env.unwrapped.world.hash() == h


# ---- the shared pool --------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_close_releases_the_shared_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "_SHARED", pool_module._Shared())  # a fresh shared pool for this test
    envs = [gym.make("toolgym/Retail-v0", action_format="code", world_size=SIZE) for _ in range(2)]
    for e in envs:
        e.reset(seed=SEED)
        assert e.step(code("print(2 + 2)"))[0] == "4\n"
    shared = pool_module._SHARED.pool
    assert shared is not None and pool_module._SHARED.users == 2
    assert all(e.unwrapped.sandbox is shared for e in envs)
    pids = shared.worker_pids()
    assert pids and all(_alive(p) for p in pids)
    envs[0].close()
    envs[0].close()  # closing twice gives back one reference, not two
    assert pool_module._SHARED.pool is shared and pool_module._SHARED.users == 1
    assert envs[1].step(code("print(3)"))[0] == "3\n"
    envs[1].close()
    assert pool_module._SHARED.pool is None and pool_module._SHARED.users == 0
    assert shared.worker_pids() == []
    assert not any(_alive(p) for p in pids)


def test_close_leaves_a_given_pool_running(pool: SandboxPool) -> None:
    env = make(pool)
    env.step(code("print(1)"))
    env.close()
    assert pool.worker_pids() and all(_alive(p) for p in pool.worker_pids())
    other = make(pool)
    try:
        assert other.step(code("print(5)"))[0] == "5\n"
    finally:
        other.close()
