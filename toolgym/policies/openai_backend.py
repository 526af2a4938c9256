"""A :class:`~toolgym.policies.base.Policy` backed by any OpenAI-compatible chat-completions server.

Works with vLLM, SGLang and hosted APIs. Requests go over the standard library's HTTP client, one per
conversation, on a thread pool bounded by ``concurrency``; transient failures (connection errors, timeouts,
HTTP 429 and 5xx) are retried with exponential backoff.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

from toolgym.policies.base import Conversation, PolicyError, Sampling, ToolSchemas

_MAX_WAIT_S = 30.0
"""Upper bound on one wait between attempts, whatever the backoff or a server's ``Retry-After`` asks for."""
_MAX_DETAIL_CHARS = 300


def natural_action_format(model_id: str) -> str:
    """Guess the action format a model writes naturally from its id (case-insensitive).

    Args:
        model_id: A model id or path, e.g. ``"Qwen/Qwen2.5-7B-Instruct"``.

    Returns:
        ``"hermes"`` for Qwen, Hermes and SmolLM models, ``"llama3"`` for Llama 3.1/3.3, ``"pythonic"`` for
        Llama 3.2 and ``"json"`` otherwise.
    """
    m = model_id.lower()
    # Hermes first: Nous' Hermes fine-tunes of Llama 3.1 are named "Hermes-3-Llama-3.1-…" but write <tool_call>.
    if any(key in m for key in ("qwen", "hermes", "smollm")):
        return "hermes"
    if any(key in m for key in ("llama-3.1", "llama-3.3", "llama3.1", "llama3.3")):
        return "llama3"
    if any(key in m for key in ("llama-3.2", "llama3.2")):
        return "pythonic"
    return "json"


