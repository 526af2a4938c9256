"""The environment base class: an episode is a conversation in which ``step`` runs the agent's tool calls."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from toolgym.actions import (
    ActionFormat,
    CodeBlock,
    Malformed,
    Message,
    Parsed,
    ToolCall,
    call_from_object,
    get_format,
)
from toolgym.code_actions import CodeRun, run_code_action
from toolgym.sandbox import Limits, SandboxPool, acquire_shared_pool, release_shared_pool
from toolgym.tools import Toolset
from toolgym.users import User, make_user
from toolgym.world import World

CODE_OUTPUT_CHARS = 8_000
"""Printed characters of one code action that reach the agent; the rest is cut with a notice."""

MAX_TEXT = 1_000_000
"""Upper bound on action and observation length declared in the Text spaces."""

TEXT_SPACE_CHARSET = string.printable


class ToolEnv(gym.Env[str, str]):
    """A multi-turn tool-use episode over a domain's world.

    Subclasses provide the world of each episode (:meth:`episode_world`), the opening text and, for tasks, the
    reward (:meth:`compute_reward`). The base class parses actions, runs tools, talks to the user, counts turns
    and never raises on model output.

    Args:
        toolset: The domain's tools.
        policy: The domain policy text shown to the agent in the system prompt.
        action_format: Name of a registered action format (``"auto"``, ``"json"``, ``"hermes"``, …).
        max_turns: Agent turns before the episode is truncated.
        user: A registered user kind (``"direct"``, ``"scripted"``, …) or a user object.
        user_kwargs: Arguments for the user factory.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the last turn as text).
        sandbox: The pool that runs code actions; by default the process-wide shared pool, taken at the first
            code action and given back by :meth:`close`.
        code_limits: Limits of one code action (CPU, memory, printed output, tool calls).
        max_observation_chars: Cut tool results longer than this, with a notice (for models with a small context);
            ``None`` keeps them whole.

    Raises:
        ValueError: For an unknown action format or user kind, or a non-positive ``max_turns``.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012 - Gymnasium's API

    def __init__(
        self,
        toolset: Toolset,
        policy: str,
        *,
        action_format: str = "auto",
        max_turns: int = 30,
        user: str | User = "direct",
        user_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        sandbox: SandboxPool | None = None,
        code_limits: Limits | None = None,
        max_observation_chars: int | None = None,
    ) -> None:
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        try:
            self.format: ActionFormat = get_format(action_format)
        except KeyError as exc:
            raise ValueError(str(exc)) from None
        self.toolset = toolset
        self.policy = policy
        self.max_turns = max_turns
        self.user = make_user(user, **dict(user_kwargs or {}))
        self.render_mode = render_mode
        self.observation_space = spaces.Text(MAX_TEXT, min_length=0, charset=TEXT_SPACE_CHARSET)
        self.action_space = spaces.Text(MAX_TEXT, min_length=0, charset=TEXT_SPACE_CHARSET)
        self.system_prompt = f"{policy.rstrip()}\n\n## How to act\n\n{self.format.instructions}\n"
        self._world: World | None = None
        self.turn = 0
        self.done = False
        self.answer: str | None = None
        self.task_id: str | None = None
        self.transcript: list[dict[str, Any]] = []
        self._sandbox = sandbox
        self._shared_sandbox = False
        self.code_limits = code_limits or Limits(output_chars=CODE_OUTPUT_CHARS)
        if max_observation_chars is not None and max_observation_chars < 1:
            raise ValueError(f"max_observation_chars must be positive, got {max_observation_chars!r}")
        self.max_observation_chars = max_observation_chars

    # ---- hooks for subclasses -------------------------------------------------------------------------------

    def episode_world(self, seed: int | None, options: Mapping[str, Any]) -> World:
        """Return the world an episode starts from (a fresh, independent copy).

        Args:
            seed: The seed given to ``reset``, if any.
            options: The ``options`` given to ``reset``.

        Returns:
            The episode's world.
        """
        raise NotImplementedError

    def opening(self, options: Mapping[str, Any]) -> tuple[str, str | None]:
        """Return the text the user starts from and the task id, if the episode has a task.

        Args:
            options: The ``options`` given to ``reset``.

        Returns:
            ``(instruction, task_id)``.
        """
        raise NotImplementedError

    def compute_reward(self, answer: str | None) -> float:
        """Score the finished episode; free play scores 0.

        Args:
            answer: The agent's final message, if it sent one.

        Returns:
            The reward, 1.0 or 0.0 for tasks.
        """
        return 0.0

    # ---- gymnasium API --------------------------------------------------------------------------------------

    @property
    def world(self) -> World:
        """The current episode's world (available after ``reset``)."""
        if self._world is None:
            raise RuntimeError("call reset() before using the world")
        return self._world

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode.

        Args:
            seed: Seeds the episode's random generator (and, for generated worlds, which world).
            options: Domain- or task-specific options, e.g. ``{"task_id": …}``.

        Returns:
            The user's first message and an info dict with ``tools``, ``system_prompt`` and ``task_id``.
        """
        super().reset(seed=seed)
        opts: Mapping[str, Any] = options or {}
        self._world = self.episode_world(seed, opts)
        instruction, task_id = self.opening(opts)
        self.task_id = task_id
        self.turn = 0
        self.done = False
        self.answer = None
        obs = self.user.reset(instruction, self.np_random)
        self.transcript = [{"role": "user", "content": obs}]
        info = {
            "tools": list(self.toolset.schemas),
            "system_prompt": self.system_prompt,
            "task_id": task_id,
            "action_format": self.format.name,
        }
        return obs, info

    def parse(self, action: str | Mapping[str, Any]) -> Parsed:
        """Turn an action into a tool call, a message or a malformed action; never raises.

        Args:
            action: Raw model text, or a structured call ``{"name": …, "arguments": {…}}``.

        Returns:
            The parsed action.
        """
        if isinstance(action, str):
            return self.format.parse(action)
        if isinstance(action, Mapping):
            if "name" in action or "function" in action:
                return call_from_object(dict(action))
            content = action.get("content")
            if isinstance(content, str):
                return Message(content)
            return Malformed('a structured action needs "name" and "arguments", or a "content" string')
        return Malformed(f"an action must be text or a mapping, got {type(action).__name__}")

    def step(self, action: str | Mapping[str, Any]) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Run one agent turn.

        Args:
            action: Raw model text (parsed with the env's action format) or a structured call.

        Returns:
            ``(observation, reward, terminated, truncated, info)``. ``info`` says what the action was
            (``action_type``), the tool called, and ``error`` when the action failed.
        """
        if self._world is None:
            return "Error: call reset() before step()", 0.0, False, True, {"error": "reset not called"}
        if self.done:
            msg = "the episode is over; call reset() to start a new one"
            return f"Error: {msg}", 0.0, True, False, {"error": msg, "turn": self.turn}
        self.turn += 1
        parsed = self.parse(action)
        info: dict[str, Any] = {"turn": self.turn}
        terminated = False
        if isinstance(parsed, ToolCall):
            result = self.toolset.call(self._world, parsed.name, parsed.arguments)
            obs = result.observation
            cap = self.max_observation_chars
            if cap is not None and len(obs) > cap:
                obs = f"{obs[:cap]}\n[output cut: {len(obs) - cap} more characters]"
            info.update(action_type="tool_call", tool=parsed.name, arguments=parsed.arguments)
            if result.error is not None:
                info["error"] = result.error
            if parsed.ignored:
                obs += f"\n\nNote: only the first tool call was run; {parsed.ignored} more were ignored."
            terminated = result.terminates
            self.transcript.append(
                {"role": "assistant", "tool_call": {"name": parsed.name, "arguments": parsed.arguments}}
            )
            self.transcript.append({"role": "tool", "name": parsed.name, "content": obs})
        elif isinstance(parsed, CodeBlock):
            run = self.run_code(parsed.source)
            obs = run.observation
            if parsed.ignored:
                obs += f"\n\nNote: only the first code block was run; {parsed.ignored} more were ignored."
            info.update(action_type="code", tool_calls=run.calls)
            if run.error is not None:
                info["error"] = run.error
            terminated = run.ended
            self.transcript.append({"role": "assistant", "code": parsed.source})
            self.transcript.append({"role": "tool", "name": "python", "content": obs})
        elif isinstance(parsed, Message):
            reply = self.user.reply(parsed.content)
            obs = reply.text
            self.answer = parsed.content
            terminated = reply.done
            info.update(action_type="message")
            self.transcript.append({"role": "assistant", "content": parsed.content})
            self.transcript.append({"role": "user", "content": obs})
        else:
            obs = f"Error: {parsed.reason}"
            info.update(action_type="malformed", error=parsed.reason)
            self.transcript.append(
                {"role": "assistant", "content": action if isinstance(action, str) else repr(action)}
            )
            self.transcript.append({"role": "tool", "name": None, "content": obs})
        truncated = not terminated and self.turn >= self.max_turns
        reward = 0.0
        if terminated or truncated:
            self.done = True
            reward = float(self.compute_reward(self.answer))
        return obs, reward, terminated, truncated, info

    @property
    def sandbox(self) -> SandboxPool:
        """The pool that runs this env's code actions (the shared pool unless one was given)."""
        if self._sandbox is None:
            self._sandbox = acquire_shared_pool()
            self._shared_sandbox = True
        return self._sandbox

    def run_code(self, source: str) -> CodeRun:
        """Run a code action in the sandbox; its tool calls run here, against the episode's world.

        Args:
            source: The code.

        Returns:
            The run: output, tool calls, error, and whether a tool ended the episode.
        """
        return run_code_action(self.sandbox, self.toolset, self.world, source, self.code_limits)

    def close(self) -> None:
        """Give back the sandbox pool if this env took the shared one."""
        if self._shared_sandbox and self._sandbox is not None:
            release_shared_pool(self._sandbox)
        self._sandbox = None
        self._shared_sandbox = False
        super().close()

    def render(self) -> str | None:
        """Return the conversation so far as text (``render_mode="ansi"``), else ``None``."""
        if self.render_mode != "ansi":
            return None
        lines = []
        for entry in self.transcript:
            if "tool_call" in entry:
                lines.append(f"assistant → {entry['tool_call']['name']}({entry['tool_call']['arguments']})")
            elif "code" in entry:
                lines.append(f"assistant → python:\n{entry['code']}")
            else:
                lines.append(f"{entry['role']}: {entry['content']}")
        return "\n".join(lines)
