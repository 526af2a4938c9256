"""The LLM challenger: a policy explores a domain with real tool calls, then writes a Code-as-Task.

One challenger episode, as in the paper: the domain's free-play env is reset on one of the challenger's worlds; the
policy sees the challenger prompt, a worked example for the domain (when one ships and fits the model's context),
the domain policy and the tools; it explores for at most ``explore_turns`` turns, each tool call run by
``env.step`` against the world; a message ends exploration early. Then a last user turn asks for the task, and the
text the policy writes is read by :func:`~toolgym.tasks.proposal.parse_proposal`. The task's world is the world
explored, before any change made while exploring.

Episodes run in batches of ``batch_size``: each turn, one ``generate`` call covers every episode of the batch still
exploring, and one more call writes all their tasks.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import gymnasium as gym

from toolgym.domains import Domain, get_domain
from toolgym.policies import Policy, PolicyError, Sampling, load_policy
from toolgym.policies.base import ChatMessage
from toolgym.policies.guidance import GUIDED_FORMATS, action_grammar
from toolgym.progress import progress_bar
from toolgym.prompting import observation_message, opening_messages
from toolgym.sandbox import acquire_shared_pool, release_shared_pool

from .format import MIN_FAILURE_CASES
from .proposal import Proposal, compact_exploration, parse_proposal, parse_sections

CHALLENGER = "toolgym.tasks.challenger"
"""How proposals name their author in provenance."""

WRITE_TOKENS = 1024
"""Default token budget of the written task."""

_DOMAIN_HEADING = (
    "# The domain\n\n"
    "The agent who gets your task works under the policy below, with the tools listed; you explore with the same "
    "tools, written the same way.\n\n"
)


@functools.cache
def prompt_text(name: str) -> str | None:
    """A prompt file shipped with the package (under ``prompts/``).

    Args:
        name: The file name, e.g. ``"challenger.md"``.

    Returns:
        Its text, or ``None`` when no such file ships (e.g. no worked example for a domain).
    """
    path = resources.files(__package__ or "toolgym.tasks").joinpath("prompts").joinpath(name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _fill(template: str, **values: object) -> str:
    # Prompts hold code with braces, so only the named {{placeholders}} are replaced.
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", str(value))
    return template


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class _Episode:
    index: int
    world_seed: int
    env: gym.Env[str, str]
    messages: list[ChatMessage] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    native_tools: bool = False
    steps: list[dict[str, Any]] = field(default_factory=list)
    exploring: bool = True
    raw: str | None = None
    written_early: bool = False
    error: str | None = None


class LLMChallenger:
    """Writes tasks with a language model that first explores the domain with its tools.

    Args:
        policy: The challenger model: a policy, or a spec for :func:`~toolgym.policies.load_policy`.
        domain: The registered domain's name, e.g. ``"retail"``; it must have a free-play env and a world generator.
        explore_turns: Most exploration turns (tool calls) before the task is written; 0 writes at once.
        sampling: Sampling for exploration turns (its ``seed`` is replaced per call, derived from ``propose``'s).
        write_sampling: Sampling for the written task; by default ``sampling`` with at least 1024 new tokens.
        action_format: The format tool calls are written in; the policy's own format when ``None``.
        world_seeds: The generated worlds episodes explore, in turn.
        guided: Constrain exploration turns to the action grammar (the first must be a tool call); the written
            task is always free text. Needs a format with a grammar (hermes, json, llama3).
        batch_size: Episodes generated together.
        max_observation_chars: Tool results longer than this are cut before the model sees them (``None``: whole).

    Raises:
        KeyError: For an unknown domain.
        ValueError: For a domain the challenger cannot explore, bad counts, or ``guided`` with a format that has
            no grammar.
        FileNotFoundError: If the prompt files were not installed with the package.
    """

    def __init__(
        self,
        policy: Policy | str,
        domain: str,
        *,
        explore_turns: int = 4,
        sampling: Sampling | None = None,
        write_sampling: Sampling | None = None,
        action_format: str | None = None,
        world_seeds: Sequence[int] = range(8),
        guided: bool = False,
        batch_size: int = 16,
        max_observation_chars: int | None = 2000,
    ) -> None:
        self.domain: Domain = get_domain(domain)
        if self.domain.free_play_env is None or self.domain.world_spec is None:
            raise ValueError(f"domain {domain!r} has no free-play env or world generator to explore")
        if explore_turns < 0 or batch_size < 1:
            raise ValueError("explore_turns must be >= 0 and batch_size positive")
        self.world_seeds = tuple(int(s) for s in world_seeds)
        if not self.world_seeds:
            raise ValueError("world_seeds names no world")
        self.policy = load_policy(policy)
        self.explore_turns = explore_turns
        self.sampling = sampling or Sampling()
        self.write_sampling = write_sampling or dataclasses.replace(
            self.sampling, max_new_tokens=max(WRITE_TOKENS, self.sampling.max_new_tokens)
        )
        self.action_format = action_format or self.policy.action_format
        if guided and self.action_format not in GUIDED_FORMATS:
            raise ValueError(
                f"guided exploration needs one of the formats {', '.join(GUIDED_FORMATS)}, "
                f"not {self.action_format!r}; choose one with action_format=…"
            )
        self.guided = guided
        self.batch_size = batch_size
        self.max_observation_chars = max_observation_chars
        system, write = prompt_text("challenger.md"), prompt_text("write_task.md")
        if system is None or write is None:
            raise FileNotFoundError(
                "the challenger's prompt files (prompts/*.md) are not installed with toolgym.tasks"
            )
        self.system_text = _fill(system, explore_turns=explore_turns, min_failure_cases=MIN_FAILURE_CASES)
        self.write_text = _fill(write, min_failure_cases=MIN_FAILURE_CASES)
        self.example_text = prompt_text(f"{self.domain.name}.md")
        shown = [self.system_text, self.write_text, self.example_text or "", _DOMAIN_HEADING]
        self.prompt_sha = hashlib.sha256("\0".join(shown).encode()).hexdigest()[:12]
        self._use_example: bool | None = None
        self._grammars: dict[tuple[str, bool], str] = {}

    def settings(self) -> dict[str, Any]:
        """The challenger's settings, for reports.

        Returns:
            JSON data.
        """
        return {
            "challenger": CHALLENGER,
            "model": self.policy.name,
            "domain": self.domain.name,
            "explore_turns": self.explore_turns,
            "sampling": self.sampling.to_dict(),
            "write_sampling": self.write_sampling.to_dict(),
            "action_format": self.action_format,
            "world_seeds": list(self.world_seeds),
            "guided": self.guided,
            "prompt_sha": self.prompt_sha,
        }

    def proposals(self, n: int, *, seed: int = 0, progress: bool = False) -> Iterator[Proposal]:
        """:meth:`propose`, run only when the result is first iterated.

        The challenge pipeline times the loop that consumes its proposals, so generation counts as proposing.

        Args:
            n: Episodes (proposals) to run.
            seed: Base seed (see :meth:`propose`).
            progress: Show a progress bar.

        Yields:
            Each proposal.
        """
        yield from self.propose(n, seed=seed, progress=progress)

    def propose(
        self,
        n: int,
        *,
        seed: int = 0,
        on_proposal: Callable[[Proposal], None] | None = None,
        progress: bool = False,
    ) -> list[Proposal]:
        """Run ``n`` challenger episodes and read each written task.

        Args:
            n: Episodes (proposals) to run.
            seed: Base seed: episode ``i`` resets with ``seed + i``, and each generation call's sampling seed is
                derived from it, so a seeded policy gives the same proposals again.
            on_proposal: Called with each proposal as soon as its batch is written.
            progress: Show a progress bar.

        Returns:
            One proposal per episode, in order; a proposal without a task says why (``reason``). Generation
            errors of the policy (:class:`~toolgym.policies.PolicyError`) become ``generation_error`` proposals.

        Raises:
            ValueError: For a negative ``n``.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        proposals: list[Proposal] = []
        calls = [seed * 100_003]  # the next sampling seed; every generation call takes one
        pool = acquire_shared_pool()  # held for the run, so code actions find warm workers between episodes
        spare: list[gym.Env[str, str]] = []
        bar = progress_bar(n, progress, desc="proposals", unit="task")
        try:
            for start in range(0, n, self.batch_size):
                indices = range(start, min(n, start + self.batch_size))
                envs = [spare.pop() if spare else self._make_env() for _ in indices]
                try:
                    episodes = [self._start(i, seed, env) for i, env in zip(indices, envs, strict=True)]
                    self._explore(episodes, calls)
                    self._write(episodes, calls)
                finally:
                    spare += envs  # envs are reset for the next batch rather than made anew
                for episode in episodes:
                    proposal = self._proposal(episode, seed)
                    proposals.append(proposal)
                    if on_proposal is not None:
                        on_proposal(proposal)
                    bar.update(1)
        finally:
            for env in spare:
                env.close()
            bar.close()
            release_shared_pool(pool)
        return proposals

    # ---- one batch ------------------------------------------------------------------------------------------

    def _make_env(self) -> gym.Env[str, str]:
        assert self.domain.free_play_env is not None
        return gym.make(
            self.domain.free_play_env,
            action_format=self.action_format,
            max_turns=max(1, self.explore_turns),
            max_observation_chars=self.max_observation_chars,
        )

    def _start(self, index: int, seed: int, env: gym.Env[str, str]) -> _Episode:
        world_seed = self.world_seeds[index % len(self.world_seeds)]
        obs, info = env.reset(seed=seed + index, options={"world_seed": world_seed})
        episode = _Episode(index, world_seed, env, tools=list(info.get("tools", [])))
        episode.native_tools = str(info.get("action_format", "")) == self.policy.action_format
        env_prompt = str(info.get("system_prompt", ""))
        with_example = self._system(env_prompt, example=True)
        if self._use_example is None:
            opening = opening_messages(with_example, obs, episode.tools, native_tools=episode.native_tools)
            shown_tools = episode.tools if episode.native_tools else []
            self._use_example = self.example_text is not None and self._fits(opening, shown_tools)
        system = with_example if self._use_example else self._system(env_prompt, example=False)
        episode.messages = opening_messages(system, obs, episode.tools, native_tools=episode.native_tools)
        return episode

    def _system(self, env_prompt: str, *, example: bool) -> str:
        parts = [self.system_text.rstrip()]
        if example and self.example_text:
            parts.append(self.example_text.rstrip())
        parts.append(_DOMAIN_HEADING + env_prompt.rstrip())
        return "\n\n".join(parts) + "\n"

    def _fits(self, opening: list[ChatMessage], native_tools: list[dict[str, Any]]) -> bool:
        """Whether the opening with the worked example leaves room for exploring and writing in the context."""
        context = getattr(self.policy, "context_length", None)
        count = getattr(self.policy, "count_tokens", None)
        if not context or count is None:
            return True
        # Estimates at about three characters a token: the tools the chat template shows (count_tokens leaves
        # them out), each exploration turn's observation and the write request; then the generated tokens.
        observation = self.max_observation_chars or 2000
        chars = len(json.dumps(native_tools)) + len(self.write_text) + self.explore_turns * observation
        generated = self.explore_turns * self.sampling.max_new_tokens + self.write_sampling.max_new_tokens
        return int(count(opening)) + chars // 3 + generated <= int(context)

    def _grammar(self, episode: _Episode, require_call: bool) -> str:
        key = (json.dumps(episode.tools, sort_keys=True), require_call)
        if key not in self._grammars:
            self._grammars[key] = action_grammar(self.action_format, episode.tools, require_call=require_call)
        return self._grammars[key]

    def _generate(
        self,
        episodes: list[_Episode],
        settings: Sampling,
        calls: list[int],
        grammars: Sequence[str | None] | None = None,
    ) -> list[str] | None:
        """One generation call for ``episodes``; on a policy error they are marked failed and ``None`` returned."""
        sampling = dataclasses.replace(settings, seed=calls[0])
        calls[0] += 1
        extra: dict[str, Any] = {"grammars": grammars} if grammars is not None else {}
        try:
            texts = self.policy.generate(
                [e.messages for e in episodes],
                tools=[e.tools if e.native_tools else None for e in episodes],
                sampling=sampling,
                **extra,
            )
        except PolicyError as exc:
            problem = f"the policy failed to generate: {exc}"
        else:
            if len(texts) == len(episodes):
                return [t if isinstance(t, str) else "" for t in texts]
            problem = f"the policy returned {len(texts)} texts for {len(episodes)} conversations"
        for episode in episodes:
            episode.error, episode.exploring = problem, False
        return None

    def _explore(self, episodes: list[_Episode], calls: list[int]) -> None:
        for turn in range(self.explore_turns):
            live = [e for e in episodes if e.exploring]
            if not live:
                break
            grammars = [self._grammar(e, require_call=turn == 0) for e in live] if self.guided else None
            texts = self._generate(live, self.sampling, calls, grammars)
            for episode, text in zip(live, texts or [], strict=False):
                self._step(episode, text)
        for episode in episodes:
            episode.exploring = False

    def _step(self, episode: _Episode, text: str) -> None:
        sections = parse_sections(text)
        if sections.instruction is not None and sections.evaluation_function is not None:
            # The model wrote its task without waiting to be asked: take it as written rather than run it.
            episode.raw, episode.written_early, episode.exploring = text, True, False
            return
        obs, _reward, terminated, truncated, info = episode.env.step(text)
        kind = info.get("action_type")
        step: dict[str, Any] = {"turn": len(episode.steps) + 1, "action": text, "action_type": kind}
        for key in ("tool", "arguments", "tool_calls", "error"):
            if key in info:
                step[key] = _jsonable(info[key])
        episode.messages.append({"role": "assistant", "content": text})
        if kind == "message":
            # A message ends exploration; the write request takes the place of the user's reply.
            episode.steps.append(step)
            episode.exploring = False
            return
        step["observation"] = obs
        episode.steps.append(step)
        episode.messages.append(observation_message(obs, kind))
        if terminated or truncated:
            episode.exploring = False

    def _write(self, episodes: list[_Episode], calls: list[int]) -> None:
        writers = [e for e in episodes if e.raw is None and e.error is None]
        if not writers:
            return
        for episode in writers:
            episode.messages.append({"role": "user", "content": self.write_text})
        texts = self._generate(writers, self.write_sampling, calls)
        for episode, text in zip(writers, texts or [], strict=False):
            episode.raw = text

    def _proposal(self, episode: _Episode, seed: int) -> Proposal:
        if episode.error is not None:
            return Proposal(None, "generation_error", episode.error, episode.raw or "", episode.steps)
        assert self.domain.world_spec is not None
        provenance = {
            "author": "llm",
            "challenger": CHALLENGER,
            "model": self.policy.name,
            "policy": _jsonable(self.policy.describe()),
            "sampling": self.sampling.to_dict(),
            "write_sampling": self.write_sampling.to_dict(),
            "explore_turns": self.explore_turns,
            "action_format": self.action_format,
            "guided": self.guided,
            "exploration": compact_exploration(episode.steps),
            "world_seed": episode.world_seed,
            "seed": seed,
            "episode": episode.index,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "prompt_sha": self.prompt_sha,
            "worked_example": bool(self._use_example),
        }
        if episode.written_early:
            provenance["written_early"] = True
        return parse_proposal(
            episode.raw or "",
            domain=self.domain.name,
            world=self.domain.world_spec(episode.world_seed),
            provenance=provenance,
            exploration=episode.steps,
        )
