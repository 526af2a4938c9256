"""Keys and values kept between ``generate`` calls, so a prompt only pays for the tokens no earlier call computed.

Two kinds of prompts repeat in tool-use episodes. Every conversation of a domain opens with the same long system
prompt (policy, tool schemas), and every turn of a conversation is the previous turn's prompt and completion plus
the new observation. :class:`KVStore` keeps, per row of recent calls, the keys and values of its real tokens, with
the padding dropped; a new row starts from the stored entry sharing its longest token prefix and computes only the
rest. Entries hold each token's keys at the position it had among real tokens (masked padding does not advance
positions), so an entry serves any row that starts with its tokens, whatever padding that row's batch needs.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_REUSED_TOKENS = 32
"""Shortest shared prefix (in tokens) worth reusing."""


def common_prefix_length(rows: Sequence[Sequence[int] | np.ndarray[Any, Any]], limit: int) -> int:
    """How many leading tokens all rows share, counting at most ``limit``.

    Args:
        rows: Token id sequences (at least one).
        limit: Most tokens to count.

    Returns:
        The length.
    """
    first = np.asarray(rows[0][:limit], dtype=np.int64)
    length = len(first)
    for row in rows[1:]:
        other = np.asarray(row[:length], dtype=np.int64)
        length = len(other)
        differ = np.flatnonzero(other != first[:length])
        if differ.size:
            length = int(differ[0])
    return length


@dataclass
class KVEntry:
    """The keys and values of one token sequence.

    Attributes:
        tokens: The token ids.
        keys: ``[layers, kv_heads, len(tokens), head_dim]``.
        values: Same shape as ``keys``.
        opening: Computed as a batch's shared opening (kept for other conversations) rather than left by a turn.
    """

    tokens: np.ndarray[Any, Any]
    keys: Any
    values: Any
    opening: bool = False

    @property
    def nbytes(self) -> int:
        """Memory the tensors take."""
        return int(self.keys.numel() * self.keys.element_size() * 2)


class KVStore:
    """A byte-bounded, least-recently-used store of :class:`KVEntry`, matched by longest shared token prefix.

    Args:
        max_bytes: Most memory the entries may take; the least recently used go first.
        min_tokens: Shortest match worth reusing.
    """

    def __init__(self, max_bytes: int, min_tokens: int = MIN_REUSED_TOKENS) -> None:
        self.max_bytes = max_bytes
        self.min_tokens = min_tokens
        self.entries: OrderedDict[int, KVEntry] = OrderedDict()
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def nbytes(self) -> int:
        """Memory all entries take."""
        return sum(e.nbytes for e in self.entries.values())

    def clear(self) -> None:
        """Drop every entry."""
        self.entries.clear()

    def match(self, row: Sequence[int]) -> tuple[int, int | None]:
        """The entry sharing the longest prefix with ``row``, leaving at least one token of the row to compute.

        Args:
            row: Token ids.

        Returns:
            ``(length, entry id)``, or ``(0, None)`` when no entry shares ``min_tokens`` or more.
        """
        tokens = np.asarray(row, dtype=np.int64)
        best, best_id = 0, None
        for key, entry in self.entries.items():
            if min(len(tokens) - 1, len(entry.tokens)) <= best:
                continue
            shared = common_prefix_length([entry.tokens, tokens], len(tokens) - 1)
            if shared > best:
                best, best_id = shared, key
        if best < self.min_tokens:
            return 0, None
        assert best_id is not None
        self.entries.move_to_end(best_id)
        return best, best_id

    def add(self, tokens: Sequence[int], keys: Any, values: Any, *, opening: bool = False) -> int:
        """Keep the keys and values of a token sequence, evicting the least recently used beyond the budget.

        Args:
            tokens: The token ids.
            keys: ``[layers, kv_heads, len(tokens), head_dim]``.
            values: Same shape.
            opening: Whether this is a batch's shared opening.

        Returns:
            The entry's id.
        """
        key = next(self._ids)
        self.entries[key] = KVEntry(np.asarray(tokens, dtype=np.int64), keys, values, opening)
        budget = self.max_bytes
        while len(self.entries) > 1 and self.nbytes > budget:
            self.entries.popitem(last=False)
        return key

    def drop(self, key: int) -> None:
        """Forget an entry (one a longer entry of the same conversation has replaced).

        Args:
            key: The entry's id.
        """
        self.entries.pop(key, None)

    def shared_length(self, reused: Sequence[tuple[int, int | None]]) -> int:
        """Tokens every row reuses and all their entries agree on (the batch's common opening).

        Args:
            reused: Per row, ``(length, entry id)`` from :meth:`match`.

        Returns:
            The length; 0 when a row reuses nothing.
        """
        if not reused or any(key is None for _, key in reused):
            return 0
        rows = [self.entries[key].tokens for _, key in reused]  # type: ignore[index]
        return common_prefix_length(rows, min(n for n, _ in reused))

    def assemble(self, reused: Sequence[tuple[int, int | None]], config: Any, *, shared: bool = False) -> Any:
        """A batch cache holding each row's reused prefix, right-padded with zeros to the longest.

        Args:
            reused: Per row, ``(length, entry id)`` from :meth:`match`.
            config: The model's config (to build the ``DynamicCache``).
            shared: Keep the opening all rows share once (a
                :class:`~toolgym.policies.shared_prefix.SharedPrefixCache`, for a model switched to shared-prefix
                attention) when it is ``min_tokens`` or longer and there are several rows.

        Returns:
            A cache of ``max(length)`` positions, or ``None`` when nothing is reused.
        """
        import torch
        from transformers import DynamicCache

        width = max((n for n, _ in reused), default=0)
        if width == 0:
            return None
        opening = self.shared_length(reused) if shared and len(reused) > 1 else 0
        if opening < self.min_tokens:
            opening = 0
        sample = next(self.entries[k] for _, k in reused if k is not None)
        layers, heads, _, dim = sample.keys.shape
        shape = (len(reused), heads, width - opening, dim)
        per_layer = []
        for layer in range(layers):
            keys = torch.zeros(shape, dtype=sample.keys.dtype, device=sample.keys.device)
            values = torch.zeros_like(keys)
            for row, (n, key) in enumerate(reused):
                if key is not None and n > opening:
                    entry = self.entries[key]
                    keys[row, :, : n - opening] = entry.keys[layer, :, opening:n]
                    values[row, :, : n - opening] = entry.values[layer, :, opening:n]
            per_layer.append((keys, values))
        if not opening:
            return DynamicCache(per_layer, config=config)
        from toolgym.policies.shared_prefix import SharedPrefixCache, SharedPrefixLayer

        return SharedPrefixCache(
            [
                SharedPrefixLayer(
                    sample.keys[layer : layer + 1, :, :opening],
                    sample.values[layer : layer + 1, :, :opening],
                    keys,
                    values,
                )
                for layer, (keys, values) in enumerate(per_layer)
            ]
        )


def row_states(cache: Any, row: int, positions: Any) -> tuple[Any, Any]:
    """One row's keys and values at some positions of a batch cache, stacked over layers.

    Args:
        cache: A ``DynamicCache`` (or ``SharedPrefixCache``) after a forward pass or ``generate``.
        row: The batch row.
        positions: A 1-D index tensor of positions to keep (the row's real tokens).

    Returns:
        ``(keys, values)``, each ``[layers, kv_heads, len(positions), head_dim]``.
    """
    import torch

    pairs = [
        layer.row_states(row, positions)
        if hasattr(layer, "row_states")
        else (layer.keys[row].index_select(-2, positions), layer.values[row].index_select(-2, positions))
        for layer in cache.layers
    ]
    return torch.stack([k for k, _ in pairs]), torch.stack([v for _, v in pairs])
