"""A static HTML viewer for trajectories: one self-contained page, no JavaScript, no network.

Everything a model or a tool wrote is hostile text, so every piece of it goes through :func:`html.escape` before it
reaches the page; attributes are quoted and escaped too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from toolgym.metrics import EvalResults
from toolgym.trajectories import Trajectory, read_trajectories

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 70rem; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
#summary dl { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: 0 0 1rem; }
#summary dt { color: #555; } #summary dd { margin: 0; font-weight: 600; }
details.episode { border: 1px solid #ccc; border-left-width: 6px; border-radius: 4px; margin: .4rem 0; padding: .3rem .6rem; }
details.episode.success { border-left-color: #1a7f37; } details.episode.failure { border-left-color: #cf222e; }
summary { cursor: pointer; } summary > * { margin-right: .6rem; }
.badge { display: inline-block; min-width: 3.2rem; text-align: center; border-radius: 3px; padding: 0 .4rem; color: #fff; font-weight: 600; }
.badge.success { background: #1a7f37; } .badge.failure { background: #cf222e; }
.task-id { font-family: ui-monospace, monospace; } .meta, .sample, .turn-count { color: #666; }
pre { background: #f6f8fa; padding: .4rem .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: .3rem 0; }
.text { white-space: pre-wrap; margin: .3rem 0; }
ol.turns > li { margin: .6rem 0; padding-left: .3rem; }
.kind { font-size: .8rem; text-transform: uppercase; color: #666; }
.kind.malformed { color: #cf222e; font-weight: 600; }
ul.tool-calls { margin: .2rem 0; padding-left: 1.2rem; } .tool-name { font-weight: 600; }
div.error { background: #ffebe9; border-left: 4px solid #cf222e; padding: .2rem .5rem; margin: .3rem 0; white-space: pre-wrap; }
pre.observation { background: #eef6ee; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _text(text: str) -> str:
    """Prose in ``div.text``, fenced code in ``pre.code``."""
    parts: list[str] = []
    pos = 0
    for match in _FENCE.finditer(text):
        before = text[pos : match.start()].strip()
        if before:
            parts.append(f'<div class="text">{_e(before)}</div>')
        parts.append(f'<pre class="code">{_e(match.group(1).rstrip())}</pre>')
        pos = match.end()
    rest = text[pos:].strip()
    if rest or not parts:
        parts.append(f'<div class="text">{_e(rest)}</div>')
    return "".join(parts)


def _tool_calls(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tool calls of a turn: the code action's list, or the single call."""
    calls = info.get("tool_calls")
    if isinstance(calls, list):
        return [call for call in calls if isinstance(call, Mapping)]
    if info.get("tool") is not None:
        # A single call's error belongs to the turn, and is shown once there.
        return [{"name": info["tool"], "arguments": info.get("arguments", {})}]
    return []


def _call(call: Mapping[str, Any]) -> str:
    error = call.get("error")
    status = " error" if error is not None else ""
    html = (
        f'<li class="tool-call{status}"><code class="tool-name">{_e(call.get("name"))}</code> '
        f'<code class="arguments">{_e(_json(call.get("arguments", {})))}</code>'
    )
    if error is not None:
        html += f'<div class="error">{_e(error)}</div>'
    return html + "</li>"


def _turn(episode: int, number: int, action: str, observation: str, info: Mapping[str, Any]) -> str:
    kind = str(info.get("action_type") or "other")
    safe_kind = re.sub(r"[^a-z_]", "", kind.lower()) or "other"
    lines = [
        f'<li class="turn {safe_kind}" id="episode-{episode}-turn-{number}">',
        f'<div class="kind {safe_kind}">{_e(kind)}</div>',
        f'<div class="action">{_text(action)}</div>',
    ]
    calls = _tool_calls(info)
    if calls:
        lines.append('<ul class="tool-calls">' + "".join(_call(c) for c in calls) + "</ul>")
    if info.get("error") is not None:
        lines.append(f'<div class="error">{_e(info["error"])}</div>')
    lines += [f'<pre class="observation">{_e(observation)}</pre>', "</li>"]
    return "\n".join(lines)


