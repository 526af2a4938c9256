"""The plots of a self-improvement run, drawn from its ``results.json`` alone (so they can be remade any time).

``pass_at_1.png`` shows the held-out test pass@1 of every round, round 0 included; ``training.png`` the training
loss of every optimiser step across the rounds, and the rollouts' reward per round. matplotlib comes with the
``train`` extra and is imported only here, with the Agg backend (no display needed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PASS_PLOT = "pass_at_1.png"
TRAINING_PLOT = "training.png"
_MISSING = "the self-improvement plots need matplotlib: pip install 'toolgym[train]'"


def require_matplotlib() -> None:
    """Fail now, with what to install, if matplotlib is missing.

    Raises:
        ModuleNotFoundError: If it is.
    """
    try:
        import matplotlib  # noqa: F401 - only its presence is checked
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(_MISSING) from exc


def _pyplot() -> Any:
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display, in CI and over ssh
    import matplotlib.pyplot as plt

    return plt


def _plot_pass(plt: Any, rounds: list[dict[str, Any]], path: Path) -> None:
    points = [(r["round"], r["eval"]["pass_at_1"], r["eval"]["mean_reward"]) for r in rounds if r.get("eval")]
    fig, ax = plt.subplots(figsize=(6, 4))
    if points:
        xs, passes, rewards = zip(*points, strict=True)
        ax.plot(xs, passes, marker="o", label="pass@1")
        ax.plot(xs, rewards, marker="s", linestyle="--", alpha=0.6, label="mean reward")
        for x, y in zip(xs, passes, strict=True):
            ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center")
        ax.set_xticks(list(xs))
        ax.set_ylim(0, max(0.1, *passes, *rewards) * 1.15)
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("round (0 = the starting model)")
    ax.set_ylabel("held-out test pass@1")
    ax.set_title("Self-improvement: test pass@1 per round")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_training(plt: Any, rounds: list[dict[str, Any]], path: Path) -> None:
    fig, (loss_ax, reward_ax) = plt.subplots(1, 2, figsize=(11, 4))
    step = 0
    for record in rounds:
        losses = (record.get("training") or {}).get("losses") or []
        if not losses:
            continue
        if step:  # a rule where a round's training begins on the model the last one saved
            loss_ax.axvline(step + 0.5, color="grey", linewidth=0.5, linestyle=":")
        xs = list(range(step + 1, step + len(losses) + 1))
        loss_ax.plot(xs, losses, marker=".", label=f"round {record['round']}")
        step += len(losses)
    if step:
        loss_ax.xaxis.get_major_locator().set_params(integer=True)
        loss_ax.legend()
    else:
        loss_ax.text(0.5, 0.5, "no training step yet", ha="center", va="center", transform=loss_ax.transAxes)
    loss_ax.set_xlabel("optimiser step (all rounds)")
    loss_ax.set_ylabel("training loss")
    loss_ax.set_title("Rejection fine-tuning loss")
    loss_ax.grid(alpha=0.3)

    played = [r for r in rounds if r.get("rollouts")]
    if played:
        xs = [r["round"] for r in played]
        rewards = [r["rollouts"]["mean_reward"] for r in played]
        width = 0.4
        bars = reward_ax.bar(
            [x - width / 2 for x in xs], rewards, width, color="tab:green", alpha=0.7, label="before training"
        )
        labels = [f"{r['rollouts']['successes']}/{r['rollouts']['episodes']}" for r in played]
        reward_ax.bar_label(bars, labels=labels)
        replayed = [r for r in played if r.get("replay")]
        after = [r["replay"]["mean_reward"] for r in replayed]
        if replayed:
            bars = reward_ax.bar(
                [r["round"] + width / 2 for r in replayed],
                after,
                width,
                color="tab:blue",
                alpha=0.7,
                label="after training",
            )
            reward_ax.bar_label(
                bars, labels=[f"{r['replay']['successes']}/{r['replay']['episodes']}" for r in replayed]
            )
        reward_ax.legend(loc="best")
        reward_ax.set_xticks(xs)
        reward_ax.set_ylim(0, max(0.1, *rewards, *after) * 1.2)
    else:
        reward_ax.text(0.5, 0.5, "no rollouts yet", ha="center", va="center", transform=reward_ax.transAxes)
    reward_ax.set_xlabel("round")
    reward_ax.set_ylabel("mean reward (successes/episodes)")
    reward_ax.set_title("Train rollouts on the round's tasks")
    reward_ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_results(results_path: str | Path) -> list[Path]:
    """Draw (or redraw) a run's plots next to its ``results.json``.

    Args:
        results_path: The run's ``results.json``.

    Returns:
        ``[pass_at_1.png, training.png]``.

    Raises:
        ModuleNotFoundError: If matplotlib is missing.
        OSError: If the results cannot be read.
        ValueError: If they are not valid JSON.
    """
    source = Path(results_path)
    rounds = json.loads(source.read_text(encoding="utf-8")).get("rounds", [])
    plt = _pyplot()
    paths = [source.with_name(PASS_PLOT), source.with_name(TRAINING_PLOT)]
    _plot_pass(plt, rounds, paths[0])
    _plot_training(plt, rounds, paths[1])
    return paths
