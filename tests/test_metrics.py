"""pass@k, pass^k and run summaries."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolgym.metrics import EvalResults, TaskResult, default_ks, pass_at_k, pass_hat_k, summarize
from toolgym.trajectories import Step, Trajectory, read_trajectories, write_trajectories


@st.composite
def nck(draw: st.DrawFn, max_n: int = 60) -> tuple[int, int, int]:
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


def brute_force(n: int, c: int, k: int) -> tuple[Fraction, Fraction]:
    """pass@k and pass^k by enumerating every k-subset of n samples, the first c of them successes."""
    subsets = list(itertools.combinations(range(n), k))
    any_win = sum(any(i < c for i in s) for s in subsets)
    all_win = sum(all(i < c for i in s) for s in subsets)
    return Fraction(any_win, len(subsets)), Fraction(all_win, len(subsets))


def test_exact_values() -> None:
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 0, 3) == 0.0
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 1, 2) == 0.0
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - math.comb(7, 2) / math.comb(10, 2))


def test_large_n_stays_finite_and_accurate() -> None:
    # math.comb is exact on integers; the product form must agree without building 10**300-sized numbers.
    n, c, k = 2000, 700, 50
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), rel=1e-9)
    assert pass_hat_k(n, c, k) == pytest.approx(math.comb(c, k) / math.comb(n, k), rel=1e-9)


@pytest.mark.parametrize(
    ("n", "c", "k", "match"),
    [
        (4, 1, 5, "k=5 cannot exceed"),
        (4, 5, 1, "c=5 successes cannot exceed"),
        (-1, 0, 1, "non-negative"),
        (4, -1, 1, "non-negative"),
        (4, 1, -1, "non-negative"),
        (4, 1, 0, "at least 1"),
        (0, 0, 1, "cannot exceed"),
    ],
)
def test_invalid_arguments(n: int, c: int, k: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError, match=match):
        pass_hat_k(n, c, k)


@given(nck())
def test_bounds_and_order(args: tuple[int, int, int]) -> None:
    n, c, k = args
    at, hat = pass_at_k(n, c, k), pass_hat_k(n, c, k)
    assert 0.0 <= hat <= 1.0 and 0.0 <= at <= 1.0
    assert hat <= at + 1e-12


@given(nck())
def test_monotone_in_k_and_c(args: tuple[int, int, int]) -> None:
    n, c, k = args
    if k < n:
        assert pass_at_k(n, c, k + 1) >= pass_at_k(n, c, k)
        assert pass_hat_k(n, c, k + 1) <= pass_hat_k(n, c, k)
    if c < n:
        assert pass_at_k(n, c + 1, k) >= pass_at_k(n, c, k)
        assert pass_hat_k(n, c + 1, k) >= pass_hat_k(n, c, k)


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_k_one_is_the_success_rate(args: tuple[int, int]) -> None:
    n, c = args
    assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-12)
    assert pass_hat_k(n, c, 1) == pytest.approx(c / n, abs=1e-12)
    assert pass_at_k(n, c, n) == (1.0 if c else 0.0)


@given(nck(max_n=10))
def test_agrees_with_brute_force(args: tuple[int, int, int]) -> None:
    n, c, k = args
    at, hat = brute_force(n, c, k)
    assert pass_at_k(n, c, k) == pytest.approx(float(at), abs=1e-12)
    assert pass_hat_k(n, c, k) == pytest.approx(float(hat), abs=1e-12)


def test_default_ks() -> None:
    assert default_ks(0) == []
    assert default_ks(4) == [1, 2, 3, 4]
    assert default_ks(16) == [1, 2, 4, 8, 16]
    assert default_ks(20) == [1, 2, 4, 8, 16, 20]


# ---- summaries of trajectories ---------------------------------------------------------------------------------


def episode(
    task: str | None,
    sample: int,
    reward: float,
    actions: list[str],
    *,
    terminated: bool = False,
    truncated: bool = False,
    error: str | None = None,
) -> Trajectory:
    steps = [Step(action=a, observation="ok", info={"action_type": a}) for a in actions]
    return Trajectory(
        env_id="toolgym/Test-v0",
        task_id=task,
        sample=sample,
        seed=sample,
        steps=steps,
        reward=reward,
        terminated=terminated,
        truncated=truncated,
        error=error,
    )


def run() -> list[Trajectory]:
    return [
        episode("a", 0, 1.0, ["code", "message"], terminated=True),
        episode("a", 1, 0.0, ["malformed", "malformed"], truncated=True),
        episode("a", 2, 1.0, ["tool_call", "tool_call", "message"], terminated=True),
        episode("b", 0, 0.0, ["message"], terminated=True),
        episode("b", 1, 0.5, ["tool_call", "message"], terminated=True),
        episode("b", 2, 0.0, [], error="model server unreachable"),
    ]


def test_summary_counts() -> None:
    results = summarize(run())
    assert [(t.task_id, t.n, t.successes) for t in results.tasks] == [("a", 3, 2), ("b", 3, 0)]
    assert results.tasks[0].mean_reward == pytest.approx(2 / 3)
    assert results.tasks[1].mean_reward == pytest.approx(0.5 / 3)
    assert (results.episodes, results.terminated, results.truncated, results.errored) == (6, 4, 1, 1)
    assert results.mean_reward == pytest.approx(2.5 / 6)
    assert results.steps == 10 and results.mean_turns == pytest.approx(10 / 6)
    assert results.action_counts == {"tool_call": 3, "code": 1, "message": 4, "malformed": 2, "other": 0}
    assert results.valid_action_rate == pytest.approx(0.8)
    assert results.action_shares["malformed"] == pytest.approx(0.2)
    assert sum(results.action_shares.values()) == pytest.approx(1.0)


def test_pass_metrics_average_over_tasks() -> None:
    results = summarize(run())
    assert results.pass_at(1) == pytest.approx((2 / 3 + 0) / 2)
    assert results.pass_at(2) == pytest.approx((1.0 + 0) / 2)
    assert results.pass_hat(2) == pytest.approx((1 / 3 + 0) / 2)
    assert results.pass_hat(3) == 0.0
    assert TaskResult("x", 4, 2, 0.5).pass_hat(2) == pytest.approx(1 / 6)


def test_too_few_samples_names_the_tasks() -> None:
    results = summarize([*run(), episode("c", 0, 1.0, ["message"]), episode(None, 0, 0.0, ["message"])])
    assert results.tasks[-1].task_id is None  # free play sorts last
    assert results.pass_at(1) == pytest.approx((2 / 3 + 0 + 1 + 0) / 4)
    with pytest.raises(ValueError, match=r"c \(1\), \(free play\) \(1\)") as info:
        results.pass_at(2)
    assert "a (" not in str(info.value)
    with pytest.raises(ValueError, match="too few"):
        results.pass_hat(3)


def test_empty_run() -> None:
    results = EvalResults.from_trajectories([])
    assert (results.episodes, results.steps) == (0, 0)
    assert results.mean_reward == results.mean_turns == results.valid_action_rate == 0.0
    with pytest.raises(ValueError, match="no episodes"):
        results.pass_at(1)
    assert results.to_dict()["pass_at"] == {}
    assert "episodes" in results.table()


def test_unknown_action_type_counts_as_other() -> None:
    t = episode("a", 0, 0.0, [])
    t.steps = [Step("x", "Error: the episode is over", info={"error": "over"}), Step("y", "", info={})]
    results = summarize([t])
    assert results.action_counts["other"] == 2 and results.error_steps == 1
    assert results.valid_action_rate == 0.0


def test_to_dict_is_json_and_table_is_plain_text() -> None:
    results = summarize(run())
    data = results.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["pass_at"].keys() == {"1", "2", "3"}
    assert data["pass_hat"]["2"] == pytest.approx(1 / 6)
    first = data["per_task"][0]
    assert first == {"task_id": "a", "n": 3, "successes": 2, "mean_reward": pytest.approx(2 / 3)}
    assert results.to_dict(ks=[1])["pass_at"] == {"1": pytest.approx(1 / 3)}
    table = results.table(per_task=True)
    assert "6 (2 tasks × 3 samples)" in table
    assert "valid actions" in table and "80.0%" in table
    assert any(line.split() == ["2", "0.500", "0.167"] for line in table.splitlines())
    assert any(line.split() == ["a", "3", "2", "0.667"] for line in table.splitlines())
    assert "\x1b" not in table  # no terminal colours
    with pytest.raises(ValueError, match="k=4"):
        results.table(ks=[4])


def test_summary_from_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    write_trajectories(path, run())
    results = summarize(read_trajectories(path))
    assert results == summarize(run())
