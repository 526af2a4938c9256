"""The static HTML trajectory viewer: structure, escaping, and a real browser when one is installed."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from toolgym.trajectories import Step, Trajectory, write_trajectories
from toolgym.view import render_html, write_html

SCRIPT = '<script>document.title = "pwned"</script>'


def trajectories() -> list[Trajectory]:
    code = '```python\norder = get_order_details(order_id="#W1")\nprint(order)\n```'
    success = Trajectory(
        env_id="toolgym/Retail-v0",
        task_id="retail/cancel-1",
        sample=0,
        seed=1,
        messages=[{"role": "system", "content": "policy"}, {"role": "user", "content": "Cancel order #W1."}],
        steps=[
            Step(
                action=f"Let me look.\n{code}",
                observation='{"status": "pending"}',
                info={
                    "action_type": "code",
                    "tool_calls": [
                        {"name": "get_order_details", "arguments": {"order_id": "#W1"}, "error": None},
                        {
                            "name": "cancel_pending_order",
                            "arguments": {"order_id": "#W9"},
                            "error": "no such order",
                        },
                    ],
                },
            ),
            Step(
                action='{"name": "cancel_pending_order", "arguments": {"order_id": "#W1"}}',
                observation="cancelled",
                info={
                    "action_type": "tool_call",
                    "tool": "cancel_pending_order",
                    "arguments": {"order_id": "#W1"},
                },
            ),
            Step(action="Done, it is cancelled.", observation="###STOP###", info={"action_type": "message"}),
        ],
        reward=1.0,
        terminated=True,
        action_format="auto",
        policy={"backend": "hf", "model": "tiny-model"},
    )
    failure = Trajectory(
        env_id="toolgym/Retail-v0",
        task_id='retail/x" onmouseover="alert(1)',
        sample=1,
        seed=2,
        messages=[{"role": "user", "content": f"Refund me {SCRIPT}"}],
        steps=[
            Step(
                action=f"I will hack {SCRIPT}",
                observation=f"Error: cannot parse {SCRIPT}</pre>{SCRIPT}",
                info={"action_type": "malformed", "error": f"no tool call in {SCRIPT}"},
            ),
        ],
        reward=0.0,
        truncated=True,
        error="policy crashed",
    )
    chat = Trajectory(
        env_id="toolgym/Retail-v0",
        task_id=None,
        sample=0,
        seed=None,
        messages=[{"role": "user", "content": "Hi"}],
        steps=[Step(action="Hello! How can I help?", observation="bye", info={"action_type": "message"})],
        reward=0.0,
        terminated=True,
    )
    return [success, failure, chat]


class Page(HTMLParser):
    """Every start tag with its attributes, the text inside elements of interest, and the title."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.title += data

    def having(self, tag: str, *classes: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and set(classes) <= set(a.get("class", "").split())]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_page_structure() -> None:
    html = render_html(trajectories(), title="run <1>")
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    assert page.title == "run <1>"
    episodes = page.having("details", "episode")
    assert [e["id"] for e in episodes] == ["episode-0", "episode-1", "episode-2"]
    assert [e["class"] for e in episodes] == ["episode success", "episode failure errored", "episode failure"]
    assert episodes[1]["data-task"] == 'retail/x" onmouseover="alert(1)'  # stayed inside the attribute
    assert all("onmouseover" not in attrs for _, attrs in page.tags)
    assert len(page.having("span", "badge", "success")) == 1
    assert len(page.having("span", "badge", "failure")) == 2
    ids = {a.get("id") for _, a in page.tags}
    assert {
        "summary-episodes",
        "summary-pass1",
        "summary-reward",
        "episode-0-turn-3",
        "episode-1-turn-1",
    } <= ids
    text = "".join(page.text)
    assert "Cancel order #W1." in text and "(free play)" in text and "policy crashed" in text


def test_summary_values() -> None:
    html = render_html(trajectories(), title="t")
    assert '<dd id="summary-episodes">3</dd>' in html
    assert '<dd id="summary-pass1">0.333</dd>' in html
    assert '<dd id="summary-reward">0.333</dd>' in html
    assert '<dd id="summary-pass1">–</dd>' in render_html([], title="empty")


def test_turns_show_code_tool_calls_errors_and_observations() -> None:
    page = parse(render_html(trajectories(), title="t"))
    turns = page.having("li", "turn")
    assert [t["class"] for t in turns] == [
        "turn code",
        "turn tool_call",
        "turn message",
        "turn malformed",
        "turn message",
    ]
    assert len(page.having("pre", "code")) == 1
    calls = page.having("li", "tool-call")
    assert len(calls) == 3  # two from the code action, one single call
    assert len(page.having("li", "tool-call", "error")) == 1
    assert len(page.having("pre", "observation")) == 5
    # the failed call in code, the malformed turn, and the episode error
    assert len(page.having("div", "error")) == 3
    text = "".join(page.text)
    assert 'order = get_order_details(order_id="#W1")' in text
    assert '{"order_id": "#W9"}' in text and "no such order" in text


def test_hostile_text_is_escaped() -> None:
    html = render_html(trajectories(), title=SCRIPT)
    page = parse(html)
    assert not [t for t, _ in page.tags if t == "script"]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    text = "".join(page.text)
    # action, observation (twice), error, instruction, title (twice): all arrive as text
    assert text.count(SCRIPT) >= 6
    assert page.title == SCRIPT


def test_no_javascript_or_network() -> None:
    html = render_html(trajectories(), title="t")
    page = parse(html)
    assert not [a for _, a in page.tags if "src" in a or "href" in a]
    assert not [a for _, a in page.tags if any(k.startswith("on") for k in a)]
    assert "http://" not in html and "https://" not in html


def test_write_html_defaults_next_to_the_jsonl(tmp_path: Path) -> None:
    source = tmp_path / "runs" / "eval.jsonl"
    write_trajectories(source, trajectories())
    target = write_html(source)
    assert target == tmp_path / "runs" / "eval.html"
    page = parse(target.read_text(encoding="utf-8"))
    assert page.title == "eval.jsonl" and len(page.having("details", "episode")) == 3
    other = write_html(source, tmp_path / "out" / "page.html")
    assert other.read_text(encoding="utf-8") == target.read_text(encoding="utf-8")


def chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def dump_dom(browser: str, page: Path, profile: Path) -> Page:
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return parse(result.stdout)


def test_chromium_renders_without_running_injected_scripts(tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); the browser check needs it")
    # A control page proves this browser runs scripts at all, so a clean title below means something.
    control = tmp_path / "control.html"
    control.write_text(
        f"<!DOCTYPE html><html><head><title>control</title></head><body>{SCRIPT}</body></html>"
    )
    assert dump_dom(browser, control, tmp_path / "profile").title == "pwned"

    target = tmp_path / "view.html"
    target.write_text(render_html(trajectories(), title="toolgym run"), encoding="utf-8")
    dom = dump_dom(browser, target, tmp_path / "profile")
    assert dom.title == "toolgym run"
    assert not [t for t, _ in dom.tags if t == "script"]
    assert len(dom.having("details", "episode")) == 3
    assert len(dom.having("details", "episode", "success")) == 1
    assert len(dom.having("li", "turn")) == 5
    assert SCRIPT in "".join(dom.text)
