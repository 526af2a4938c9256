"""The rollout-function path of the TRL adapter: episodes in action formats TRL does not parse (``code``, ``json``).

:func:`make_rollout_func` gives ``GRPOTrainer(rollout_func=…)`` a function that plays a batch of episodes with the
trainer's model: the env parses the model's text in its own format, observations come back as tool or user
messages rendered with the chat template, and their tokens get ``env_mask`` 0 so they stay out of the loss.

Two options help a small model that rarely acts validly on its own, so that GRPO's groups differ in reward at all:
``guided`` samples each turn inside the env's action grammar (:mod:`toolgym.policies.guidance`) and ``demos`` shows
worked episodes of other train tasks before the task, in the prompt. Guidance masks tokens only while sampling; the
trainer scores the sampled tokens under the unmasked model, so an update also raises the probability of valid
actions the model would not have written alone: a bias towards well-formed calls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from toolgym.policies.guidance import GUIDED_FORMATS, ActionGuide, GuidanceError, action_grammar
from toolgym.prompting import observation_message

from .trl import _cut_off_reward, _env_kwargs


def _training_template(tokenizer: Any, trainer: Any) -> str | None:
    """The chat template to render turns with: multi-turn token slicing needs a prefix-preserving one."""
    from trl.chat_template_utils import get_training_chat_template, is_chat_template_prefix_preserving

    chosen = getattr(trainer, "chat_template", None)
    if chosen is None and not is_chat_template_prefix_preserving(tokenizer):
        chosen = get_training_chat_template(tokenizer)
    return chosen if isinstance(chosen, str) else None


def _prompt_key(prompt: Sequence[Mapping[str, Any]]) -> tuple[str | None, int]:
    for message in reversed(prompt):
        if message.get("seed") is not None:
            return message.get("task_id"), int(message["seed"])
    raise ValueError("a toolgym rollout needs prompts from task_dataset(), which carry the task id and seed")


@dataclass(frozen=True)
class RolloutOptions:
    """How the rollout function plays: token limits, guidance and demonstrations.

    Attributes:
        budget: Tokens of a whole episode after the prompt, observations included.
        turn_tokens: Most tokens of one model turn.
        guided: Sample every turn inside the env's action grammar.
        first_call: With ``guided``, the first turn must be a tool call.
        demos: Worked episodes of other train tasks shown in the prompt, before the task.
    """

    budget: int
    turn_tokens: int
    guided: bool = False
    first_call: bool = False
    demos: int = 0


class _Rollout:
    """One call of the rollout function: a batch of episodes played turn by turn with the trainer's model."""

    def __init__(
        self, trainer: Any, envs: list[gym.Env[str, str]], options: RolloutOptions, ll_tokenizer: Any = None
    ) -> None:
        from transformers import GenerationConfig

        self.tokenizer = trainer.processing_class
        self.model = trainer.accelerator.unwrap_model(trainer.model)
        self.template = _training_template(self.tokenizer, trainer)
        self.template_kwargs: dict[str, Any] = dict(getattr(trainer, "chat_template_kwargs", None) or {})
        self.envs, self.options, self.ll_tokenizer = envs, options, ll_tokenizer
        self.budget, self.turn_tokens = options.budget, options.turn_tokens
        self.grammars: list[tuple[str, str]] = []  # per episode, when guided: (any action, a tool call)
        # The trainer's sampling settings (temperature, top-p, …); only the token limit changes turn by turn.
        config = getattr(trainer, "generation_config", None)
        self.config = copy.deepcopy(config) if config is not None else GenerationConfig(do_sample=True)  # type: ignore[no-untyped-call]
        self.end = int(self.tokenizer.eos_token_id)
        eos = self.model.generation_config.eos_token_id
        self.eos = {int(t) for t in (eos if isinstance(eos, list) else [eos]) if t is not None} | {self.end}
        pad = self.tokenizer.pad_token_id
        self.pad = int(pad) if pad is not None else self.end

    def _render(self, messages: list[dict[str, Any]], **kwargs: Any) -> list[int]:
        kwargs.update(self.template_kwargs)
        ids = self.tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=False, chat_template=self.template, **kwargs
        )
        return [int(t) for t in ids]

    def _observation_ids(self, message: dict[str, Any]) -> list[int]:
        """Tokens that close the assistant's turn, carry the observation and open the next assistant turn."""
        # The difference of two small conversations, the way TRL renders tool results.
        base = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
        prefix = self._render(base)
        full = self._render([*base, message], add_generation_prompt=True)
        ends = [i for i, t in enumerate(prefix) if t in self.eos]
        cut = ends[-1] + 1 if ends else len(prefix)
        if full[:cut] != prefix[:cut]:
            raise ValueError("the chat template is not prefix-preserving")
        return full[cut:]

    def _start(self, prompt: Sequence[Mapping[str, Any]], env: gym.Env[str, str]) -> list[int]:
        task_id, seed = _prompt_key(prompt)
        obs, info = env.reset(seed=seed, options={"task_id": task_id} if task_id is not None else None)
        messages = [{"role": m["role"], "content": m.get("content") or ""} for m in prompt]
        messages[-1]["content"] = f"{messages[-1]['content']}\n\n{obs}".lstrip("\n")
        action_format, tools = str(info.get("action_format", "")), list(info.get("tools", []))
        # Tools go through the chat template only in its own call format; the code format lists them as functions.
        shown = {"tools": tools} if action_format == _template_format(self.tokenizer) else {}
        if self.options.demos > 0:
            messages[-1:-1] = self._demonstrations(env, messages, shown)
        if self.options.guided:
            self.grammars.append(
                (
                    action_grammar(action_format, tools),
                    action_grammar(action_format, tools, require_call=True),
                )
            )
        return self._render(messages, add_generation_prompt=True, **shown)

    def _demonstrations(
        self, env: gym.Env[str, str], messages: list[dict[str, Any]], shown: dict[str, Any]
    ) -> list[dict[str, Any]]:
        demonstrations = getattr(env.unwrapped, "demonstrations", None)
        if demonstrations is None:
            raise ValueError(f"{env.unwrapped!r} has no demonstrations to show (demos=… needs a task env)")
        context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        room = context - len(self._render(messages, add_generation_prompt=True, **shown)) - self.budget
        worked = demonstrations(self.options.demos, room_chars=max(0, 3 * room))  # about 3 characters a token
        return [{"role": m["role"], "content": m.get("content") or ""} for m in worked]

    def _guide(self, episodes: list[int]) -> ActionGuide | None:
        if not self.options.guided:
            return None
        first = self.options.first_call
        grammars = [self.grammars[i][1 if first and not self.completion[i] else 0] for i in episodes]
        return ActionGuide(
            self.ll_tokenizer,
            grammars,
            int(self.model.config.vocab_size),
            temperature=float(getattr(self.config, "temperature", None) or 1.0),
            top_p=float(getattr(self.config, "top_p", None) or 1.0),
        )

    def _generate(
        self, rows: list[list[int]], max_new: int, guide: ActionGuide | None = None
    ) -> list[list[int]]:
        import torch
        from transformers import LogitsProcessorList

        width = max(len(r) for r in rows)
        device = self.model.device
        ids = torch.tensor([[self.pad] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        config = copy.deepcopy(self.config)
        config.max_new_tokens, config.pad_token_id = max_new, self.pad
        extra: dict[str, Any] = {}
        if guide is not None:
            # The guide masks invalid tokens, then applies temperature and top-p itself; generate only samples.
            config.do_sample, config.temperature, config.top_p, config.top_k = True, 1.0, 1.0, 0
            extra["logits_processor"] = LogitsProcessorList([guide])
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config, **extra)
        return [[int(t) for t in row] for row in out[:, width:].tolist()]

    def _advance(self, i: int, tokens: list[int], room: int) -> bool:
        """Add a generated turn to episode ``i`` and step its env; whether the episode goes on."""
        ends = [k for k, t in enumerate(tokens) if t in self.eos]
        tokens = (tokens[: ends[0] + 1] if ends else tokens)[:room]  # padding follows the turn's end
        self.completion[i] += tokens
        self.mask[i] += [1] * len(tokens)
        env = self.envs[i]
        if not (tokens and tokens[-1] in self.eos):
            if len(self.completion[i]) >= self.budget:  # out of tokens mid-turn: the half action is not run
                self.rewards[i] = _cut_off_reward(env)
                return False
            # Cut by the turn limit: closed with an end token the model did not write, so not trained on.
            self.completion[i].append(self.end)
            self.mask[i].append(0)
        obs, reward, terminated, truncated, info = env.step(
            self.tokenizer.decode(tokens, skip_special_tokens=True)
        )
        if terminated or truncated:
            self.rewards[i] = float(reward)
            return False
        suffix = self._observation_ids(observation_message(obs, info.get("action_type")))
        if len(self.completion[i]) + len(suffix) >= self.budget:  # no room left to answer the observation
            self.rewards[i] = _cut_off_reward(env)
            return False
        self.completion[i] += suffix
        self.mask[i] += [0] * len(suffix)
        return True

    def play(self, prompts: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
        prompt_ids = [self._start(p, env) for p, env in zip(prompts, self.envs, strict=True)]
        self.completion: list[list[int]] = [[] for _ in prompts]
        self.mask: list[list[int]] = [[] for _ in prompts]
        self.rewards = [0.0] * len(prompts)
        active = list(range(len(prompts)))
        while active:
            room = [self.budget - len(self.completion[i]) for i in active]
            new = self._generate(
                [prompt_ids[i] + self.completion[i] for i in active],
                min(max(room), self.turn_tokens),
                self._guide(active),
            )
            active = [
                i for i, tokens, r in zip(active, new, room, strict=True) if self._advance(i, tokens, r)
            ]
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": self.completion,
            "logprobs": None,
            "env_mask": self.mask,
            "reward": self.rewards,
        }


def _template_format(tokenizer: Any) -> str:
    from toolgym.policies.hf import template_action_format

    return template_action_format(getattr(tokenizer, "chat_template", None))


def make_rollout_func(
    env_id: str,
    *,
    max_turns: int = 8,
    max_completion_length: int | None = None,
    max_turn_tokens: int | None = None,
    guided: bool = False,
    first_call: bool = False,
    demos: int = 0,
    **env_kwargs: Any,
) -> Callable[[list[Any], Any], dict[str, Any]]:
    """A ``GRPOTrainer(rollout_func=…)`` that plays toolgym episodes with the trainer's model, for any action format.

    Each prompt (from :func:`task_dataset`) names its task and seed; its episode is reset, the instruction fills the
    user message, and the model and the env take turns: the env parses the model's text with its action format and
    its observation comes back as a ``tool`` or ``user`` message, rendered with the chat template and masked from
    the loss (``env_mask`` 0). An episode stops when the env ends it, or when the token budget runs out (it is then
    scored like one cut off at the turn limit). Pair it with ``reward_funcs=[toolgym_reward]``.

    Args:
        env_id: A registered toolgym id.
        max_turns: Agent turns per episode (the env's turn limit).
        max_completion_length: Token budget of a whole episode, observations included (default and upper bound:
            the trainer's ``max_completion_length``).
        max_turn_tokens: Most tokens of one model turn (default: the budget).
        guided: Sample every turn inside the env's action grammar (hermes, json or llama3 formats).
        first_call: With ``guided``, the first turn of every episode must be a tool call.
        demos: Worked episodes of other train tasks shown in the prompt before the task (task envs only); they
            are part of the prompt, so never trained on.
        **env_kwargs: More arguments for ``gym.make`` (e.g. ``action_format="code"``, ``max_observation_chars``).

    Returns:
        The rollout function; it returns ``prompt_ids``, ``completion_ids``, ``logprobs`` (``None``), ``env_mask``
        and ``reward``, one entry per prompt.

    Raises:
        GuidanceError: With ``guided``, for an action format without a grammar (``code``, ``pythonic``).
    """
    kwargs = _env_kwargs(env_id, "all", env_kwargs)
    kwargs["max_turns"] = max_turns
    if guided and kwargs.get("action_format") not in GUIDED_FORMATS:
        raise GuidanceError(
            f"guided rollouts need one of the {', '.join(GUIDED_FORMATS)} formats, "
            f"not {kwargs.get('action_format')!r}"
        )
    envs: list[gym.Env[str, str]] = []  # kept across calls: an env is made once and reset for every episode
    ll_tokenizers: dict[int, Any] = {}  # per tokenizer, its llguidance form, built on the first guided call

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, Any]:
        while len(envs) < len(prompts):
            envs.append(gym.make(env_id, **kwargs))
        budget = int(trainer.max_completion_length)
        if max_completion_length is not None:
            budget = min(budget, max_completion_length)
        turn = min(budget, max_turn_tokens) if max_turn_tokens is not None else budget
        options = RolloutOptions(budget, turn, guided=guided, first_call=first_call, demos=demos)
        return _Rollout(
            trainer, envs[: len(prompts)], options, _ll_tokenizer(trainer) if guided else None
        ).play(prompts)

    def _ll_tokenizer(trainer: Any) -> Any:
        tokenizer = trainer.processing_class
        if id(tokenizer) not in ll_tokenizers:
            import llguidance.hf

            vocab = int(trainer.accelerator.unwrap_model(trainer.model).config.vocab_size)
            ll_tokenizers[id(tokenizer)] = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab)
        return ll_tokenizers[id(tokenizer)]

    return rollout_func
