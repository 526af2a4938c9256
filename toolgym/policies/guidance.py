"""Guided decoding: constrain a model's turn to the env's action grammar with llguidance.

A turn may be exactly one of two things: one tool call, written in the env's action format, naming one of the
episode's tools with arguments that satisfy that tool's JSON schema; or a plain message to the user, written so that
the format's parser cannot mistake it for a call. The grammar is a Lark grammar with the call's JSON schema embedded
(``%json{…}``), compiled by llguidance, which computes at each step the set of tokens that keep the text valid; the
others get a logit of minus infinity before sampling. The same grammar goes to vLLM as a structured-output request.

llguidance was chosen over outlines because one grammar covers "a call or a message" (outlines' JSON mode covers
the call alone), it masks a batch with one bitmask tensor, and it is the grammar engine vLLM itself uses, so local
and served guidance follow the same rules.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

GUIDED_FORMATS = ("hermes", "json", "llama3")
"""Action formats with a grammar. ``code`` (free Python) and ``pythonic`` are not guided."""

MAX_MESSAGE_CHARS = 1200
MAX_STRING_CHARS = 80
MAX_ITEMS = 10
"""Bounds on free text and lists, so that a guided turn always finishes within a bounded number of tokens."""


class GuidanceError(ValueError):
    """Guidance was asked for an action format or tool set it cannot express."""


def _bounded(schema: Any) -> Any:
    """A copy of a JSON schema with every string length-bounded and no unknown object keys allowed."""
    if isinstance(schema, Mapping):
        out = {k: _bounded(v) for k, v in schema.items()}
        if out.get("type") == "string" and "enum" not in out:
            out.setdefault("maxLength", MAX_STRING_CHARS)
        if out.get("type") == "array":
            out.setdefault("maxItems", MAX_ITEMS)
        if out.get("type") == "object":
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_bounded(v) for v in schema]
    return copy.deepcopy(schema)


def call_schema(tools: Sequence[Mapping[str, Any]], arguments_key: str = "arguments") -> dict[str, Any]:
    """The JSON schema of one call to any of ``tools``: ``{"name": <tool>, "<arguments_key>": {…}}``.

    Args:
        tools: Tool schemas in the OpenAI ``{"type": "function", "function": {…}}`` form.
        arguments_key: ``"arguments"`` (hermes, json) or ``"parameters"`` (llama3).

    Returns:
        A ``oneOf`` over the tools.

    Raises:
        GuidanceError: If there are no tools.
    """
    if not tools:
        raise GuidanceError("guided decoding needs at least one tool")
    options = []
    for tool in tools:
        function = tool.get("function", tool)
        parameters = _bounded(function.get("parameters") or {"type": "object", "properties": {}})
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": function["name"]}, arguments_key: parameters},
                "required": ["name", arguments_key],
                "additionalProperties": False,
            }
        )
    # Fixed separators — those toolgym's formats render with (json.dumps's defaults), so guided calls look like the
    # demonstrations — and no free whitespace, which would let a weak model pad a call forever.
    layout = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
    return {"oneOf": options, "x-guidance": layout}


def action_grammar(
    action_format: str, tools: Sequence[Mapping[str, Any]], *, require_call: bool = False
) -> str:
    """The Lark grammar of one guided turn: a tool call in ``action_format`` or a message to the user.

    Args:
        action_format: ``"hermes"``, ``"json"`` or ``"llama3"``.
        tools: The episode's tool schemas.
        require_call: Allow only a tool call (OpenAI's ``tool_choice="required"``).

    Returns:
        The grammar, for llguidance (or a vLLM server with the guidance backend).

    Raises:
        GuidanceError: For a format without a grammar, or no tools.
    """
    if action_format not in GUIDED_FORMATS:
        raise GuidanceError(
            f"guided decoding supports the {', '.join(GUIDED_FORMATS)} formats, not {action_format!r}; "
            "choose one with action_format=…"
        )
    key = "parameters" if action_format == "llama3" else "arguments"
    schema = json.dumps(call_schema(tools, key), separators=(",", ":"))
    n = MAX_MESSAGE_CHARS - 1
    if action_format == "hermes":
        # A message may not contain "<", so it can never hold the <tool_call> tag the hermes parser looks for.
        call = f'"<tool_call>\\n" body "\\n</tool_call>"\nbody: %json{schema}'
        message = f"/[^<\\s][^<]{{0,{n}}}/"
    else:
        # The JSON parsers read a call from text starting with "{" or "[" (after a code fence): messages start
        # with neither and hold no fence.
        call = f"body\nbody: %json{schema}"
        message = f"/[^{{\\[\\s`][^`]{{0,{n}}}/"
    start = "call" if require_call else "call | message"
    return f"start: {start}\ncall: {call}\nmessage: {message}\n"


def nucleus(scores: Any, top_p: float, first_k: int = 64) -> Any:
    """Nucleus (top-p) filtering: each row keeps the fewest highest-scoring tokens whose probability reaches ``top_p``.

    The same tokens as sorting the whole vocabulary, which on a CPU costs about 270 ms per step for 50 rows of a
    49k vocabulary; the nucleus is usually small, so the ``first_k`` best tokens are taken first and more only for
    the rows whose nucleus they do not cover.

    Args:
        scores: ``[batch, vocab]`` logits (temperature already applied).
        top_p: Probability mass to keep, in (0, 1).
        first_k: How many tokens to look at first.

    Returns:
        The scores, with every token outside its row's nucleus at minus infinity.
    """
    import torch

    vocab = scores.shape[-1]
    probs = torch.softmax(scores.float(), dim=-1)
    k = min(first_k, vocab)
    while True:
        top, index = torch.topk(probs, k, dim=-1)
        mass = top.cumsum(dim=-1)
        # Past the k-th token the mass before each token is at least mass[:, -1]: beyond top_p, none is kept.
        if k == vocab or bool((mass[:, -1] > top_p).all()):
            break
        k = min(4 * k, vocab)
    keep = mass - top <= top_p  # a token stays while the mass of the better ones has not reached top_p
    kept = torch.where(keep, scores.gather(-1, index), torch.full_like(top, -torch.inf, dtype=scores.dtype))
    return torch.full_like(scores, -torch.inf).scatter(-1, index, kept)


class ActionGuide:
    """A ``transformers`` logits processor that keeps each row of a batch inside its own grammar.

    It also applies the temperature and nucleus (top-p) filtering itself, after masking, so that sampling only ever
    chooses among valid tokens; ``generate`` must then sample with temperature 1 and no other filtering.

    Args:
        tokenizer: An ``llguidance.LLTokenizer`` for the model's tokenizer.
        grammars: One Lark grammar per row (``None``: that row is not constrained).
        vocab_size: Width of the model's logits.
        temperature: Sampling temperature (0: the caller decodes greedily; scores are only masked).
        top_p: Nucleus mass kept among the valid tokens.

    Raises:
        GuidanceError: If a grammar does not compile.
    """

    def __init__(
        self,
        tokenizer: Any,
        grammars: Sequence[str | None],
        vocab_size: int,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
    ) -> None:
        import llguidance
        import llguidance.torch

        self.matchers: list[Any] = []
        compiled: dict[str, Any] = {}  # rows with the same grammar copy one compiled matcher (~70x cheaper)
        for grammar in grammars:
            if grammar is None:
                self.matchers.append(None)
                continue
            if grammar not in compiled:
                matcher = llguidance.LLMatcher(tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar))
                if matcher.is_error():
                    raise GuidanceError(f"the action grammar does not compile: {matcher.get_error()}")
                compiled[grammar] = matcher
                self.matchers.append(matcher)
            else:
                self.matchers.append(compiled[grammar].deep_copy())
        self.vocab_size = vocab_size
        self.temperature = temperature
        self.top_p = top_p
        self.n_tokens = tokenizer.vocab_size
        self.bitmask = llguidance.torch.allocate_token_bitmask(len(grammars), self.n_tokens)
        self.started = False

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Mask the next-token scores of every guided row.

        Args:
            input_ids: The rows so far (their last token is the one just sampled).
            scores: Next-token scores, ``[batch, vocab]``.

        Returns:
            The masked scores.
        """
        import llguidance.torch
        import torch

        if self.started:
            for row, matcher in enumerate(self.matchers):
                if matcher is not None and not matcher.is_stopped():
                    matcher.consume_token(int(input_ids[row, -1]))
        self.started = True
        guided = [row for row, m in enumerate(self.matchers) if m is not None]
        if guided:
            self.bitmask.fill_(-1)  # unguided rows: every token allowed
            for row in guided:
                llguidance.torch.fill_next_token_bitmask(self.matchers[row], self.bitmask, row)
            width = min(self.n_tokens, scores.shape[-1])
            head = scores[:, :width]
            llguidance.torch.apply_token_bitmask_inplace(head, self.bitmask.to(scores.device))
            if scores.shape[-1] > width:  # logits for padding rows of the embedding matrix: never valid text
                scores[guided, width:] = -torch.inf
        if self.temperature <= 0:
            return scores
        scores = scores / self.temperature
        return nucleus(scores, self.top_p) if self.top_p < 1.0 else scores

    def for_row(self, row: int, last_token: int) -> ActionGuide:
        """A guide that carries on one row of this batch where generation stopped.

        Args:
            row: The batch row.
            last_token: The row's last sampled token, which this guide had not yet seen.

        Returns:
            A one-row guide sharing the row's grammar state.
        """
        return self.for_rows([row], [last_token])

    def for_rows(self, rows: Sequence[int], last_tokens: Sequence[int | None]) -> ActionGuide:
        """A guide that carries on some rows of this batch, together, where generation stopped.

        Args:
            rows: The batch rows, in the order of the new batch.
            last_tokens: Each row's last sampled token, which this guide had not yet seen (``None``: it has).

        Returns:
            A guide over those rows sharing their grammar states.
        """
        import llguidance.torch

        matchers = [self.matchers[row] for row in rows]
        for matcher, token in zip(matchers, last_tokens, strict=True):
            if token is not None and matcher is not None and not matcher.is_stopped():
                matcher.consume_token(token)
        follow = copy.copy(self)
        follow.matchers = matchers
        follow.bitmask = llguidance.torch.allocate_token_bitmask(len(rows), self.n_tokens)
        follow.started = False
        return follow
