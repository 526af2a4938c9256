"""The ``llm`` user: a language model plays the customer, τ-bench style.

The simulated user is given the task's instruction as its goal and talks to the agent one message at a time. It is
asked to reveal details only when they are needed, never to invent any, and to write ``###STOP###`` once the goal is
met or cannot be; the episode then ends. Any policy backend can play it, and its sampling is seeded from the
episode's random generator, so a seeded episode replays the same conversation with the same agent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolgym.policies import Policy, Sampling, load_policy
from toolgym.users import STOP_TOKEN, UserReply

USER_SYSTEM_PROMPT = """You are a customer writing to a customer-service agent. Stay in that role.

Your goal:
{instruction}

How to behave:
- Write one short message at a time, as the customer would, in the first person.
- Give the details of your goal only when the agent needs them; never invent details the goal does not give.
- Do not tell the agent what tool to call or how to do its job.
- When your goal is met, or the agent cannot meet it, reply with {stop} and nothing else.
"""

AGENT_GREETING = "Hi! How can I help you today?"


class LLMUser:
    """A simulated user driven by a policy.

    Args:
        policy: A policy or a spec (``"hf:default"``, ``"openai:http://…"``); specs are loaded once per user.
        sampling: Sampling settings for the user's messages (the seed is drawn per message).
        max_replies: Replies after which the user stops, whatever the model says.
        system_prompt: Replaces :data:`USER_SYSTEM_PROMPT` (``{instruction}`` and ``{stop}`` are filled in).

    Raises:
        ValueError: For a non-positive ``max_replies``.
    """

    def __init__(
        self,
        policy: Policy | str = "hf:default",
        *,
        sampling: Sampling | None = None,
        max_replies: int = 10,
        system_prompt: str = USER_SYSTEM_PROMPT,
    ) -> None:
        if max_replies < 1:
            raise ValueError(f"max_replies must be positive, got {max_replies}")
        self.policy = load_policy(policy)
        self.sampling = sampling or Sampling(temperature=0.7, max_new_tokens=128)
        self.max_replies = max_replies
        self.system_prompt = system_prompt
        self.messages: list[dict[str, Any]] = []
        self.replies = 0
        self._rng = np.random.default_rng(0)

    def _say(self) -> str:
        seed = int(self._rng.integers(2**31))
        settings = Sampling(
            temperature=self.sampling.temperature,
            top_p=self.sampling.top_p,
            max_new_tokens=self.sampling.max_new_tokens,
            seed=seed,
        )
        text = self.policy.generate([self.messages], sampling=settings)[0].strip()
        self.messages.append({"role": "assistant", "content": text})
        return text

    def reset(self, instruction: str, rng: np.random.Generator) -> str:
        """Start a conversation toward the instruction's goal.

        Args:
            instruction: The user's goal.
            rng: The episode's generator; seeds every message of this conversation.

        Returns:
            The user's first message.
        """
        self._rng = np.random.default_rng(int(rng.integers(2**31)))
        self.replies = 0
        # The model speaks as the assistant of its own conversation, in which the agent is the "user".
        prompt = self.system_prompt.format(instruction=instruction, stop=STOP_TOKEN)
        self.messages = [{"role": "system", "content": prompt}, {"role": "user", "content": AGENT_GREETING}]
        return self._say()

    def reply(self, message: str) -> UserReply:
        """Answer the agent.

        Args:
            message: The agent's message.

        Returns:
            The user's reply; ``done`` when it holds ``###STOP###`` or the reply limit is reached.
        """
        self.messages.append({"role": "user", "content": message})
        self.replies += 1
        text = self._say()
        return UserReply(text=text, done=STOP_TOKEN in text or self.replies >= self.max_replies)
