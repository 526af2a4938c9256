"""The store of reused keys and values: longest-prefix matching, the byte budget, and batch assembly."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from toolgym.policies.kv_store import KVStore, common_prefix_length
from toolgym.testing import tiny_llama

LAYERS, HEADS, DIM = 2, 1, 4


def states(n: int, fill: float) -> tuple[torch.Tensor, torch.Tensor]:
    keys = torch.full((LAYERS, HEADS, n, DIM), fill)
    return keys, keys + 0.5


def test_the_longest_shared_prefix_wins_and_one_token_is_left_to_compute() -> None:
    store = KVStore(max_bytes=2**20, min_tokens=3)
    short = store.add([1, 2, 3, 4], *states(4, 1.0))
    long = store.add([1, 2, 3, 4, 5, 6], *states(6, 2.0))
    assert store.match([1, 2, 3, 4, 5, 6, 7]) == (6, long)
    assert store.match([1, 2, 3, 4, 5, 6]) == (
        5,
        long,
    )  # the row's last token is fed, not taken from the store
    assert store.match([1, 2, 3, 9, 9]) in {(3, short), (3, long)}
    assert store.match([1, 2, 9]) == (0, None)  # shorter than min_tokens
    assert store.match([7, 7, 7, 7]) == (0, None)


def test_the_least_recently_used_entries_go_past_the_budget() -> None:
    one = states(4, 1.0)
    size = int(one[0].numel() * one[0].element_size() * 2)
    store = KVStore(max_bytes=2 * size, min_tokens=2)
    a = store.add([1, 1, 1, 1], *one)
    b = store.add([2, 2, 2, 2], *states(4, 2.0))
    store.match([1, 1, 1, 1, 0])  # a is used again: b is now the oldest
    c = store.add([3, 3, 3, 3], *states(4, 3.0))
    assert list(store.entries) == [a, c] and store.nbytes == 2 * size
    store.drop(a)
    store.drop(b)  # gone already: nothing happens
    assert list(store.entries) == [c] and len(store) == 1
    store.clear()
    assert len(store) == 0


def test_assembly_pads_each_row_with_zeros_to_the_longest_reused_part() -> None:
    model, _ = tiny_llama()
    store = KVStore(max_bytes=2**20, min_tokens=2)
    first = store.add([1, 2, 3], *states(3, 1.0))
    second = store.add([4, 5, 6, 7, 8], *states(5, 2.0))
    cache = store.assemble([(2, first), (0, None), (5, second)], model.config)
    keys = cache.layers[0].keys
    assert keys.shape == (3, HEADS, 5, DIM)
    assert torch.equal(keys[0, :, :2], torch.full((HEADS, 2, DIM), 1.0))
    assert not keys[0, :, 2:].any() and not keys[1].any()
    assert torch.equal(cache.layers[1].values[2], torch.full((HEADS, 5, DIM), 2.5))
    assert store.assemble([(0, None), (0, None)], model.config) is None


@given(
    st.lists(st.lists(st.integers(0, 3), min_size=0, max_size=12), min_size=1, max_size=5),
    st.lists(st.integers(0, 3), min_size=1, max_size=14),
)
def test_a_match_is_a_true_shared_prefix(entries: list[list[int]], row: list[int]) -> None:
    store = KVStore(max_bytes=2**30, min_tokens=1)
    keys = {store.add(tokens, *states(len(tokens), 0.0)): tokens for tokens in entries if tokens}
    n, key = store.match(row)
    if key is None:
        assert n == 0
        return
    assert 1 <= n < len(row) and keys[key][:n] == row[:n]
    best = max(
        (
            next(
                (i for i, (a, b) in enumerate(zip(t, row[:-1], strict=False)) if a != b),
                min(len(t), len(row) - 1),
            )
        )
        for t in keys.values()
    )
    assert n == best


@pytest.mark.parametrize("min_tokens", [1, 4])
def test_min_tokens_is_respected(min_tokens: int) -> None:
    store = KVStore(max_bytes=2**20, min_tokens=min_tokens)
    store.add([5, 5, 5], *states(3, 0.0))
    assert (store.match([5, 5, 5, 5])[0] > 0) == (min_tokens <= 3)


@given(
    st.lists(st.lists(st.integers(0, 2), min_size=0, max_size=10), min_size=1, max_size=5),
    st.integers(0, 12),
)
def test_the_common_prefix_is_the_longest_all_rows_share(rows: list[list[int]], limit: int) -> None:
    n = common_prefix_length(rows, limit)
    assert 0 <= n <= min(limit, *(len(r) for r in rows))
    assert all(r[:n] == rows[0][:n] for r in rows)
    if n < min(limit, *(len(r) for r in rows)):  # stopped early: two rows differ at n
        assert len({r[n] for r in rows}) > 1
