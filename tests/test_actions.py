from __future__ import annotations

import json
import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolgym.actions import (
    ActionFormat,
    Malformed,
    Message,
    ToolCall,
    UnknownFormatError,
    available_formats,
    get_format,
    register_format,
)

FORMATS = ["json", "hermes", "llama3", "pythonic", "auto"]

# Tool names are Python function names, so never keywords.
names = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(max_size=30)
)
json_values = st.recursive(
    leaves,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=12,
)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)
calls = st.builds(ToolCall, name=names, arguments=st.dictionaries(identifiers, json_values, max_size=5))


def test_registry_lists_the_builtin_formats() -> None:
    assert set(FORMATS) <= set(available_formats())
    with pytest.raises(UnknownFormatError, match="unknown action format 'xml'"):
        get_format("xml")
    with pytest.raises(ValueError, match="already registered"):
        register_format(get_format("json"))


def test_a_new_format_can_be_registered() -> None:
    fmt = ActionFormat("upper-test", lambda t: Message(t.upper()), lambda c: c.name, "shout")
    register_format(fmt)
    assert get_format("upper-test").parse("hi") == Message("HI")


@pytest.mark.parametrize("fmt", FORMATS)
@given(call=calls)
@settings(max_examples=60, deadline=None)
def test_render_then_parse_round_trips(fmt: str, call: ToolCall) -> None:
    f = get_format(fmt)
    assert f.parse(f.render(call)) == call


@pytest.mark.parametrize("fmt", FORMATS)
@given(text=st.text(max_size=300))
@settings(max_examples=150, deadline=None)
def test_parsers_never_raise_on_arbitrary_text(fmt: str, text: str) -> None:
    assert isinstance(get_format(fmt).parse(text), ToolCall | Message | Malformed)


fragments = st.sampled_from(
    [
        "<tool_call>",
        "</tool_call>",
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        '"name"',
        ":",
        '"arguments"',
        ",",
        "=",
        "```",
        "<|python_tag|>",
        "f",
        "'x'",
        "1",
        "**k",
        "\n",
        " ",
        '"',
        "\\",
        "((((((((((",
        "[[[[[[[[",
        "{{{{{{{{",
    ]
)


@pytest.mark.parametrize("fmt", FORMATS)
@given(parts=st.lists(fragments, max_size=40))
@settings(max_examples=200, deadline=None)
def test_parsers_never_raise_on_call_like_garbage(fmt: str, parts: list[str]) -> None:
    assert isinstance(get_format(fmt).parse("".join(parts)), ToolCall | Message | Malformed)


def test_deeply_nested_input_is_malformed_not_a_crash() -> None:
    for fmt in FORMATS:
        out = get_format(fmt).parse("[" * 100_000)
        assert isinstance(out, Message | Malformed)
        out = get_format(fmt).parse('{"name": "f", "arguments": ' + "[" * 100_000)
        assert isinstance(out, Message | Malformed)


def test_json_accepts_fences_openai_shape_and_string_arguments() -> None:
    p = get_format("json").parse
    assert p('```json\n{"name": "f", "arguments": {"a": 1}}\n```') == ToolCall("f", {"a": 1})
    assert p('{"type": "function", "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}') == ToolCall(
        "f", {"a": 1}
    )
    assert p('{"name": "f"}') == ToolCall("f", {})
    assert p('[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}]') == ToolCall(
        "f", {}, ignored=1
    )
    assert p("Your order has shipped.") == Message("Your order has shipped.")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"name": "f", "arguments": {', "not valid JSON"),
        ('{"arguments": {}}', '"name" string'),
        ('{"name": "f", "arguments": [1]}', "must be a JSON object"),
        ('{"name": "f", "arguments": "{oops"}', "arguments of f are not valid JSON"),
        ("[]", "empty"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_json_errors_say_what_is_wrong(text: str, reason: str) -> None:
    out = get_format("json").parse(text)
    assert isinstance(out, Malformed)
    assert reason in out.reason


def test_hermes_tolerates_prose_missing_close_and_counts_extra_calls() -> None:
    p = get_format("hermes").parse
    text = 'Let me check.\n<tool_call>\n{"name": "f", "arguments": {"x": "</tool_call>"}}'
    assert p(text) == ToolCall("f", {"x": "</tool_call>"})
    two = '<tool_call>{"name": "f", "arguments": {}}</tool_call><tool_call>{"name": "g", "arguments": {}}</tool_call>'
    assert p(two) == ToolCall("f", {}, ignored=1)
    assert p('{"name": "f", "arguments": {}}') == Message('{"name": "f", "arguments": {}}')
    bad = p("<tool_call>{name: f}</tool_call>")
    assert isinstance(bad, Malformed)
    assert "<tool_call>" in bad.reason


def test_llama3_accepts_python_tag_and_parameters() -> None:
    p = get_format("llama3").parse
    assert p('<|python_tag|>{"name": "f", "parameters": {"a": "b"}}') == ToolCall("f", {"a": "b"})
    assert json.loads(get_format("llama3").render(ToolCall("f", {"a": 1}))) == {
        "name": "f",
        "parameters": {"a": 1},
    }


def test_pythonic_calls_and_errors() -> None:
    p = get_format("pythonic").parse
    assert p("[get_order_details(order_id='#W1')]") == ToolCall("get_order_details", {"order_id": "#W1"})
    assert p("get_order_details(order_id='#W1')") == ToolCall("get_order_details", {"order_id": "#W1"})
    assert p("[f(a=[1, 2], b={'k': None}), g()]") == ToolCall("f", {"a": [1, 2], "b": {"k": None}}, ignored=1)
    for text, reason in [
        ("[f('x')]", "by keyword"),
        ("[f(a=x)]", "literal value"),
        ("[f(**k)]", "**kwargs"),
        ("[f(a=1]", "not valid Python"),
        ("[f(a=1)(b=2)]", "call like"),
        ("[f(a=1), 3]", None),
    ]:
        out = p(text)
        if reason is None:
            assert out == ToolCall("f", {"a": 1}, ignored=1)
        else:
            assert isinstance(out, Malformed), text
            assert reason in out.reason
    assert p("Sure (happy to help)") == Message("Sure (happy to help)")
    assert p("[Note] nothing to do") == Message("[Note] nothing to do")


def test_auto_recognises_each_format() -> None:
    p = get_format("auto").parse
    call = ToolCall("f", {"a": 1})
    for fmt in ["json", "hermes", "llama3", "pythonic"]:
        assert p(get_format(fmt).render(call)) == call
    assert p("Hello there") == Message("Hello there")
    assert isinstance(p('{"name": '), Malformed)
