"""Tiny random Llama models built offline, for fast tests of anything that needs a real model and tokenizer.

The tokenizer is a byte-level BPE trained on a few sentences (so any text encodes), speaks ChatML and carries TRL's
Qwen2.5 chat template — the same template the embedded SmolLM2 gets — so tool schemas, ``<tool_call>`` blocks and
``tool`` messages render exactly as with the real model (whose tokenizer, too, spells ``<tool_call>`` out of plain
pieces rather than as one special token). The model is a 2-layer ``LlamaForCausalLM`` with random
weights: it produces arbitrary text, quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_CORPUS = (
    "You are a helpful assistant. system user assistant tool",
    '{"name": "get_order_details", "arguments": {"order_id": "#W0000000"}} {"type": "function"}',
    "print(find_user_id_by_email(email='someone@example.com')) ```python def evaluate(state, answer):",
    "The order is pending, delivered, cancelled or processed. Error: order not found. 0123456789",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"()[]{}<>#$%&*+-/=@_|~",
)


def tiny_tokenizer(vocab_size: int = 512) -> Any:
    """A small byte-level BPE tokenizer with ChatML special tokens and the Qwen2.5 chat template.

    Args:
        vocab_size: Target vocabulary size.

    Returns:
        A ``PreTrainedTokenizerFast`` (left padding).
    """
    import trl
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte has a token: no text is out of vocabulary
    )
    bpe.train_from_iterator(list(_CORPUS) * 10, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )
    template = Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja"
    tokenizer.chat_template = template.read_text(encoding="utf-8")
    return tokenizer


def tiny_llama(seed: int = 0, *, hidden: int = 64, layers: int = 2) -> tuple[Any, Any]:
    """A random 2-layer Llama and its tokenizer, built in well under a second.

    Args:
        seed: Seeds the weights.
        hidden: Hidden size.
        layers: Decoder layers.

    Returns:
        ``(model, tokenizer)``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def stand_in_trainer(
    model: Any, tokenizer: Any, max_completion_length: int, generation_config: Any = None
) -> Any:
    """The few attributes of a TRL ``GRPOTrainer`` that a ``rollout_func`` reads, without building a trainer.

    Args:
        model: The model that generates (any object with ``generate``, ``config`` and ``generation_config``).
        tokenizer: Its tokenizer.
        max_completion_length: The trainer's token budget per completion.
        generation_config: The trainer's sampling settings (``None``: ``generate``'s defaults).

    Returns:
        An object with ``processing_class``, ``model``, ``accelerator.unwrap_model``, ``max_completion_length``,
        ``generation_config``, ``chat_template`` and ``chat_template_kwargs``.
    """
    from types import SimpleNamespace

    return SimpleNamespace(
        processing_class=tokenizer,
        model=model,
        accelerator=SimpleNamespace(unwrap_model=lambda m: m),
        max_completion_length=max_completion_length,
        generation_config=generation_config,
        chat_template=None,
        chat_template_kwargs={},
    )
