"""toolgym environments for TRL's ``GRPOTrainer``: an ``environment_factory`` adapter, task datasets, a ``rollout_func``.

Two ways to train on any toolgym env id (TRL 1.16)::

    trainer = GRPOTrainer(model=..., args=..., reward_funcs=[toolgym_reward],
                          environment_factory=environment_factory("toolgym/Retail-CaT-v1"),
                          train_dataset=task_dataset("toolgym/Retail-CaT-v1", "train"))

* **Tool calling** (``environment_factory``): each adapter instance wraps one env; its public methods are the env's
  tools, so TRL lists them through the chat template, parses the model's calls, runs them (each steps the env with
  a structured call) and masks the tool results from the loss.
* **Rollout function** (:func:`toolgym.baselines.trl_rollout.make_rollout_func`) for action formats that TRL does not parse (``code``, ``json``):
  episodes are played here with the trainer's model, the env parses the model's text, and observation tokens get
  ``env_mask`` 0.

**How the final answer reaches the env.** TRL has no termination channel: a rollout ends when the model stops
calling tools, and its last message is the answer the task's verifier judges. No env method ever sees that
message, but reward functions do, and TRL calls ``reward_funcs`` before the adapter's ``get_reward``. So
:func:`toolgym_reward` takes each completion's final assistant message, sends it to its env as the message to the
user (ending the episode) and returns the verifier's reward. ``get_reward`` then returns ``None`` for that env
(TRL ignores ``None``) so the reward is not counted twice. Without ``toolgym_reward`` (no ``reward_funcs``),
``get_reward`` scores the episode as if it had been cut off before any answer, and warns: tasks judged on the
answer then always fail. A rollout cut by the budget or the tool-call limit has no final message either.
"""

from __future__ import annotations

import functools
import inspect
import json
import operator
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym

from toolgym.env import ToolEnv
from toolgym.prompting import tool_signatures
from toolgym.rollout import plan_episodes

EPISODE_OVER = "The episode is over: tools do nothing now. Reply to the user without calling tools."
"""What a tool returns once its episode has ended (TRL keeps running calls until the model stops)."""

TEMPLATE_FORMATS = ("hermes", "llama3")
"""Action formats that chat templates write tool calls in, and TRL's tool-call parsing reads."""

_SCALARS: dict[str, Any] = dict(string=str, integer=int, number=float, boolean=bool, null=type(None))


class ToolgymEnvironment:
    """One toolgym env behind TRL's ``environment_factory`` protocol; :func:`environment_factory` subclasses it.

    The subclass adds one method per tool of the env. Everything else an instance needs is private, because TRL
    turns every public function of the class into a tool.
    """

    _env_id: ClassVar[str] = ""
    _env_kwargs: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self._env = gym.make(self._env_id, **self._env_kwargs)
        self._done = True  # nothing runs before reset()
        self._reward: float | None = None
        self._scored = False

    @property
    def env(self) -> gym.Env[str, str]:
        """The wrapped env (its ``unwrapped`` world, task and transcript are there to inspect)."""
        return self._env

    @property
    def done(self) -> bool:
        """Whether the episode has ended (tools are inert)."""
        return self._done

    def reset(self, **row: Any) -> str:
        """Start the episode of a dataset row.

        Args:
            **row: The row: ``task_id`` (``None`` for free play) and ``seed`` pick the episode; ``prompt`` is the
                conversation TRL appends the returned text to.

        Returns:
            The task's instruction (after a blank line when the prompt's last message already says something).
        """
        task_id, seed = row.get("task_id"), row.get("seed")
        options = {"task_id": task_id} if task_id is not None else None
        obs, _ = self._env.reset(seed=None if seed is None else int(seed), options=options)
        self._done, self._reward, self._scored = False, None, False
        prompt = row.get("prompt")
        last = prompt[-1].get("content") if isinstance(prompt, list) and prompt else None
        return f"\n\n{obs}" if isinstance(last, str) and last.strip() else str(obs)

    def get_reward(self) -> float | None:
        """The episode's reward, unless :func:`toolgym_reward` already reported it.

        Returns:
            ``None`` when ``toolgym_reward`` scored the episode (so the reward counts once), else the reward of
            the episode ended here without an answer.
        """
        if self._scored:
            return None
        if not self._done and isinstance(self._env.unwrapped, ToolEnv) and self._env.unwrapped.task_id:
            warnings.warn(
                "get_reward() ends the episode without the model's final answer; pass "
                "reward_funcs=[toolgym_reward] so that answers reach the verifier",
                stacklevel=2,
            )
        return self._finish(None)

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        if self._done:
            return EPISODE_OVER
        obs, reward, terminated, truncated, _ = self._env.step({"name": name, "arguments": arguments})
        if terminated or truncated:
            self._done, self._reward = True, float(reward)
        return str(obs)

    def _finish(self, answer: str | None) -> float:
        """End the episode, with ``answer`` as the message to the user if it is still open; return its reward."""
        if not self._done and answer is not None:
            _, reward, terminated, truncated, _ = self._env.step({"content": answer})
            if terminated or truncated:
                self._done, self._reward = True, float(reward)
        if not self._done:  # no answer, or a user that talks back: the conversation stops here
            self._done, self._reward = True, _cut_off_reward(self._env)
        return self._reward or 0.0

    def _deliver(self, answer: str | None) -> float:
        self._scored = True
        return self._finish(answer)


