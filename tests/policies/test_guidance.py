"""Guided decoding: the action grammar accepts every valid call and message and nothing else; guided generation
with a tiny random Llama yields only valid actions; demonstrations come from other tasks."""

from __future__ import annotations

import json
from typing import Any

import llguidance
import llguidance.hf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from toolgym.envs.retail import RETAIL_TOOLS

from toolgym.actions import Message, ToolCall, get_format
from toolgym.policies import Sampling
from toolgym.policies.guidance import MAX_ITEMS, MAX_STRING_CHARS, GuidanceError, action_grammar
from toolgym.policies.hf import TransformersPolicy
from toolgym.policies.openai_backend import OpenAIPolicy
from toolgym.testing import tiny_llama

FORMATS = ["hermes", "json", "llama3"]
TOOLS = RETAIL_TOOLS.schemas


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    return tiny_llama(seed=4)


@pytest.fixture(scope="module")
def ll_tokenizer(tiny: tuple[Any, Any]) -> Any:
    model, tokenizer = tiny
    return llguidance.hf.from_tokenizer(tokenizer, n_vocab=model.config.vocab_size)


def accepts(ll_tokenizer: Any, tokenizer: Any, grammar: str, text: str) -> bool:
    matcher = llguidance.LLMatcher(ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar))
    # Text spelled out in ordinary tokens, as a model writes it: "<|im_start|>" inside an argument is characters,
    # not the special token (which no grammar allows mid-call).
    ids = tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return matcher.try_consume_tokens(ids) == len(ids) and matcher.is_accepting()


GRAMMARS = {fmt: action_grammar(fmt, TOOLS) for fmt in FORMATS}
# Control characters are left out: the grammar's JSON strings never contain them raw, and models have no use for them.
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=MAX_STRING_CHARS)


def value_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return st.lists(value_for(schema.get("items", {"type": "string"})), max_size=MAX_ITEMS)
    if kind == "integer":
        return st.integers(-(10**6), 10**6)
    if kind == "number":
        return st.floats(-1e6, 1e6, allow_nan=False)
    return text


@st.composite
def valid_calls(draw: st.DrawFn) -> ToolCall:
    tool = draw(st.sampled_from(TOOLS))["function"]
    properties = tool["parameters"].get("properties", {})
    args = {name: draw(value_for(p)) for name, p in properties.items()}
    return ToolCall(tool["name"], args)


@pytest.mark.parametrize("fmt", FORMATS)
@given(call=valid_calls())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_grammar_accepts_every_valid_call(
    fmt: str, call: ToolCall, ll_tokenizer: Any, tiny: tuple[Any, Any]
) -> None:
    rendered = get_format(fmt).render(call)
    assert accepts(ll_tokenizer, tiny[1], GRAMMARS[fmt], rendered), rendered
    assert get_format(fmt).parse(rendered) == call
    assert RETAIL_TOOLS[call.name].validate(call.arguments) is None or "enum" in json.dumps(
        RETAIL_TOOLS[call.name].schema
    )


@pytest.mark.parametrize("fmt", FORMATS)
@given(
    message=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=300)
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_messages_are_accepted_exactly_when_the_parser_reads_them_as_messages(
    fmt: str, message: str, ll_tokenizer: Any, tiny: tuple[Any, Any]
) -> None:
    if accepts(ll_tokenizer, tiny[1], GRAMMARS[fmt], message):
        assert isinstance(get_format(fmt).parse(message), Message | ToolCall)
        assert not isinstance(get_format(fmt).parse(message), ToolCall) or message.startswith(
            ("{", "<tool_call>")
        )


def wrong_calls() -> list[str]:
    good = {"order_id": "#W0000001"}
    return [
        json.dumps({"name": "delete_everything", "arguments": {}}),  # unknown tool
        json.dumps({"name": "get_order_details", "arguments": {"order_id": 5}}),  # wrong type
        json.dumps({"name": "get_order_details", "arguments": {}}),  # missing argument
        json.dumps({"name": "get_order_details", "arguments": {**good, "extra": "x"}}),  # unknown argument
        json.dumps(
            {"name": "cancel_pending_order", "arguments": {**good, "reason": "bored"}}
        ),  # not in the enum
        json.dumps({"name": "get_order_details", "arguments": {"order_id": "x" * (MAX_STRING_CHARS + 1)}}),
        '{"name":"get_order_details","arguments":{"order_id":"#W1"}}',  # other separators than the formats render
        json.dumps({"name": "get_order_details", "arguments": good}) + " and more",
    ]


@pytest.mark.parametrize("fmt", ["json", "hermes"])
@pytest.mark.parametrize("call", wrong_calls())
def test_the_grammar_rejects_invalid_calls(
    fmt: str, call: str, ll_tokenizer: Any, tiny: tuple[Any, Any]
) -> None:
    written = f"<tool_call>\n{call}\n</tool_call>" if fmt == "hermes" else call
    assert not accepts(ll_tokenizer, tiny[1], GRAMMARS[fmt], written)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("hermes", "See <tool_call> here"),
        ("json", '{"name": "x"}'),
        ("json", "```json\n{}\n```"),
        ("json", " leading space"),
    ],
)
def test_messages_that_a_parser_would_misread_are_rejected(
    fmt: str, message: str, ll_tokenizer: Any, tiny: tuple[Any, Any]
) -> None:
    assert not accepts(ll_tokenizer, tiny[1], GRAMMARS[fmt], message)