class OpenAIPolicy:
    """A policy that asks an OpenAI-compatible ``/chat/completions`` endpoint for each completion.

    Attributes:
        name: ``"openai:<base_url>"`` unless given.
        action_format: The format the model writes naturally (see :func:`natural_action_format`).
        base_url: The API root, e.g. ``"http://localhost:8000/v1"``, without a trailing slash.
        model: The model id sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        action_format: str | None = None,
        name: str | None = None,
        send_tools: bool = True,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """Connect to a server (asking it for its model when ``model`` is ``None``).

        Args:
            base_url: The API root, e.g. ``"http://localhost:8000/v1"``.
            model: The model id; ``None`` uses the first one ``GET {base_url}/models`` lists.
            api_key: Sent as a bearer token; defaults to ``$OPENAI_API_KEY``, and no header when neither is set.
            concurrency: Most requests in flight at once.
            timeout_s: Socket timeout of each attempt, in seconds.
            retries: Further attempts after a transient failure (so ``retries + 1`` attempts in all).
            backoff_s: Wait before the first retry; doubles with each further retry.
            action_format: The model's natural action format; guessed from the model id when ``None``.
            name: The policy's name; ``"openai:<base_url>"`` when ``None``.
            send_tools: Whether to send each conversation's tool schemas (with ``tool_choice: "auto"``).
            extra_body: Fields merged into every request body last (e.g. vLLM's guided-decoding options).

        Raises:
            ValueError: If a numeric setting is out of range.
            PolicyError: If ``model`` is ``None`` and the server lists no model (or cannot be reached).
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be positive, got {concurrency}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if retries < 0 or backoff_s < 0:
            raise ValueError(f"retries and backoff_s must be >= 0, got {retries} and {backoff_s}")
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.send_tools = send_tools
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self._api_key = api_key if api_key is not None else (os.environ.get("OPENAI_API_KEY") or None)
        # One opener per policy, so proxy settings are read once rather than on every request.
        self._opener = urllib.request.build_opener()
        self.model = model if model is not None else self._discover_model()
        self.action_format = action_format or natural_action_format(self.model)
        self.name = name or f"openai:{base_url}"
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="toolgym-openai")
        self._closed = False
        self._lock = threading.Lock()

    def generate(
        self,
        conversations: Sequence[Conversation],
        tools: Sequence[ToolSchemas | None] | None = None,
        sampling: Sampling | None = None,
        grammars: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Complete each conversation with one chat-completions request, up to ``concurrency`` at a time.

        Args:
            conversations: The transcripts, each ending where the assistant speaks next.
            tools: For each conversation, the tools it may call (``None``: no tools).
            sampling: Sampling settings; :class:`Sampling`'s defaults when ``None``. A seed ``s`` becomes
                ``s + i`` for conversation ``i``, so a batch of identical prompts still gives varied samples.
            grammars: Per conversation, a Lark grammar the answer must follow, sent as vLLM's
                ``structured_outputs={"grammar": …}`` (vLLM 0.12 or later; the guidance backend reads ``%json``);
                the tools are then not sent, since the grammar already says how calls look.

        Returns:
            One text per conversation, in order. A structured tool call is rendered as JSON text.

        Raises:
            ValueError: If ``tools`` and ``conversations`` differ in length.
            PolicyError: If the policy is closed, or a request fails for good or returns a malformed body.
        """
        if tools is not None and len(tools) != len(conversations):
            raise ValueError(f"got {len(tools)} tool lists for {len(conversations)} conversations")
        sampling = sampling or Sampling()
        bodies = [
            self._body(
                conv,
                tools[i] if tools is not None else None,
                sampling,
                i,
                grammars[i] if grammars is not None else None,
            )
            for i, conv in enumerate(conversations)
        ]
        with self._lock:
            if self._closed:
                raise PolicyError(f"{self.name} is closed")
            futures: list[Future[str]] = [self._pool.submit(self._complete, body) for body in bodies]
        try:
            return [future.result() for future in futures]
        except CancelledError:
            raise PolicyError(f"{self.name} was closed while generating") from None
        except BaseException:
            # Don't spend the server's time on a batch that has already failed.
            for future in futures:
                future.cancel()
            raise

    def describe(self) -> dict[str, Any]:
        """The backend and its settings, never the API key.

        Returns:
            JSON data.
        """
        return {
            "backend": "openai",
            "base_url": self.base_url,
            "model": self.model,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "action_format": self.action_format,
        }

    def close(self) -> None:
        """Shut the thread pool down, dropping queued requests; calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OpenAIPolicy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _body(
        self,
        conv: Conversation,
        tools: ToolSchemas | None,
        sampling: Sampling,
        i: int,
        grammar: str | None = None,
    ) -> dict[str, Any]:
        """The request body for conversation ``i``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(message) for message in conv],
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_new_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed + i
        if grammar is not None:
            body["structured_outputs"] = {"grammar": grammar}
        elif tools and self.send_tools:
            body["tools"] = [dict(tool) for tool in tools]
            body["tool_choice"] = "auto"
        body.update(self.extra_body)
        return body

    def _complete(self, body: dict[str, Any]) -> str:
        return _completion_text(self._request("POST", "/chat/completions", body))

    def _discover_model(self) -> str:
        data = self._request("GET", "/models")
        entries = data.get("data") if isinstance(data, dict) else None
        ids: list[str] = [
            e["id"] for e in entries or [] if isinstance(e, dict) and isinstance(e.get("id"), str)
        ]
        if not ids:
            raise PolicyError(f"{self.base_url}/models lists no model; pass model= explicitly")
        return ids[0]

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send one request, retrying transient failures, and decode the JSON response.

        Raises:
            PolicyError: On a non-retryable HTTP error, after the last failed attempt, or on a non-JSON body.
        """
        url = self.base_url + path
        headers = {"Accept": "application/json", "User-Agent": "toolgym"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = None if body is None else json.dumps(body).encode()
        attempts = self.retries + 1
        last_error = ""
        for attempt in range(attempts):
            wait = self.backoff_s * 2**attempt
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method=method)
                with self._opener.open(request, timeout=self.timeout_s) as response:
                    raw: bytes = response.read()
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                if exc.code != 429 and exc.code < 500:
                    raise PolicyError(f"{method} {url} failed with HTTP {exc.code}: {detail}") from None
                last_error = f"HTTP {exc.code}: {detail}"
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                wait = retry_after if retry_after is not None else wait
            except (OSError, http.client.HTTPException) as exc:
                # URLError, timeouts, refused and reset connections, truncated responses: all worth retrying.
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                last_error = (
                    f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
                )
            else:
                return _decode(raw, url)
            if attempt + 1 < attempts:
                time.sleep(min(wait, _MAX_WAIT_S))
        raise PolicyError(f"{method} {url} failed after {attempts} attempt(s); last error: {last_error}")


def _decode(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise PolicyError(
            f"{url} returned a body that is not JSON: {_trim(raw.decode(errors='replace'))!r}"
        ) from None


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL_CHARS else text[: _MAX_DETAIL_CHARS - 1] + "…"


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's error message: OpenAI's ``error.message``, vLLM's ``message``, FastAPI's ``detail``, or the raw body."""
    try:
        raw = exc.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        raw = ""
    try:
        data = json.loads(raw)
    except ValueError:
        return _trim(raw) or str(exc.reason)
    if isinstance(data, dict):
        error = data.get("error")
        for candidate in (
            error.get("message") if isinstance(error, dict) else error,
            data.get("message"),
            data.get("detail"),
        ):
            if isinstance(candidate, str) and candidate:
                return _trim(candidate)
    return _trim(raw)


def _retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds; ``None`` when absent or an HTTP date (then backoff applies)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _completion_text(data: Any) -> str:
    """The text of a chat-completions response's first choice, a structured tool call rendered as JSON."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        raise PolicyError(f"the server's response has no choices: {_trim(json.dumps(data))}")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise PolicyError(f"the server's first choice has no message: {_trim(json.dumps(choices[0]))}")
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": …}, …]
        content = "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    text = content.strip() if isinstance(content, str) else ""
    calls = message.get("tool_calls")
    if not isinstance(calls, list) or not calls or not isinstance(calls[0], dict):
        return content if isinstance(content, str) else ""
    function: dict[str, Any] = (
        calls[0]["function"] if isinstance(calls[0].get("function"), dict) else calls[0]
    )
    arguments: Any = function.get("arguments", {})
    if isinstance(arguments, str):
        # A string that is not JSON stays a string, so the action parser tells the agent what is broken.
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments) if arguments.strip() else {}
    rendered = json.dumps({"name": function.get("name"), "arguments": arguments})
    # The call goes first: toolgym's json/auto parsers only read a call at the start of the text.
    return f"{rendered}\n\n{text}" if text else rendered
