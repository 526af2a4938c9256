"""The LLM challenger with scripted policies: real exploration, the write turn, provenance, reasons and errors."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from toolgym.tasks import TaskRunner, validate
from toolgym.tasks.challenger import LLMChallenger, prompt_text
from toolgym.tasks.proposal import REASONS, parse_proposal

from toolgym.domains import get_domain
from toolgym.policies import PolicyError, Sampling
from toolgym.policies.base import Conversation, ToolSchemas
from toolgym.policies.hf import TransformersPolicy
from toolgym.testing import tiny_llama

WORLD_SEED = 3
WRITE_MARK = "Exploration is over"


def _call(name: str, **arguments: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def _is_write_turn(conversation: Conversation) -> bool:
    last = conversation[-1]
    return last["role"] == "user" and WRITE_MARK in last["content"]


def _explorer_user() -> tuple[str, str]:
    """A user of the explored world whose first order is pending and paid by card or PayPal: (email, order id)."""
    world = get_domain("retail").build_world({"generator": "retail", "seed": WORLD_SEED})
    for _uid, user in world.table("users"):
        order = world.get("orders", user["orders"][0])
        assert order is not None
        method = order["payment_history"][0]["payment_method_id"]
        if order["status"] == "pending" and not method.startswith("gift_card"):
            return user["email"], order["order_id"]
    raise AssertionError("no suitable user")


def cancel_task_text(email: str, user_id: str, order_id: str) -> str:
    """A correct cancellation task, written only from what the exploration showed."""
    return f"""Here is my task.
