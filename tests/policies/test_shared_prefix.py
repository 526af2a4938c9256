"""Shared-prefix attention: the merged softmax equals attention over the concatenation, and generation is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM

from toolgym.policies import Sampling
from toolgym.policies.hf import TransformersPolicy
from toolgym.policies.kv_store import KVStore, row_states
from toolgym.policies.shared_prefix import (
    ATTENTION_NAME,
    SharedPrefixCache,
    SharedPrefixLayer,
    enable,
    merged_attention,
    shared_prefix_attention,
    shared_prefix_scope,
)
from toolgym.testing import tiny_llama


def reference(query: Any, prefix: tuple[Any, Any], own: tuple[Any, Any], mask: Any) -> Any:
    """SDPA over the opening repeated for every row, followed by the rows' own tokens."""
    batch, heads = query.shape[:2]
    group = heads // own[0].shape[1]
    keys = torch.cat([prefix[0].expand(batch, -1, -1, -1), own[0]], dim=2).repeat_interleave(group, 1)
    values = torch.cat([prefix[1].expand(batch, -1, -1, -1), own[1]], dim=2).repeat_interleave(group, 1)
    out = torch.nn.functional.scaled_dot_product_attention(query, keys, values, attn_mask=mask)
    return out.transpose(1, 2)


def causal(q_len: int, total: int) -> Any:
    return torch.arange(total)[None, :] <= torch.arange(total - q_len, total)[:, None]


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 4),
    kv_heads=st.integers(1, 3),
    group=st.integers(1, 3),
    prefix_length=st.integers(1, 50),
    extra=st.integers(0, 12),
    q_len=st.integers(1, 6),
    pads=st.lists(st.integers(0, 12), min_size=4, max_size=4),
    masked=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_merged_attention_equals_attention_over_the_concatenation(
    batch: int,
    kv_heads: int,
    group: int,
    prefix_length: int,
    extra: int,
    q_len: int,
    pads: list[int],
    masked: bool,
    seed: int,
) -> None:
    generator = torch.Generator().manual_seed(seed)
    dim, own = 8, extra + q_len  # the queries are the last q_len of the rows' own tokens

    def rand(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator)

    prefix = (rand(1, kv_heads, prefix_length, dim), rand(1, kv_heads, prefix_length, dim))
    keys, values = rand(batch, kv_heads, own, dim), rand(batch, kv_heads, own, dim)
    query = rand(batch, kv_heads * group, q_len, dim)
    layer = SharedPrefixLayer(prefix[0], prefix[1], keys, values)
    mask = causal(q_len, prefix_length + own).repeat(batch, 1, 1, 1)
    if masked:
        for row in range(batch):  # padding between a row's reused tokens and its new ones
            mask[row, :, :, prefix_length : prefix_length + min(pads[row], extra)] = False
    got = merged_attention(layer, query, keys, values, mask if masked else None, None)
    torch.testing.assert_close(got, reference(query, prefix, (keys, values), mask), atol=1e-5, rtol=1e-4)


def test_an_additive_mask_and_a_chunked_opening_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    prefix = (torch.randn(1, 2, 30, 8), torch.randn(1, 2, 30, 8))
    keys, values = torch.randn(3, 2, 5, 8), torch.randn(3, 2, 5, 8)
    query = torch.randn(3, 4, 5, 8)
    allowed = causal(5, 35).repeat(3, 1, 1, 1)
    allowed[1, :, :, 30:32] = False
    additive = torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
    layer = SharedPrefixLayer(prefix[0], prefix[1], keys, values)
    expected = reference(query, prefix, (keys, values), allowed)
    monkeypatch.setattr("toolgym.policies.shared_prefix.MAX_SCORES", 64)  # many small chunks of queries
    torch.testing.assert_close(merged_attention(layer, query, keys, values, additive, None), expected)


def test_a_mask_of_the_wrong_width_is_refused() -> None:
    layer = SharedPrefixLayer(
        torch.zeros(1, 1, 4, 8), torch.zeros(1, 1, 4, 8), torch.zeros(1, 1, 2, 8), torch.zeros(1, 1, 2, 8)
    )
    with pytest.raises(ValueError, match="spans 5 keys, expected 6"):
        merged_attention(
            layer,
            torch.zeros(1, 1, 1, 8),
            layer.keys,
            layer.values,
            torch.ones(1, 1, 1, 5, dtype=torch.bool),
            None,
        )


def test_the_layer_keeps_the_opening_once_and_grows_only_the_rows_own_part() -> None:
    prefix = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(1, 2, 4, 3)
    own = torch.full((2, 2, 1, 3), -1.0)
    layer = SharedPrefixLayer(prefix, prefix + 100, own, own - 1, room=1)
    keys, values = layer.update(torch.full((2, 2, 1, 3), -5.0), torch.full((2, 2, 1, 3), -6.0))
    assert keys.shape == (2, 2, 2, 3) and values.shape == (2, 2, 2, 3)
    assert layer.get_seq_length() == 6 and layer.get_mask_sizes(3) == (9, 0)
    row_keys, row_values = layer.row_states(1, torch.tensor([0, 1, 2, 3, 5]))
    torch.testing.assert_close(row_keys, torch.cat([prefix[0], torch.full((2, 1, 3), -5.0)], dim=1))
    torch.testing.assert_close(row_values, torch.cat([prefix[0] + 100, torch.full((2, 1, 3), -6.0)], dim=1))
    # Past its room the buffers grow and keep what they held.
    keys, _ = layer.update(torch.full((2, 2, 3, 3), -7.0), torch.full((2, 2, 3, 3), -8.0))
    assert keys.shape == (2, 2, 5, 3) and layer.get_seq_length() == 9
    assert keys[:, :, :, 0].tolist() == [[[-1.0, -5.0, -7.0, -7.0, -7.0]] * 2] * 2


