"""Fixtures for the Code-as-Task tests: a small retail world, a shared runner and a factory of honest tasks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from task_samples import SMALL_WORLD, cancel_task
from toolgym.tasks import CodeAsTask, TaskRunner

from toolgym.domains import get_domain
from toolgym.sandbox import Limits, SandboxPool
from toolgym.world import World


@pytest.fixture(scope="session")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(2) as p:
        yield p


@pytest.fixture(scope="session")
def runner(pool: SandboxPool) -> TaskRunner:
    return TaskRunner(
        pool,
        code_limits=Limits(cpu_s=1.0, wall_s=3.0),
        verifier_limits=Limits(cpu_s=1.0, wall_s=3.0),
    )


@pytest.fixture(scope="session")
def small_world() -> World:
    return get_domain("retail").build_world(SMALL_WORLD)


@pytest.fixture()
def task(small_world: World) -> CodeAsTask:
    return cancel_task(small_world)