<instruction>
My email is {email}. Please cancel my order {order_id}: I no longer need it. Tell me its new status.
</instruction>
<evaluation_function>
```python
def evaluate(state, answer, initial):
    order = state["orders"]["{order_id}"]
    return (
        order["status"] == "cancelled"
        and order["cancel_reason"] == "no longer needed"
        and changed_records(state, initial) == [("orders", "{order_id}")]
        and "cancelled" in (answer or "").lower()
    )
```
</evaluation_function>
<solution>
uid = find_user_id_by_email(email="{email}")
order = cancel_pending_order(order_id="{order_id}", reason="no longer needed")
print("Your order is now", order["status"])
</solution>
<failure_case>
cancel_pending_order(order_id="{order_id}", reason="ordered by mistake")
print("cancelled")
</failure_case>
<failure_case>
print("Your order is cancelled")
</failure_case>
<failure_case>
order = get_order_details(order_id="{order_id}")
print(order["status"], "{user_id}")
</failure_case>
"""


class ExplorerPolicy:
    """Looks a user up, then their details, then their first order, says it is done, and writes a task from what
    the tools returned."""

    name = "scripted:explorer"
    action_format = "hermes"

    def __init__(self, email: str, *, fail_on_call: int | None = None) -> None:
        self.email = email
        self.fail_on_call = fail_on_call
        self.calls: list[tuple[int, Sampling | None, bool]] = []
        self.seen: list[list[Conversation]] = []

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
    ) -> list[str]:
        writing = any(_is_write_turn(c) for c in conversations)
        self.calls.append((len(conversations), sampling, writing))
        self.seen.append([list(c) for c in conversations])
        if self.fail_on_call is not None and len(self.calls) - 1 == self.fail_on_call:
            raise PolicyError("the server is down")
        return [self.reply(c) for c in conversations]

    def reply(self, conversation: Conversation) -> str:
        observations = [m["content"] for m in conversation if m["role"] == "tool"]
        if _is_write_turn(conversation):
            user_id, details = observations[0], json.loads(observations[1])
            return cancel_task_text(self.email, user_id, details["orders"][0])
        turn = sum(m["role"] == "assistant" for m in conversation)
        if turn == 0:
            return _call("find_user_id_by_email", email=self.email)
        if turn == 1:
            return _call("get_user_details", user_id=observations[0])
        if turn == 2:
            return _call("get_order_details", order_id=json.loads(observations[1])["orders"][0])
        return "I have seen enough."

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


class CannedPolicy:
    """Answers every conversation with the same text."""

    name = "scripted:canned"
    action_format = "hermes"

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
        grammars: Sequence[str | None] | None = None,
    ) -> list[str]:
        self.calls += 1
        return [self.text for _ in conversations]

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def explorer_user() -> tuple[str, str]:
    return _explorer_user()


def test_exploration_runs_real_tools_and_the_written_task_passes_the_filter(
    explorer_user: tuple[str, str], runner: TaskRunner
) -> None:
    email, order_id = explorer_user
    policy = ExplorerPolicy(email)
    seen: list[str] = []
    challenger = LLMChallenger(policy, "retail", explore_turns=4, world_seeds=[WORLD_SEED], batch_size=2)
    proposals = challenger.propose(3, seed=7, on_proposal=lambda p: seen.append(p.reason))
    assert [p.reason for p in proposals] == seen == ["ok", "ok", "ok"]
    # Two batches (2 + 1): three tool calls and a message, then the write turn, one call per turn for the batch.
    assert [(n, w) for n, _, w in policy.calls] == [(2, False)] * 4 + [(2, True)] + [(1, False)] * 4 + [
        (1, True)
    ]
    seeds = [s.seed for _, s, _ in policy.calls if s is not None]
    assert len(set(seeds)) == len(seeds) == 10
    assert [s.max_new_tokens for _, s, w in policy.calls if s is not None and w] == [1024, 1024]

    proposal = proposals[0]
    steps = proposal.exploration
    assert [s["action_type"] for s in steps] == ["tool_call", "tool_call", "tool_call", "message"]
    user_id = steps[0]["observation"]
    assert re.fullmatch(r"[a-z]+_[a-z]+_\d+", user_id)  # a real id from the world, not an error
    assert json.loads(steps[1]["observation"])["email"] == email
    assert json.loads(steps[2]["observation"])["order_id"] == order_id
    assert "observation" not in steps[3]  # the message ended exploration; the write request came next
    written = policy.seen[4][0]
    assert [m["role"] for m in written[-3:]] == ["tool", "assistant", "user"]
    assert written[-2]["content"] == "I have seen enough." and WRITE_MARK in written[-1]["content"]

    task = proposal.task
    assert task is not None and dict(task.world) == {"generator": "retail", "seed": WORLD_SEED}
    assert order_id in task.instruction and task.verifier.startswith("def evaluate(")  # the fence is gone
    report = validate(task, runner)
    assert report.passed, report

    provenance = dict(task.provenance)
    for key in (
        "author",
        "challenger",
        "model",
        "sampling",
        "write_sampling",
        "explore_turns",
        "exploration",
    ):
        assert key in provenance
    assert provenance["author"] == "llm" and provenance["challenger"] == "toolgym.tasks.challenger"
    assert provenance["model"] == "scripted:explorer" and provenance["explore_turns"] == 4
    assert provenance["world_seed"] == WORLD_SEED and provenance["write_sampling"]["max_new_tokens"] == 1024
    assert re.fullmatch(r"[0-9a-f]{12}", provenance["prompt_sha"])
    assert datetime.datetime.fromisoformat(provenance["created"]).tzinfo is not None
    compact = provenance["exploration"]
    assert compact[0] == {
        "type": "tool_call",
        "tool": "find_user_id_by_email",
        "arguments": {"email": email},
        "observation": user_id,
    }
    assert compact[3] == {"type": "message", "action": "I have seen enough."}
    assert len(json.loads(json.dumps(compact))[2]["observation"]) <= 400  # observations are cut
    json.dumps(task.to_dict())


def test_the_write_turn_comes_after_the_last_exploration_turn(explorer_user: tuple[str, str]) -> None:
    policy = ExplorerPolicy(explorer_user[0])
    sampling = Sampling(temperature=0.5, max_new_tokens=64)
    challenger = LLMChallenger(
        policy, "retail", explore_turns=2, sampling=sampling, world_seeds=[WORLD_SEED], batch_size=4
    )
    (proposal,) = challenger.propose(1, seed=1)
    assert [w for _, _, w in policy.calls] == [False, False, True]
    assert [s["tool"] for s in proposal.exploration] == ["find_user_id_by_email", "get_user_details"]
    assert proposal.usable
    opening = policy.seen[0][0]
    assert opening[0]["role"] == "system" and "task challenger" in opening[0]["content"]
    assert "at most 2 turns" in opening[0]["content"] and "{{" not in opening[0]["content"]
    assert "Retail customer service policy" in opening[0]["content"]
    explore, write = policy.calls[0][1], policy.calls[2][1]
    assert explore is not None and write is not None
    assert (explore.temperature, explore.max_new_tokens) == (0.5, 64)
    assert (write.temperature, write.max_new_tokens) == (0.5, 1024)
    assert challenger.settings()["explore_turns"] == 2

    canned = CannedPolicy(cancel_task_text(explorer_user[0], "someone_1", "#W0000000"))
    (proposal,) = LLMChallenger(canned, "retail", explore_turns=0, world_seeds=[WORLD_SEED]).propose(1)
    assert canned.calls == 1 and proposal.usable and proposal.exploration == []
    assert proposal.task is not None and "written_early" not in proposal.task.provenance


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("", {"no_output"}),
        ("I think I will look around first.", {"missing_instruction"}),
        (
            "<instruction>\nCancel my order.\n<evaluation_function>\ndef evaluate(state, answer):\n    return ",
            None,
        ),
    ],
)
def test_junk_and_truncated_texts_give_reasons(text: str, reasons: set[str] | None) -> None:
    policy = CannedPolicy(text)
    proposals = LLMChallenger(policy, "retail", explore_turns=3, world_seeds=[0, 1]).propose(3)
    assert len(proposals) == 3 and all(p.task is None for p in proposals)
    if reasons is not None:
        assert {p.reason for p in proposals} == reasons
    else:  # the cut-off task was noticed while exploring and read as written
        assert {p.reason for p in proposals} == {"missing_solution"}
        assert policy.calls == 1
    assert all(p.reason in REASONS and p.detail and p.raw == text for p in proposals)


def test_generation_errors_are_recorded_for_the_episodes_they_hit(explorer_user: tuple[str, str]) -> None:
    # Calls: batch one explores (0-3) and writes (4); batch two fails on its first exploration turn (5).
    policy = ExplorerPolicy(explorer_user[0], fail_on_call=5)
    challenger = LLMChallenger(policy, "retail", explore_turns=4, world_seeds=[WORLD_SEED], batch_size=2)
    proposals = challenger.propose(4)
    assert [p.reason for p in proposals] == ["ok", "ok", "generation_error", "generation_error"]
    assert "the server is down" in proposals[2].detail and proposals[2].exploration == []
    assert len(policy.calls) == 6  # nothing more is asked of episodes whose generation failed

    policy = ExplorerPolicy(explorer_user[0], fail_on_call=4)  # the write call fails
    proposals = LLMChallenger(policy, "retail", explore_turns=4, world_seeds=[WORLD_SEED]).propose(2)
    assert [p.reason for p in proposals] == ["generation_error"] * 2
    assert len(proposals[0].exploration) == 4


class GrammarPolicy(CannedPolicy):
    """Records the grammars each call was given."""

    def __init__(self) -> None:
        super().__init__(_call("list_all_product_types"))
        self.grammars: list[Sequence[str | None] | None] = []

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
        grammars: Sequence[str | None] | None = None,
    ) -> list[str]:
        self.grammars.append(grammars)
        if any(_is_write_turn(c) for c in conversations):
            return ["no task"] * len(conversations)
        return super().generate(conversations, tools, sampling, grammars)


def test_guidance_applies_to_exploration_turns_only() -> None:
    policy = GrammarPolicy()
    challenger = LLMChallenger(policy, "retail", explore_turns=2, guided=True, batch_size=2)
    proposals = challenger.propose(2)
    assert [p.reason for p in proposals] == ["missing_instruction"] * 2
    first, second, write = policy.grammars
    assert first is not None and second is not None and len(first) == 2
    assert all(g is not None and "start: call\n" in g for g in first)  # the first turn must be a tool call
    assert all(g is not None and "start: call | message" in g for g in second)
    assert write is None
    assert proposals[0].exploration[0]["tool"] == "list_all_product_types"
    with pytest.raises(ValueError, match="guided"):
        LLMChallenger(policy, "retail", guided=True, action_format="code")


def test_a_task_written_while_exploring_is_taken_as_written(explorer_user: tuple[str, str]) -> None:
    text = cancel_task_text(explorer_user[0], "someone_1", "#W0000000")
    policy = CannedPolicy(text)
    (proposal,) = LLMChallenger(policy, "retail", explore_turns=3).propose(1)
    assert proposal.usable and policy.calls == 1
    assert proposal.task is not None and proposal.task.provenance["written_early"] is True


def test_bad_settings_are_refused() -> None:
    policy = CannedPolicy("")
    with pytest.raises(KeyError, match="unknown domain"):
        LLMChallenger(policy, "nowhere")
    with pytest.raises(ValueError, match="explore_turns"):
        LLMChallenger(policy, "retail", explore_turns=-1)
    with pytest.raises(ValueError, match="world"):
        LLMChallenger(policy, "retail", world_seeds=[])
    with pytest.raises(ValueError, match="n must"):
        LLMChallenger(policy, "retail").propose(-1)
    assert LLMChallenger(policy, "retail").propose(0) == []


def test_the_shipped_worked_example_is_a_task_the_filter_keeps(runner: TaskRunner) -> None:
    example = prompt_text("retail.md")
    assert example is not None and prompt_text("no-such-domain.md") is None
    challenger = LLMChallenger(CannedPolicy(""), "retail")
    assert "{{" not in challenger.write_text and "at least 3" in challenger.write_text
    proposal = parse_proposal(example, domain="retail", world={"generator": "retail", "seed": 5})
    assert proposal.usable and proposal.task is not None
    report = validate(proposal.task, runner)
    assert report.passed, report


def test_a_tiny_random_model_writes_junk_and_the_run_still_reports() -> None:
    model, tokenizer = tiny_llama(seed=1)
    policy = TransformersPolicy(model, tokenizer)
    sampling = Sampling(temperature=1.0, max_new_tokens=8)
    runs = [
        LLMChallenger(
            policy,
            "retail",
            explore_turns=1,
            sampling=sampling,
            write_sampling=dataclasses.replace(sampling, max_new_tokens=24),
            world_seeds=[0],
            max_observation_chars=200,
        ).propose(2, seed=4)
        for _ in range(2)
    ]
    assert [p.raw for p in runs[0]] == [p.raw for p in runs[1]]  # seeded: the same texts again
    for proposal in runs[0]:
        assert proposal.reason in REASONS and proposal.detail
        assert proposal.reason != "generation_error"


def test_code_actions_explore_through_the_sandbox(explorer_user: tuple[str, str]) -> None:
    email = explorer_user[0]
    policy = CannedPolicy(f"```python\nprint(find_user_id_by_email(email='{email}'))\n```")
    policy.action_format = "code"
    (proposal,) = LLMChallenger(policy, "retail", explore_turns=1, world_seeds=[WORLD_SEED]).propose(1)
    (step,) = proposal.exploration
    assert step["action_type"] == "code" and step["tool_calls"][0]["name"] == "find_user_id_by_email"
    assert re.fullmatch(r"[a-z]+_[a-z]+_\d+\s*", step["observation"])
    assert proposal.reason == "missing_instruction"  # the canned code is no task


def test_proposals_generate_only_once_iterated() -> None:
    policy = CannedPolicy("Nothing to report.")
    challenger = LLMChallenger(policy, "retail", explore_turns=1, world_seeds=[WORLD_SEED], batch_size=2)
    lazy = challenger.proposals(2, seed=3)
    assert policy.calls == 0  # the pipeline's clock starts before the first proposal is asked for
    made = list(lazy)
    assert policy.calls > 0 and [p.reason for p in made] == [p.reason for p in challenger.propose(2, seed=3)]
