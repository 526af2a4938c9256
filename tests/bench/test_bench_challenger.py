"""Benchmark of the scripted challenger: proposals and validated tasks per second (``nox -s bench``)."""

from __future__ import annotations

import statistics
import time

import pytest
from toolgym.tasks import TaskRunner, validate_many
from toolgym.tasks.scripted import ScriptedChallenger

from toolgym.sandbox import SandboxPool

pytestmark = pytest.mark.bench

PROPOSALS = 200
REPEATS = 3
PAPER_YIELD = 0.052  # Llama-3.1-8B challenger on Retail: 5.2 % of proposals survive the paper's filter


def test_scripted_challenger_throughput() -> None:
    world_seeds = range(4)
    ScriptedChallenger("retail", world_seeds=world_seeds).propose(1)  # the worlds are built once per process
    propose_s, validate_s, kept = [], [], 0
    with SandboxPool(2) as pool:
        runner = TaskRunner(pool.warm())
        for repeat in range(REPEATS):
            start = time.perf_counter()
            tasks = list(
                ScriptedChallenger("retail", world_seeds=world_seeds, seed=repeat).propose(PROPOSALS)
            )
            propose_s.append(time.perf_counter() - start)
            report = validate_many(tasks, runner)
            validate_s.append(report.seconds)
            kept = len(report.kept)
    propose = statistics.median(propose_s)
    validate = statistics.median(validate_s)
    print(
        f"\n{'scripted challenger, proposals':<48} median {PROPOSALS / propose:8.0f} tasks/s"
        f"\n{'scripted challenger, validated (2 workers)':<48} median {PROPOSALS / validate:8.1f} tasks/s   "
        f"yield {kept / PROPOSALS:.1%} (paper's LLM challenger {PAPER_YIELD:.1%})"
        f"\n{'scripted challenger, kept tasks end to end':<48} median {kept / (propose + validate):8.1f} tasks/s"
    )