def _instruction(trajectory: Trajectory) -> str:
    for message in trajectory.messages:
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def _episode(index: int, trajectory: Trajectory) -> str:
    outcome = "success" if trajectory.success else "failure"
    turns = len(trajectory.steps)
    classes = f"episode {outcome}" + (" errored" if trajectory.error is not None else "")
    task = "(free play)" if trajectory.task_id is None else trajectory.task_id
    ended = "truncated" if trajectory.truncated else "terminated" if trajectory.terminated else "unfinished"
    model = trajectory.policy.get("model") or trajectory.policy.get("backend") or ""
    meta = [trajectory.env_id, f"seed {trajectory.seed}", trajectory.action_format, ended, str(model)]
    lines = [
        f'<details class="{classes}" id="episode-{index}" data-task="{_e(task)}" data-sample="{trajectory.sample}">',
        f'<summary><span class="badge {outcome}">{trajectory.reward:.2f}</span>'
        f'<span class="task-id">{_e(task)}</span><span class="sample">sample {trajectory.sample}</span>'
        f'<span class="turn-count">{turns} turn{"" if turns == 1 else "s"}</span></summary>',
        f'<p class="meta">{_e(" · ".join(part for part in meta if part))}</p>',
    ]
    if trajectory.error is not None:
        lines.append(f'<div class="error episode-error">{_e(trajectory.error)}</div>')
    instruction = _instruction(trajectory)
    lines.append(
        f'<section class="instruction"><h3>Instruction</h3>'
        f"<pre>{_e(instruction) if instruction else '(none recorded)'}</pre></section>"
    )
    lines.append('<ol class="turns">')
    lines += [
        _turn(index, number, step.action, step.observation, step.info)
        for number, step in enumerate(trajectory.steps, start=1)
    ]
    lines += ["</ol>", "</details>"]
    return "\n".join(lines)


def _summary(results: EvalResults) -> str:
    pass1 = f"{results.pass_at(1):.3f}" if results.tasks else "–"
    rows = [
        ("Episodes", "episodes", str(results.episodes)),
        ("Tasks", "tasks", str(len(results.tasks))),
        ("pass@1", "pass1", pass1),
        ("Mean reward", "reward", f"{results.mean_reward:.3f}"),
        ("Mean turns", "turns", f"{results.mean_turns:.2f}"),
        ("Valid actions", "valid", f"{results.valid_action_rate:.1%}"),
    ]
    items = "".join(f'<dt>{label}</dt><dd id="summary-{key}">{_e(value)}</dd>' for label, key, value in rows)
    return f"<dl>{items}</dl>"


def render_html(trajectories: Iterable[Trajectory], *, title: str) -> str:
    """Render trajectories as one self-contained HTML page.

    The page shows a summary (episodes, pass@1, mean reward) and one collapsible ``<details class="episode …">``
    per episode, ``success`` or ``failure``, with its instruction and every turn: the action, its tool calls,
    errors and the observation.

    Args:
        trajectories: The episodes, shown in the given order.
        title: The page title.

    Returns:
        The HTML document.
    """
    episodes = list(trajectories)
    results = EvalResults.from_trajectories(episodes)
    body = "\n".join(_episode(i, t) for i, t in enumerate(episodes))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_e(title)}</title>\n'
        # No script or remote resource may run, even if escaping ever failed somewhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header id="summary">\n<h1>{_e(title)}</h1>\n{_summary(results)}\n</header>\n'
        f'<main id="episodes">\n{body}\n</main>\n</body>\n</html>\n'
    )


def write_html(jsonl_path: str | Path, html_path: str | Path | None = None) -> Path:
    """Render a JSONL file of trajectories as an HTML page.

    Args:
        jsonl_path: The trajectories.
        html_path: Where to write the page (default: next to the JSONL file, with an ``.html`` suffix).

    Returns:
        The page's path.

    Raises:
        TrajectoryFileError: For a line that is not a trajectory.
    """
    source = Path(jsonl_path)
    target = source.with_suffix(".html") if html_path is None else Path(html_path)
    page = render_html(read_trajectories(source), title=source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
