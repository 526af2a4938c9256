"""OpenAIPolicy against a scriptable fake OpenAI server on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from toolgym.actions.base import ToolCall
from toolgym.actions.parsers import parse_auto, parse_json
from toolgym.policies.base import Policy, PolicyError, Sampling
from toolgym.policies.openai_backend import OpenAIPolicy, natural_action_format

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order",
            "description": "Look an order up.",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]


@dataclass
class Reply:
    """One scripted response; ``delay`` is spent before answering (cut short when the test ends)."""

    status: int = 200
    body: Any = None  # JSON data, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(content: Any, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": message}]}


def echo(body: dict[str, Any]) -> Reply:
    """Answer with the last user message."""
    last_user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return Reply(body=completion(last_user))


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeOpenAI:
    """Scriptable fake: ``script`` is consumed first, then ``default`` answers; every request is recorded."""

    def __init__(self) -> None:
        self.models: list[str] = ["fake/model-1", "fake/model-2"]
        self.script: deque[Reply | Callable[[dict[str, Any]], Reply]] = deque()
        self.default: Callable[[dict[str, Any]], Reply] = echo
        self.requests: list[Request] = []
        self.barrier: threading.Barrier | None = (
            None  # when set, completions are answered in groups of its size
        )
        self.active = 0
        self.max_active = 0
        self.cond = threading.Condition()
        self.released = threading.Event()
        self.arrived = threading.Event()  # set once any request has come in
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.record(self, None)
                if self.path == "/v1/models":
                    self.send(Reply(body={"object": "list", "data": [{"id": m} for m in fake.models]}))
                else:
                    self.send(Reply(status=404, body={"error": {"message": "not found"}}))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.record(self, body)
                with fake.cond:
                    fake.active += 1
                    fake.max_active = max(fake.max_active, fake.active)
                if fake.barrier is not None:
                    fake.barrier.wait(timeout=5)
                step = fake.script.popleft() if fake.script else fake.default
                reply = step if isinstance(step, Reply) else step(body)
                fake.released.wait(reply.delay)
                # Leave before answering, so a client that got its answer can't be counted twice.
                with fake.cond:
                    fake.active -= 1
                self.send(reply)

            def send(self, reply: Reply) -> None:
                raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for key, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client gave up (timeout tests)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        with self.cond:
            self.requests.append(Request(handler.command, handler.path, dict(handler.headers.items()), body))
        self.arrived.set()

    @property
    def completions(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    for var in ("OPENAI_API_KEY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.released.set()
    fake.server.shutdown()
    fake.server.server_close()


def make(server: FakeOpenAI, **kwargs: Any) -> OpenAIPolicy:
    kwargs.setdefault("model", "fake/model-1")
    kwargs.setdefault("backoff_s", 0.0)
    kwargs.setdefault("timeout_s", 5.0)
    return OpenAIPolicy(server.url, **kwargs)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def test_implements_policy_and_echoes(server: FakeOpenAI) -> None:
    policy = make(server)
    assert isinstance(policy, Policy)
    assert policy.generate([user("hi"), user("there")]) == ["hi", "there"]
    assert policy.generate([]) == []
    assert policy.name == f"openai:{server.url}"
    policy.close()


def test_order_preserved_under_concurrency(server: FakeOpenAI) -> None:
    # Later conversations answer sooner, so completions arrive reversed.
    server.default = lambda body: Reply(
        body=completion(body["messages"][-1]["content"]),
        delay=(20 - int(body["messages"][-1]["content"].split()[1])) * 0.003,
    )
    with make(server, concurrency=4) as policy:
        texts = policy.generate([user(f"msg {i}") for i in range(20)])
    assert texts == [f"msg {i}" for i in range(20)]
    assert server.max_active <= 4


def test_concurrency_is_bounded_and_used(server: FakeOpenAI) -> None:
    # Answering only in groups of three proves three were in flight together.
    server.barrier = threading.Barrier(3)
    with make(server, concurrency=3) as policy:
        assert policy.generate([user(str(i)) for i in range(9)]) == [str(i) for i in range(9)]
    assert server.max_active == 3


def test_request_body(server: FakeOpenAI) -> None:
    # One at a time, so the server sees the bodies in input order.
    policy = make(
        server, concurrency=1, extra_body={"top_k": 5, "chat_template_kwargs": {"enable_thinking": False}}
    )
    sampling = Sampling(temperature=0.3, top_p=0.8, max_new_tokens=17, seed=100)
    tool_turn = [*user("order?"), {"role": "assistant", "content": "x"}, {"role": "tool", "content": "{}"}]
    policy.generate([user("a"), tool_turn, user("c")], tools=[TOOLS, None, []], sampling=sampling)
    bodies = [r.body for r in server.completions]
    assert [b["seed"] for b in bodies] == [100, 101, 102]
    for b in bodies:
        assert b["model"] == "fake/model-1"
        assert (b["temperature"], b["top_p"], b["max_tokens"]) == (0.3, 0.8, 17)
        assert b["top_k"] == 5 and b["chat_template_kwargs"] == {"enable_thinking": False}
    assert bodies[0]["tools"] == TOOLS and bodies[0]["tool_choice"] == "auto"
    assert "tools" not in bodies[1] and "tool_choice" not in bodies[1]
    assert "tools" not in bodies[2]
    assert bodies[1]["messages"] == tool_turn
    headers = server.completions[0].headers
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers


def test_defaults_without_seed_and_send_tools_off(server: FakeOpenAI) -> None:
    make(server, send_tools=False).generate([user("a")], tools=[TOOLS])
    body = server.completions[0].body
    assert "seed" not in body and "tools" not in body and "tool_choice" not in body
    assert body["max_tokens"] == Sampling().max_new_tokens


def test_api_key_header(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    make(server, api_key="sk-given").generate([user("a")])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    make(server).generate([user("b")])
    assert [r.headers.get("Authorization") for r in server.completions] == [
        "Bearer sk-given",
        "Bearer sk-from-env",
    ]


def test_tools_length_mismatch(server: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="2 tool lists for 1"):
        make(server).generate([user("a")], tools=[None, None])


def test_model_discovery(server: FakeOpenAI) -> None:
    policy = OpenAIPolicy(server.url + "/", backoff_s=0.0)
    assert policy.model == "fake/model-1"
    policy.generate([user("a")])
    policy.generate([user("b")])
    assert [r.path for r in server.requests if r.method == "GET"] == ["/v1/models"]
    assert server.completions[0].body["model"] == "fake/model-1"


def test_model_discovery_without_models(server: FakeOpenAI) -> None:
    server.models = []
    with pytest.raises(PolicyError, match="lists no model"):
        OpenAIPolicy(server.url)


def test_tool_calls_rendered_as_json(server: FakeOpenAI) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_order", "arguments": '{"order_id": "#W1"}'},
    }
    other = {"id": "call_2", "type": "function", "function": {"name": "other", "arguments": "{}"}}
    server.script.extend(
        [
            Reply(body=completion(None, [call, other])),
            Reply(body=completion("Let me look that up.", [call])),
            Reply(body=completion("", [{"function": {"name": "ping", "arguments": ""}}])),
        ]
    )
    policy = make(server)
    bare, with_text, no_args = (policy.generate([user(str(i))])[0] for i in range(3))
    assert json.loads(bare) == {"name": "get_order", "arguments": {"order_id": "#W1"}}
    assert "Let me look that up." in with_text
    for text in (bare, with_text):
        for parse in (parse_json, parse_auto):
            assert parse(text) == ToolCall("get_order", {"order_id": "#W1"})
    assert json.loads(no_args) == {"name": "ping", "arguments": {}}


def test_content_parts_joined(server: FakeOpenAI) -> None:
    server.script.append(
        Reply(body=completion([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]))
    )
    assert make(server).generate([user("x")]) == ["ab"]


def test_retries_5xx_then_succeeds(server: FakeOpenAI) -> None:
    server.script.extend(
        [Reply(status=500, body={"error": {"message": "boom"}}), Reply(status=503, body=b"down")]
    )
    assert make(server, retries=2).generate([user("ok")]) == ["ok"]
    assert len(server.completions) == 3


def test_retries_exhausted(server: FakeOpenAI) -> None:
    server.default = lambda body: Reply(status=502, body={"error": {"message": "bad gateway"}})
    with pytest.raises(PolicyError) as info:
        make(server, retries=2).generate([user("x")])
    message = str(info.value)
    assert (
        "3 attempt" in message
        and server.url in message
        and "HTTP 502" in message
        and "bad gateway" in message
    )
    assert len(server.completions) == 3


def test_429_respects_retry_after(server: FakeOpenAI) -> None:
    server.script.append(
        Reply(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "0"})
    )
    start = time.monotonic()
    # A huge backoff would stall the test unless Retry-After: 0 overrides it.
    assert make(server, retries=1, backoff_s=30.0).generate([user("ok")]) == ["ok"]
    assert time.monotonic() - start < 5
    assert len(server.completions) == 2


def test_400_not_retried(server: FakeOpenAI) -> None:
    server.default = lambda body: Reply(
        status=400, body={"object": "error", "message": "This model's maximum context length is 4096 tokens."}
    )
    with pytest.raises(PolicyError, match=r"HTTP 400: This model's maximum context length is 4096"):
        make(server, retries=3).generate([user("x")])
    assert len(server.completions) == 1


def test_error_detail_trimmed(server: FakeOpenAI) -> None:
    server.default = lambda body: Reply(status=422, body={"detail": "x" * 5000})
    with pytest.raises(PolicyError, match="HTTP 422") as info:
        make(server).generate([user("x")])
    assert len(str(info.value)) < 600


def test_timeout_retried_then_fails(server: FakeOpenAI) -> None:
    server.default = lambda body: Reply(body=completion("late"), delay=10)
    start = time.monotonic()
    with pytest.raises(PolicyError, match="2 attempt") as info:
        make(server, timeout_s=0.2, retries=1).generate([user("x")])
    assert "timed out" in str(info.value).lower()
    assert time.monotonic() - start < 3
    assert len(server.completions) == 2


def test_timeout_then_success(server: FakeOpenAI) -> None:
    server.script.append(Reply(body=completion("late"), delay=10))
    assert make(server, timeout_s=0.2, retries=1).generate([user("fast")]) == ["fast"]


def test_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = OpenAIPolicy(f"http://127.0.0.1:{port}/v1", "m", retries=1, backoff_s=0.0)
    with pytest.raises(PolicyError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions failed after 2 attempt"):
        policy.generate([user("x")])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>Bad Gateway</html>", "not JSON"),
        ({"object": "chat.completion", "choices": []}, "no choices"),
        ({"error": "weird"}, "no choices"),
        ({"choices": [{"index": 0}]}, "no message"),
    ],
)
def test_malformed_body(server: FakeOpenAI, body: Any, match: str) -> None:
    server.default = lambda _: Reply(body=body)
    with pytest.raises(PolicyError, match=match):
        make(server, retries=2).generate([user("x")])
    assert len(server.completions) == 1


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3"),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama3"),
        ("meta-llama/LLAMA-3.3-70B-Instruct", "llama3"),
        ("llama3.1:8b", "llama3"),
        ("meta-llama/Llama-3.2-3B-Instruct", "pythonic"),
        ("Qwen/Qwen2.5-7B-Instruct", "hermes"),
        ("NousResearch/Hermes-3-Llama-3.1-8B", "hermes"),
        ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "hermes"),
        ("gpt-4o-mini", "json"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "json"),
    ],
)
def test_natural_action_format(model_id: str, expected: str) -> None:
    assert natural_action_format(model_id) == expected


def test_action_format_guessed_or_given(server: FakeOpenAI) -> None:
    assert make(server, model="Qwen/Qwen2.5-0.5B-Instruct").action_format == "hermes"
    assert make(server, model="Qwen/Qwen2.5-0.5B-Instruct", action_format="json").action_format == "json"


def test_describe_hides_key(server: FakeOpenAI) -> None:
    policy = make(server, api_key="sk-secret", concurrency=2, timeout_s=1.5, name="mine")
    described = policy.describe()
    assert described == {
        "backend": "openai",
        "base_url": server.url,
        "model": "fake/model-1",
        "concurrency": 2,
        "timeout_s": 1.5,
        "action_format": "json",
    }
    assert "sk-secret" not in json.dumps(described)
    assert policy.name == "mine"


def test_close_idempotent(server: FakeOpenAI) -> None:
    policy = make(server)
    policy.generate([user("a")])
    policy.close()
    policy.close()
    with pytest.raises(PolicyError, match="closed"):
        policy.generate([user("b")])


def test_close_during_generate_cancels_queued(server: FakeOpenAI) -> None:
    server.default = lambda body: Reply(body=completion("slow"), delay=0.2)
    policy = make(server, concurrency=1)
    result: list[BaseException] = []

    def run() -> None:
        try:
            policy.generate([user(str(i)) for i in range(5)])
        except PolicyError as exc:
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert server.arrived.wait(timeout=5)
    policy.close()
    worker.join(timeout=5)
    assert len(result) == 1 and "closed" in str(result[0])
    assert len(server.completions) == 1


def test_invalid_settings(server: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        make(server, concurrency=0)
    with pytest.raises(ValueError, match="timeout_s"):
        make(server, timeout_s=0)