def _cut_off_reward(env: gym.Env[str, str]) -> float:
    """Score an episode stopped from outside, as the env scores one truncated at its turn limit."""
    inner = env.unwrapped
    return float(inner.compute_reward(inner.answer)) if isinstance(inner, ToolEnv) else 0.0


def _hint(schema: Mapping[str, Any]) -> Any:
    """The Python type hint from which ``transformers.utils.get_json_schema`` writes ``schema`` back."""
    if "anyOf" in schema:
        hint = functools.reduce(operator.or_, [_hint(s) for s in schema["anyOf"]])
    elif isinstance(schema.get("type"), list):
        hint = functools.reduce(operator.or_, [_hint({"type": t}) for t in schema["type"]])
    elif schema.get("type") == "array":
        hint = list[_hint(schema["items"])] if schema.get("items") else list  # type: ignore[misc]
    elif schema.get("type") == "object":
        extra = schema.get("additionalProperties")
        hint = dict[str, _hint(extra)] if isinstance(extra, Mapping) and extra else dict  # type: ignore[misc]
    else:
        hint = _SCALARS.get(str(schema.get("type")), Any)
    return hint | None if schema.get("nullable") else hint


def _docstring(function: Mapping[str, Any]) -> str:
    """A Google docstring that ``get_json_schema`` parses back into the function's descriptions and enums."""
    lines = [str(function.get("description") or function["name"]).strip()]
    properties = function.get("parameters", {}).get("properties", {})
    if properties:
        lines += ["", "Args:"]
        for name, prop in properties.items():
            text = " ".join(str(prop.get("description") or name).split())
            if "enum" in prop:
                text += f" (choices: {json.dumps(prop['enum'])})"
            lines.append(f"    {name}: {text}")
    return "\n".join(lines)


def _tool_method(schema: Mapping[str, Any]) -> Callable[..., str]:
    """A method calling one tool, whose signature and docstring reproduce the tool's JSON schema."""
    function = schema["function"]
    name = str(function["name"])
    parameters = function.get("parameters", {})
    required = set(parameters.get("required", []))

    def method(self: ToolgymEnvironment, **arguments: Any) -> str:
        return self._call(name, arguments)

    # Keyword-only parameters keep the schema's order even where optional ones come before required ones; only
    # the arguments the model gave reach the tool, so the defaults below are never used.
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for arg, prop in parameters.get("properties", {}).items():
        annotations[arg] = _hint(prop)
        default = inspect.Parameter.empty if arg in required else None
        params.append(
            inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=_hint(prop))
        )
    # No return hint: it would add a "return" entry to every schema in the prompt, which toolgym's schemas leave
    # out as telling the model nothing (tools always return text).
    method.__name__ = method.__qualname__ = name
    method.__doc__ = _docstring(function)
    method.__annotations__ = annotations
    method.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return method


