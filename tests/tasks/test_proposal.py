"""Reading a challenger's tagged text: round trips, untidy model output, and reasons instead of exceptions."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from toolgym.tasks.proposal import (
    REASONS,
    Proposal,
    Sections,
    clean_code,
    find_tags,
    parse_proposal,
    parse_sections,
    render_sections,
)

WORLD = {"generator": "retail", "seed": 0}
VERIFIER = "def evaluate(state, answer):\n    return 'done' in (answer or '')\n"
SOLUTION = "print('done')\n"
FAILURES = ("print('no')\n", "print('nope')\n", "x = 1\nprint(x)\n")

_TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + " .,;:!?'\"()[]{}#$%&*+-/=@_|~<>", max_size=60
)


def _no_tag(text: str) -> bool:
    return not find_tags(text) and "```" not in text and "~~~" not in text


# Code as a tidy challenger writes it: a first line at column 0, no blank lines at either end, no tabs.
_LINE = _TEXT.map(str.rstrip)
_CODE = (
    st.lists(_LINE, min_size=1, max_size=6)
    .map("\n".join)
    .filter(lambda c: _no_tag(c) and c.strip() != "" and not c[0].isspace())
)
_INSTRUCTION = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r"),
    min_size=1,
    max_size=80,
).filter(lambda t: _no_tag(t) and t.strip() != "")


def _sections(instruction: str, verifier: str, solution: str, failures: list[str]) -> Sections:
    return Sections(instruction, verifier, solution, tuple(failures))


def _tidy(code: str) -> str:
    return code.rstrip() + "\n"


@settings(max_examples=150, deadline=None)
@given(_INSTRUCTION, _CODE, _CODE, st.lists(_CODE, min_size=0, max_size=5, unique_by=str.rstrip))
def test_rendered_sections_parse_back(
    instruction: str, verifier: str, solution: str, failures: list[str]
) -> None:
    text = render_sections(_sections(instruction, verifier, solution, failures))
    parsed = parse_sections(text)
    assert parsed.instruction == instruction.strip()
    assert parsed.evaluation_function == _tidy(verifier)
    assert parsed.solution == _tidy(solution)
    assert parsed.failure_cases == tuple(_tidy(f) for f in failures)


@settings(max_examples=100, deadline=None)
@given(
    _INSTRUCTION, _CODE, _CODE, st.lists(_CODE, min_size=3, max_size=4, unique_by=str.rstrip), _TEXT, _TEXT
)
def test_untidy_output_reads_the_same(
    instruction: str, verifier: str, solution: str, failures: list[str], before: str, after: str
) -> None:
    assume(_no_tag(before) and _no_tag(after))
    fenced = [f"Here it is:\n```python\n{code}\n```\n" for code in (verifier, solution, *failures)]
    # No closing tags, odd tag spellings, prose around the sections, CRLF line endings.
    text = (
        f"{before}\n<INSTRUCTION >\n{instruction}\n< Evaluation Function>\n{fenced[0]}<solution>{fenced[1]}"
        + "".join(f"<failure_case_{i + 1}>\n{code}" for i, code in enumerate(fenced[2:]))
        + f"</failure_case_{len(failures)}>\n{after}"
    ).replace("\n", "\r\n")
    parsed = parse_sections(text)
    assert parsed.instruction == instruction.strip()
    assert parsed.evaluation_function == _tidy(verifier)
    assert parsed.solution == _tidy(solution)
    assert parsed.failure_cases == tuple(_tidy(f) for f in failures)
    proposal = parse_proposal(text, domain="retail", world=WORLD, provenance={"author": "test"})
    assert proposal.usable and proposal.task is not None
    assert proposal.task.verifier == _tidy(verifier) and proposal.raw == text


_FRAGMENTS = st.sampled_from(
    [
        "<instruction>",
        "</instruction>",
        "<evaluation_function>",
        "</evaluation_function>",
        "<solution>",
        "<failure_case>",
        "<failure_case_2>",
        "</failure_cases>",
        "```python\n",
        "```",
        "\n",
        "\r\n",
        "\t",
        "def evaluate(state, answer):\n    return True\n",
        "print(1)",
        "<",
        ">",
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8))).map("".join)))
def test_any_text_gives_a_reason_never_an_exception(text: str) -> None:
    proposal = parse_proposal(text, domain="retail", world=WORLD, provenance={})
    assert proposal.reason in REASONS
    assert proposal.usable == (proposal.reason == "ok")
    assert (proposal.task is None) != proposal.usable
    json.dumps(proposal.to_dict())


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=2))
def test_too_few_failure_cases_are_reported(k: int) -> None:
    text = render_sections(Sections("Do it.", VERIFIER, SOLUTION, FAILURES[:k]))
    proposal = parse_proposal(text, domain="retail", world=WORLD)
    assert proposal.reason == "too_few_failure_cases" and proposal.task is None
    assert str(k) in proposal.detail


def _task_text(**changes: str | tuple[str, ...] | None) -> str:
    fields: dict[str, object] = {
        "instruction": "Say done.",
        "evaluation_function": VERIFIER,
        "solution": SOLUTION,
        "failure_cases": FAILURES,
    }
    fields.update(changes)
    return render_sections(Sections(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no_output"),
        ("  \n\t ", "no_output"),
        ("I could not think of a task.", "missing_instruction"),
        (_task_text(instruction=None), "missing_instruction"),
        (_task_text(instruction="   "), "missing_instruction"),
        (_task_text(evaluation_function=None), "missing_evaluation_function"),
        (_task_text(solution=None), "missing_solution"),
        (_task_text(solution="```python\n```"), "missing_solution"),
        (_task_text(failure_cases=(FAILURES[0],) * 3), "too_few_failure_cases"),
        (_task_text(), "ok"),
    ],
)
def test_reasons(text: str, reason: str) -> None:
    proposal = parse_proposal(text, domain="retail", world=WORLD, provenance={"author": "test"})
    assert proposal.reason == reason
    assert proposal.raw == text
    if reason != "ok":
        assert proposal.detail and not proposal.usable


def test_a_task_the_schema_refuses_is_not_a_task() -> None:
    proposal = parse_proposal(_task_text(), domain="", world=WORLD)
    assert proposal.reason == "not_a_task" and "domain" in proposal.detail


def test_the_task_carries_domain_world_provenance_and_exploration() -> None:
    steps = [{"turn": 1, "action": "x", "action_type": "message"}]
    proposal = parse_proposal(
        _task_text(), domain="retail", world=WORLD, provenance={"author": "llm"}, exploration=steps
    )
    task = proposal.task
    assert task is not None and proposal.usable
    assert (task.domain, dict(task.world), dict(task.provenance)) == ("retail", WORLD, {"author": "llm"})
    assert (task.instruction, task.verifier, task.solution) == ("Say done.", VERIFIER, SOLUTION)
    assert task.failure_cases == FAILURES
    assert proposal.exploration == steps
    assert Proposal(task).usable and not Proposal(None, "no_output").usable


def test_a_verifier_with_another_name_is_passed_on_as_written() -> None:
    verifier = "def check(state, answer):\n    return True\n"
    proposal = parse_proposal(_task_text(evaluation_function=verifier), domain="retail", world=WORLD)
    assert proposal.usable and proposal.task is not None and proposal.task.verifier == verifier


def test_tabs_indentation_and_fences_are_tidied() -> None:
    assert clean_code("\tdef evaluate(state, answer):\n\t\treturn True\n") == (
        "def evaluate(state, answer):\n    return True\n"
    )
    assert clean_code("x = 'a\tb'\n") == "x = 'a\tb'\n"  # a tab inside a line is data
    assert clean_code("```py\nprint(1)\n") == "print(1)\n"  # cut off before the closing fence
    assert clean_code("print(1)\n```\n") == "print(1)\n"  # the opening fence came before the tag
    assert clean_code("~~~\na = 1\n~~~\ntext between\n```python\nb = 2\n```") == "a = 1\nb = 2\n"
    assert clean_code("```\n```") == ""


def test_repeated_sections_keep_the_last_and_failure_cases_once_each() -> None:
    text = (
        "The format is <instruction>, <evaluation_function>, <solution> and <failure_case>.\n"
        + _task_text(instruction="First draft.")
        + "Let me fix that.\n"
        + _task_text(instruction="Second draft.")
    )
    sections = parse_sections(text)
    assert sections.instruction == "Second draft."
    assert sections.evaluation_function == VERIFIER and sections.failure_cases == FAILURES
    assert parse_sections("<failure_cases><failure_case>a</failure_case>b</failure_cases>").failure_cases == (
        "a\n",
    )


def test_attributes_and_numbered_or_spelled_tags() -> None:
    text = (
        "<Instruction>Hi</Instruction><verification_function>v = 1</verification_function>"
        "<example_solution>s = 1</example_solution>"
        '<failure_case id="1">a = 1</failure_case><Failure-Case #2>b = 1<FAILURE CASE 3>c = 1'
    )
    sections = parse_sections(text)
    assert sections == Sections("Hi", "v = 1\n", "s = 1\n", ("a = 1\n", "b = 1\n", "c = 1\n"))
    assert parse_sections("no tags here").empty and parse_sections(None).empty  # type: ignore[arg-type]


def test_long_runs_of_spaces_or_brackets_are_read_quickly() -> None:
    # A backtracking tag pattern would take minutes on these; the two-step search reads them at once.
    for text in ("<failure_case" + " " * 100_000 + "x", "<" * 100_000, "<solution>" + " \t" * 50_000):
        assert parse_sections(text).failure_cases == ()