def test_formats_without_a_grammar_are_refused() -> None:
    with pytest.raises(GuidanceError, match="not 'code'"):
        action_grammar("code", TOOLS)
    with pytest.raises(GuidanceError, match="at least one tool"):
        action_grammar("json", [])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("require_call", [False, True])
def test_guided_batched_generation_yields_only_valid_actions(
    fmt: str, require_call: bool, tiny: tuple[Any, Any]
) -> None:
    policy = TransformersPolicy(*tiny)
    grammar = action_grammar(fmt, TOOLS[:4], require_call=require_call)
    conversation = [
        {"role": "system", "content": "You help customers."},
        {"role": "user", "content": "Where is #W1?"},
    ]
    texts = policy.generate(
        [conversation] * 6,
        sampling=Sampling(temperature=1.0, max_new_tokens=900, seed=11),
        grammars=[grammar] * 6,
    )
    for text in texts:
        parsed = get_format(fmt).parse(text)
        assert isinstance(parsed, ToolCall | Message), (text, parsed)
        if require_call:
            assert isinstance(parsed, ToolCall)
        if isinstance(parsed, ToolCall):
            assert RETAIL_TOOLS[parsed.name].validate(parsed.arguments) is None, text


def test_unguided_rows_in_a_guided_batch_stay_free(tiny: tuple[Any, Any]) -> None:
    policy = TransformersPolicy(*tiny)
    conversation = [{"role": "user", "content": "Hello"}]
    greedy = Sampling(temperature=0, max_new_tokens=12)
    free = policy.generate([conversation], sampling=greedy)[0]
    mixed = policy.generate(
        [conversation, conversation],
        sampling=greedy,
        grammars=[None, action_grammar("json", TOOLS, require_call=True)],
    )
    assert mixed[0] == free
    assert mixed[1].startswith('{"name": ')


def test_the_openai_backend_sends_the_grammar_as_a_structured_output() -> None:
    policy = OpenAIPolicy("http://127.0.0.1:9/v1", "m")
    try:
        body = policy._body([{"role": "user", "content": "x"}], TOOLS, Sampling(), 0, "start: /a/")
        assert body["structured_outputs"] == {"grammar": "start: /a/"} and "tools" not in body
        plain = policy._body([{"role": "user", "content": "x"}], TOOLS, Sampling(), 0, None)
        assert "structured_outputs" not in plain and plain["tools"]
    finally:
        policy.close()


@pytest.mark.parametrize("fmt", ["hermes", "json"])
def test_a_call_cut_by_the_token_limit_is_finished(fmt: str, tiny: tuple[Any, Any]) -> None:
    policy = TransformersPolicy(*tiny)
    grammar = action_grammar(fmt, TOOLS, require_call=True)
    conversation = [{"role": "user", "content": "Where is #W1?"}]
    texts = policy.generate(
        [conversation] * 6,
        sampling=Sampling(temperature=1.0, max_new_tokens=8, seed=3),
        grammars=[grammar] * 6,
    )
    lengths = [len(policy.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert max(lengths) > 8  # at least one call needed more than the limit and was carried on
    for text in texts:
        parsed = get_format(fmt).parse(text)
        assert isinstance(parsed, ToolCall), text
        assert RETAIL_TOOLS[parsed.name].validate(parsed.arguments) is None


@given(
    seed=st.integers(0, 2**16),
    top_p=st.floats(0.05, 0.99),
    spread=st.sampled_from([0.01, 1.0, 8.0]),
    masked=st.floats(0.0, 0.99),
)
def test_nucleus_keeps_the_same_tokens_as_a_full_sort(
    seed: int, top_p: float, spread: float, masked: float
) -> None:
    import torch

    from toolgym.policies.guidance import nucleus

    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(4, 600, generator=generator) * spread  # flat rows need more than the first k tokens
    scores[torch.rand(4, 600, generator=generator) < masked] = -torch.inf  # tokens a grammar forbids
    scores[:, 0] = scores[:, 0].clamp(min=0.0)  # every row keeps at least one allowed token
    fast = nucleus(scores, top_p, first_k=8)
    kept, allowed = torch.isfinite(fast), torch.isfinite(scores)
    assert torch.equal(fast[kept], scores[kept]) and bool((kept <= allowed).all())
    # What defines a nucleus, row by row (tokens of equal probability may stand in for each other, and sums may
    # round by float32's error): the kept tokens are the most probable, their mass reaches top_p, and without the
    # least probable of them it would not.
    probs = torch.softmax(scores.float(), dim=-1).double()
    for row in range(scores.shape[0]):
        mine, dropped = probs[row][kept[row]], probs[row][allowed[row] & ~kept[row]]
        assert mine.numel() > 0
        if dropped.numel():
            assert float(mine.min()) >= float(dropped.max())
            assert float(mine.sum()) > top_p - 1e-5
        assert float(mine.sum() - mine.min()) <= top_p + 1e-5