def _accepts(env_id: str, argument: str) -> bool:
    """Whether the env registered as ``env_id`` takes a constructor argument (``split`` only exists for tasks)."""
    from gymnasium.envs.registration import load_env_creator

    entry = gym.spec(env_id).entry_point
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    return creator is not None and argument in inspect.signature(creator).parameters


def _env_kwargs(env_id: str, split: str | None, env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = dict(env_kwargs)
    if split is not None and _accepts(env_id, "split"):
        kwargs.setdefault("split", split)
    return kwargs


def _class_name(env_id: str) -> str:
    # TRL logs get_reward under the class name: "toolgym/Retail-CaT-v1" -> rewards/RetailCaTV1/mean.
    parts = re.split(r"[^0-9A-Za-z]+", env_id.split("/")[-1])
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "ToolgymEnv"


def environment_factory(
    env_id: str, *, tools: Sequence[str] | None = None, **env_kwargs: Any
) -> type[ToolgymEnvironment]:
    """An adapter class for ``GRPOTrainer(environment_factory=…)``: each instance wraps one ``gym.make(env_id)``.

    Args:
        env_id: A registered toolgym id (task envs and free-play envs alike; free play scores 0).
        tools: Show the model only these tools (default: all of the env's), e.g. for a small context.
        **env_kwargs: More arguments for ``gym.make``. Task envs get ``split="all"`` unless told otherwise, so
            any task id a dataset names can be reset.

    Returns:
        The class; its methods are the env's tools, typed and documented from their JSON schemas.

    Raises:
        ValueError: For an unknown tool name, or a tool named like one of the adapter's own members.
    """
    kwargs = _env_kwargs(env_id, "all", env_kwargs)
    probe = gym.make(env_id, **kwargs)
    try:
        inner = probe.unwrapped
        if not isinstance(inner, ToolEnv):
            raise TypeError(f"{env_id} is not a toolgym ToolEnv")
        schemas = list(inner.toolset.schemas)
    finally:
        probe.close()
    if tools is not None:
        unknown = sorted(set(tools) - {s["function"]["name"] for s in schemas})
        if unknown:
            raise ValueError(f"{env_id} has no tools named {unknown}")
        schemas = [s for s in schemas if s["function"]["name"] in tools]
    namespace: dict[str, Any] = {"_env_id": env_id, "_env_kwargs": kwargs, "__module__": __name__}
    for schema in schemas:
        name = schema["function"]["name"]
        if name.startswith("_") or hasattr(ToolgymEnvironment, name):
            raise ValueError(f"{env_id}: tool name {name!r} clashes with the adapter's own members")
        namespace[name] = _tool_method(schema)
    cls = type(_class_name(env_id), (ToolgymEnvironment,), namespace)
    cls.__doc__ = (
        f"TRL environment for {env_id} (tools: {', '.join(s['function']['name'] for s in schemas)})."
    )
    return cls


def task_dataset(
    env_id: str,
    split: str | None = "train",
    *,
    samples: int = 1,
    seed: int = 0,
    system_prompt: bool | str = True,
    list_tools: bool | None = None,
    max_tasks: int | None = None,
    families: Sequence[str] | None = None,
    action_format: str = "hermes",
    **env_kwargs: Any,
) -> Any:
    """A GRPO training set: one row per episode, for both :func:`environment_factory` and :func:`make_rollout_func`.

    The prompt is the system message and an empty user message; the adapter's ``reset`` (or the rollout) fills it
    with the task's instruction. The user message also carries ``task_id`` and ``seed`` keys, invisible to chat
    templates, because a ``rollout_func`` receives only prompts.

    Args:
        env_id: A registered toolgym id.
        split: The task split; ignored by envs without tasks.
        samples: Rows per task (for free play: how many rows).
        seed: Base seed; rows get the seeds of :func:`toolgym.rollout.plan_episodes`.
        system_prompt: ``True``: the env's (domain policy and action-format instructions); ``False``: none; or
            the text to use.
        list_tools: List the tools as Python signatures in the system prompt (default: for formats other than
            :data:`TEMPLATE_FORMATS`, whose tools no chat template shows).
        max_tasks: Keep only the first tasks of the split (after ``families``).
        families: Keep only tasks of these families (``CodeAsTask.family``, as the scripted challenger
            records it), e.g. the ones a small model sometimes solves, so that GRPO's groups can differ in reward.
        action_format: The format the system prompt teaches: the chat template's tool-call format for
            :func:`environment_factory` (``"hermes"`` for Qwen-style templates and the embedded SmolLM2,
            ``"llama3"`` for Llama 3.1), the rollout's format (e.g. ``"code"``) for :func:`make_rollout_func`.
        **env_kwargs: More arguments for ``gym.make``.

    Returns:
        A ``datasets.Dataset`` with ``prompt``, ``task_id`` and ``seed`` columns.

    Raises:
        TypeError: If the env is not a toolgym env.
        ValueError: If ``families`` leaves no task.
    """
    from datasets import Dataset  # type: ignore[import-untyped,unused-ignore]

    env = gym.make(env_id, action_format=action_format, **_env_kwargs(env_id, split, env_kwargs))
    try:
        inner = env.unwrapped
        if not isinstance(inner, ToolEnv):
            raise TypeError(f"{env_id} is not a toolgym ToolEnv")
        ids = getattr(inner, "task_ids", None)
        tasks = None if ids is None else list(ids)
        if families is not None and tasks is not None:
            wanted = set(families)
            tasks = [t.id for t in getattr(inner, "tasks", ()) if t.family in wanted]
            if not tasks:
                raise ValueError(f"no {split} task of {env_id} is of the families {sorted(wanted)}")
        tasks = None if tasks is None else tasks[:max_tasks]
        text = inner.system_prompt if system_prompt is True else system_prompt or ""
        tools_listed = inner.format.name not in TEMPLATE_FORMATS if list_tools is None else list_tools
        if tools_listed:
            text = f"{text.rstrip()}\n\n## Tools\n\n{tool_signatures(inner.toolset.schemas)}\n".lstrip()
    finally:
        env.close()
    rows = plan_episodes(tasks, samples=samples, seed=seed)
    system = [{"role": "system", "content": text}] if text else []
    prompts = [[*system, {"role": "user", "content": "", "task_id": t, "seed": s}] for t, _, s in rows]
    return Dataset.from_dict(
        {"prompt": prompts, "task_id": [t for t, _, _ in rows], "seed": [s for _, _, s in rows]}
    )


def _final_answer(completion: Any) -> str | None:
    """The completion's closing message to the user; ``None`` when it ends on a tool call or tool result."""
    if isinstance(completion, str):
        return completion
    if not completion:
        return None
    last = completion[-1]
    if last.get("role") != "assistant" or last.get("tool_calls"):
        return None
    content = last.get("content")
    if isinstance(content, list):
        content = "".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
    return content if isinstance(content, str) else None


def toolgym_reward(
    completions: Sequence[Any],
    environments: Sequence[Any] | None = None,
    reward: Sequence[float] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """Reward function for ``GRPOTrainer(reward_funcs=[toolgym_reward])``: the toolgym env's reward.

    With ``environment_factory`` it first delivers each completion's final message to its env as the answer (see
    the module docstring); with :func:`make_rollout_func` it returns the rewards the rollout recorded.

    Args:
        completions: The completions (message lists), aligned with ``environments``.
        environments: TRL's per-completion env instances.
        reward: The rollout's rewards (the ``reward`` key a rollout function returns).
        **kwargs: The rest of TRL's reward arguments.

    Returns:
        One reward per completion (``None`` for envs that are not toolgym adapters).

    Raises:
        ValueError: With neither environments nor rollout rewards.
    """
    if environments is not None:
        return [
            env._deliver(_final_answer(c)) if isinstance(env, ToolgymEnvironment) else None
            for c, env in zip(completions, environments, strict=True)
        ]
    if reward is not None:
        return [float(r) for r in reward]
    raise ValueError("toolgym_reward needs an environment_factory adapter or a toolgym rollout_func")