def test_outside_a_scope_the_attention_is_plain_sdpa() -> None:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    class Module(torch.nn.Module):
        layer_idx, num_key_value_groups, is_causal = 0, 2, True

    torch.manual_seed(1)
    query, keys, values = torch.randn(2, 4, 3, 8), torch.randn(2, 2, 3, 8), torch.randn(2, 2, 3, 8)
    expected, _ = sdpa_attention_forward(Module(), query, keys, values, None)
    got, _ = shared_prefix_attention(Module(), query, keys, values, None)
    torch.testing.assert_close(got, expected)
    with shared_prefix_scope(object()):  # not a shared-prefix cache: still plain
        torch.testing.assert_close(shared_prefix_attention(Module(), query, keys, values, None)[0], expected)


def test_only_sdpa_models_are_switched_and_a_saved_model_keeps_stock_attention(tmp_path: Path) -> None:
    model, _ = tiny_llama(seed=0)
    assert enable(model) and enable(model)  # repeatable
    assert model.config._attn_implementation == ATTENTION_NAME
    model.save_pretrained(tmp_path)
    assert ATTENTION_NAME not in (tmp_path / "config.json").read_text()
    assert AutoModelForCausalLM.from_pretrained(tmp_path).config._attn_implementation == "sdpa"
    eager, _ = tiny_llama(seed=0)
    eager.set_attn_implementation("eager")
    assert not enable(eager) and eager.config._attn_implementation == "eager"
    assert not enable(object())


def test_the_shared_length_is_what_every_reused_entry_agrees_on() -> None:
    store = KVStore(2**30, min_tokens=2)
    states = torch.zeros(1, 1, 8, 2)
    a = store.add([1, 2, 3, 4, 5, 6, 7, 8], states, states)
    b = store.add([1, 2, 3, 9, 9, 9, 9, 9], states, states)
    assert store.shared_length([(6, a), (5, b)]) == 3
    assert store.shared_length([(6, a), (2, a)]) == 2
    assert store.shared_length([(6, a), (0, None)]) == 0
    assert store.shared_length([]) == 0


def test_assembly_shares_a_long_common_opening_and_not_a_short_one() -> None:
    store = KVStore(2**30, min_tokens=3)
    keys = torch.arange(2 * 1 * 6 * 2, dtype=torch.float32).reshape(
        2, 1, 6, 2
    )  # [layers, kv_heads, tokens, dim]
    a = store.add([1, 2, 3, 4, 5, 6], keys, -keys)
    b = store.add([1, 2, 3, 4, 7, 7], keys + 1000, -keys)
    cache = store.assemble([(6, a), (5, b)], config=None, shared=True)
    assert isinstance(cache, SharedPrefixCache)
    layer = cache.layers[1]
    assert layer.prefix_length == 4 and layer.keys.shape == (2, 1, 2, 2)
    torch.testing.assert_close(layer.keys[1, :, :1], keys[1, :, 4:5] + 1000)
    assert float(layer.keys[1, :, 1:].abs().sum()) == 0  # the shorter row is padded with zeros
    # row_states reads the opening and the row's own tokens back as one sequence.
    row_keys, _ = row_states(cache, 0, torch.arange(6))
    torch.testing.assert_close(row_keys, keys)
    plain = store.assemble([(6, a), (5, b)], config=None, shared=False)
    assert not isinstance(plain, SharedPrefixCache)
    short = KVStore(2**30, min_tokens=5)
    c = short.add([1, 2, 3, 4, 5, 6], keys, keys)
    d = short.add([1, 2, 3, 4, 7, 7], keys, keys)
    assert not isinstance(short.assemble([(6, c), (5, d)], config=None, shared=True), SharedPrefixCache)


SYSTEM = "You are a store agent. Follow the policy and use the tools. " * 8


def test_greedy_turns_are_the_same_with_the_opening_shared_or_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer = tiny_llama(seed=3)
    policy = TransformersPolicy(model, tokenizer, batch_size=4)
    assert policy.shared_prefix
    used: list[type] = []
    assemble = policy.kv_store.assemble

    def spy(*args: Any, **kwargs: Any) -> Any:
        cache = assemble(*args, **kwargs)
        used.append(type(cache))
        return cache

    monkeypatch.setattr(policy.kv_store, "assemble", spy)
    greedy = Sampling(temperature=0, max_new_tokens=10)
    first = [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Order #W{i}?" * (i + 1)}]
        for i in range(4)
    ]

    def two_turns() -> list[str]:
        policy.kv_store.clear()
        replies = policy.generate(first, sampling=greedy)
        second = [
            [*c, {"role": "assistant", "content": r}, {"role": "user", "content": f"And #X{i}?"}]
            for i, (c, r) in enumerate(zip(first, replies, strict=True))
        ]
        return replies + policy.generate(second, sampling=greedy)

    shared = two_turns()
    assert SharedPrefixCache in used
    policy.shared_prefix = False
    used.clear()
    assert two_turns() == shared
    assert SharedPrefixCache not in used
