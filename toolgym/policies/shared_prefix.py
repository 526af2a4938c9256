"""Attention over an opening every row of a batch shares, kept once for the batch instead of once per row.

Every conversation of a domain opens with the same few thousand tokens (policy, tool schemas, demonstrations). In a
plain batch cache each row holds its own copy of their keys and values, and every decoding step reads all the copies
and copies the whole cache again to append one token: on a CPU that is most of a step. :class:`SharedPrefixCache`
keeps the shared opening once and per row only the row's own tokens. At a decoding step
:func:`shared_prefix_attention` attends to both parts and merges them through their softmax normalisers, which gives
the attention over the concatenation; the opening's part is one float32 matrix product for all rows and heads of a
key-value group. Prompt tokens (several queries a row) go through SDPA's fused kernel over a copy of the opening
that lasts one call.

The attention function is registered with ``transformers`` under :data:`ATTENTION_NAME`. It acts only inside
:func:`shared_prefix_scope`; anywhere else (training, another cache) it hands the call to the stock SDPA function,
so a model switched to it behaves as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from transformers import AttentionInterface, DynamicCache
from transformers.cache_utils import DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION_NAME = "toolgym_shared_prefix"
"""The name the attention function is registered under."""
MAX_SCORES = 2**24
"""Most attention scores of the opening computed at once (64 MiB in float32); longer prompts go in chunks."""

_ACTIVE: ContextVar[SharedPrefixCache | None] = ContextVar("toolgym_shared_prefix_cache", default=None)


class SharedPrefixLayer(DynamicLayer):  # type: ignore[no-untyped-call]  # transformers leaves it untyped
    """One layer's keys and values: the shared opening once, then each row's own tokens.

    Args:
        prefix_keys: ``[1, kv_heads, P, head_dim]``, the opening every row starts with.
        prefix_values: Same shape.
        keys: ``[batch, kv_heads, S, head_dim]``, each row's tokens after the opening (zeros where a row has fewer).
        values: Same shape.
        room: Tokens the rows' own part can take before its buffers grow.

    The rows' own part is held in float32 buffers with room to grow: a decoding step writes its token in place
    instead of copying the part, and the merged softmax reads it without converting it.
    """

    keys: Any
    values: Any

    def __init__(self, prefix_keys: Any, prefix_values: Any, keys: Any, values: Any, room: int = 64) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.prefix_keys = prefix_keys
        self.prefix_values = prefix_values
        # float32 copies for the merged softmax: the opening's scores decide most of each row's attention.
        self.prefix_keys32 = prefix_keys[0].float()
        self.prefix_values32 = prefix_values[0].float()
        self.length = int(keys.shape[-2])
        shape = (*keys.shape[:2], self.length + room, keys.shape[-1])
        self._keys = torch.zeros(shape, dtype=torch.float32, device=keys.device)
        self._values = torch.zeros_like(self._keys)
        self._keys[:, :, : self.length] = keys
        self._values[:, :, : self.length] = values
        self.keys = self._keys[:, :, : self.length]
        self.values = self._values[:, :, : self.length]
        self.device = keys.device
        self.is_initialized = True

    @property
    def prefix_length(self) -> int:
        """Tokens in the shared opening."""
        return int(self.prefix_keys.shape[-2])

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Append new tokens to the rows' own part.

        Args:
            key_states: ``[batch, kv_heads, new, head_dim]``.
            value_states: Same shape.
            *args: Ignored (cache keyword arguments).
            **kwargs: Ignored.

        Returns:
            The rows' own keys and values, in float32 (the opening is read by :func:`shared_prefix_attention`).
        """
        end = self.length + int(key_states.shape[-2])
        if end > self._keys.shape[-2]:
            shape = (*self._keys.shape[:2], max(2 * self._keys.shape[-2], end), self._keys.shape[-1])
            keys, values = self._keys.new_zeros(shape), self._values.new_zeros(shape)
            keys[:, :, : self.length] = self.keys
            values[:, :, : self.length] = self.values
            self._keys, self._values = keys, values
        self._keys[:, :, self.length : end] = key_states
        self._values[:, :, self.length : end] = value_states
        self.length = end
        self.keys = self._keys[:, :, :end]
        self.values = self._values[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        """Tokens seen, the opening included."""
        return self.prefix_length + int(self.keys.shape[-2])

    def get_mask_sizes(self, query_length: int, *args: Any) -> tuple[int, int]:
        """Length and offset of the attention mask: it spans the opening and the rows' own tokens."""
        return self.get_seq_length() + query_length, 0

    def row_states(self, row: int, positions: Any) -> tuple[Any, Any]:
        """One row's keys and values at some positions counted from the start of the opening.

        Args:
            row: The batch row.
            positions: A sorted 1-D index tensor; the row's real tokens, so it starts with the whole opening.

        Returns:
            ``(keys, values)``, each ``[kv_heads, len(positions), head_dim]``.
        """
        own = positions[positions >= self.prefix_length] - self.prefix_length
        dtype = self.prefix_keys.dtype
        keys = torch.cat([self.prefix_keys[0], self.keys[row].index_select(-2, own).to(dtype)], dim=-2)
        values = torch.cat([self.prefix_values[0], self.values[row].index_select(-2, own).to(dtype)], dim=-2)
        return keys, values


class SharedPrefixCache(DynamicCache):
    """A batch cache whose layers are :class:`SharedPrefixLayer`; use it inside :func:`shared_prefix_scope`.

    Args:
        layers: One layer per model layer.
    """

    def __init__(self, layers: list[SharedPrefixLayer]) -> None:
        super(DynamicCache, self).__init__(layers=list(layers))


@contextmanager
def shared_prefix_scope(cache: Any) -> Iterator[None]:
    """Let :func:`shared_prefix_attention` read the opening of ``cache`` while the block runs.

    Args:
        cache: The cache ``generate`` is given; anything but a :class:`SharedPrefixCache` leaves attention as is.

    Yields:
        Nothing.
    """
    token = _ACTIVE.set(cache if isinstance(cache, SharedPrefixCache) else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def shared_prefix_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention over the active cache's shared opening and each row's own tokens; SDPA outside a scope.

    Args:
        module: The attention module (its ``layer_idx`` picks the cache layer).
        query: ``[batch, heads, q, head_dim]``.
        key: The rows' own keys, ``[batch, kv_heads, S, head_dim]``.
        value: Same shape.
        attention_mask: Boolean (or additive) ``[batch, 1, q, P + S]``, or ``None`` for plain causal attention.
        dropout: Dropout probability (only used by the SDPA fallback).
        scaling: Score scale; ``head_dim ** -0.5`` when ``None``.
        **kwargs: Passed on to the SDPA fallback.

    Returns:
        ``(output [batch, q, heads, head_dim], None)``.
    """
    cache = _ACTIVE.get()
    layer = cache.layers[module.layer_idx] if cache is not None else None
    if isinstance(layer, SharedPrefixLayer):
        if query.shape[2] == 1:
            return merged_attention(layer, query, key, value, attention_mask, scaling), None
        # Prompt tokens: SDPA's fused kernel over the opening copied per row beats the merged product, and the copy
        # lasts one call (decoding steps, which are most of the calls, never make it).
        batch, dtype = key.shape[0], query.dtype
        key = torch.cat([layer.prefix_keys.expand(batch, -1, -1, -1).to(dtype), key.to(dtype)], dim=-2)
        value = torch.cat([layer.prefix_values.expand(batch, -1, -1, -1).to(dtype), value.to(dtype)], dim=-2)
    return sdpa_attention_forward(
        module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
    )


def merged_attention(
    layer: SharedPrefixLayer, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None
) -> Any:
    """Softmax attention over ``[opening; own tokens]``, computed as two parts merged by their normalisers.

    Args:
        layer: Holds the opening.
        query: ``[batch, heads, q, head_dim]``.
        key: ``[batch, kv_heads, S, head_dim]``.
        value: Same shape.
        attention_mask: Boolean or additive ``[batch, 1, q, P + S]``, or ``None`` (causal).
        scaling: Score scale; ``head_dim ** -0.5`` when ``None``.

    Returns:
        ``[batch, q, heads, head_dim]`` in the query's dtype.
    """
    batch, heads, q_len, dim = query.shape
    kv_heads, own = key.shape[1], key.shape[-2]
    group = heads // kv_heads
    scale = dim**-0.5 if scaling is None else scaling
    # Queries of the heads sharing a key-value head are stacked: [batch, kv_heads, group * q, dim], group-major.
    grouped = query.float().reshape(batch, kv_heads, group * q_len, dim)

    # The opening: every row and query of a key-value group in one product with the single copy of its keys.
    rows = grouped.transpose(0, 1).reshape(kv_heads, batch * group * q_len, dim)
    step = max(1, MAX_SCORES // max(1, layer.prefix_length * kv_heads))
    parts_out, parts_max, parts_sum = [], [], []
    for start in range(0, rows.shape[1], step):
        scores = torch.matmul(rows[:, start : start + step], layer.prefix_keys32.transpose(-1, -2)) * scale
        top = scores.amax(-1, keepdim=True)
        weights = torch.exp(scores - top)
        parts_sum.append(weights.sum(-1, keepdim=True))
        parts_out.append(torch.matmul(weights, layer.prefix_values32))
        parts_max.append(top)

    def regroup(parts: list[Any]) -> Any:
        whole = torch.cat(parts, dim=1)
        return whole.reshape(kv_heads, batch, group * q_len, -1).transpose(0, 1)

    open_out, open_max, open_sum = regroup(parts_out), regroup(parts_max), regroup(parts_sum)

    # The rows' own tokens, masked as the model asked (padding, causality).
    scores = torch.matmul(grouped, key.float().transpose(-1, -2)) * scale
    allowed = own_mask(attention_mask, layer.prefix_length, batch, q_len, own, query.device)
    if allowed.dtype == torch.bool:
        scores = scores.masked_fill(~allowed.repeat(1, 1, group, 1), float("-inf"))
    else:
        scores = scores + allowed.float().repeat(1, 1, group, 1)
    own_max = scores.amax(-1, keepdim=True)
    own_max = torch.where(torch.isfinite(own_max), own_max, torch.zeros_like(own_max))
    weights = torch.exp(scores - own_max)
    own_sum = weights.sum(-1, keepdim=True)
    own_out = torch.matmul(weights, value.float())

    top = torch.maximum(open_max, own_max)
    open_scale, own_scale = torch.exp(open_max - top), torch.exp(own_max - top)
    out = (open_out * open_scale + own_out * own_scale) / (open_sum * open_scale + own_sum * own_scale)
    return out.reshape(batch, heads, q_len, dim).transpose(1, 2).contiguous().to(query.dtype)


def own_mask(attention_mask: Any, prefix_length: int, batch: int, q_len: int, own: int, device: Any) -> Any:
    """The mask's columns for the rows' own tokens, ``[batch, 1, q, S]``; causal when the model gave none.

    Args:
        attention_mask: The model's mask over ``P + S`` columns, or ``None``.
        prefix_length: ``P``.
        batch: Rows.
        q_len: Queries per row.
        own: ``S``, the rows' own keys (the queries are the last ``q`` of them).
        device: Where to build a causal mask.

    Returns:
        A boolean or additive mask.
    """
    if attention_mask is not None:
        if attention_mask.shape[-1] != prefix_length + own:
            raise ValueError(
                f"attention mask spans {attention_mask.shape[-1]} keys, expected {prefix_length + own}"
            )
        return attention_mask[..., prefix_length:].expand(batch, 1, q_len, own)
    query_at = torch.arange(own - q_len, own, device=device)[:, None]
    return (torch.arange(own, device=device)[None, :] <= query_at).expand(batch, 1, q_len, own)


def register() -> str:
    """Make :data:`ATTENTION_NAME` known to ``transformers`` (attention and mask functions); safe to repeat.

    Returns:
        The name.
    """
    AttentionInterface.register(ATTENTION_NAME, shared_prefix_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    return ATTENTION_NAME


def enable(model: Any) -> bool:
    """Switch a model that uses SDPA attention to :func:`shared_prefix_attention`.

    Args:
        model: A ``transformers`` model.

    Returns:
        Whether the model now uses it (models on another attention, such as flash attention, are left alone).
    """
    config = getattr(model, "config", None)
    current = getattr(config, "_attn_implementation", None)
    if current == ATTENTION_NAME:
        return True
    if current != "sdpa" or not hasattr(model, "set_attn_implementation"):
        return False
    model.set_attn_implementation(register())
    return bool(model.config._attn_implementation == ATTENTION_NAME)
