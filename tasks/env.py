"""Code-as-Task environments: each episode is one task of a bank, rewarded by the task's verifier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolgym.actions import CodeBlock, Message
from toolgym.code_actions import run_code_action
from toolgym.domains import Domain, get_domain
from toolgym.env import ToolEnv
from toolgym.sandbox import Limits, SandboxPool
from toolgym.users import User
from toolgym.world import World

from .bank import Bank, load_bank
from .demos import DEFAULT_BUDGET_CHARS, select_demonstrations
from .format import CodeAsTask


class CaTEnv(ToolEnv):
    """Episodes drawn from a bank of Code-as-Task instances.

    ``reset`` picks the task named by ``options["task_id"]``, or else one drawn with the episode's random generator
    (so a seed always picks the same task). The task's instruction is the user's first message; when the episode
    ends, the task's verifier judges the final world and the agent's last message: reward 1.0 or 0.0. The
    verifier, solution and failure cases never appear in observations or ``info``.

    Args:
        bank: A shipped bank's name, a bank folder, a loaded :class:`Bank` or a list of tasks.
        split: ``"train"``, ``"test"`` or ``"all"``.
        action_format: Name of a registered action format (``"code"`` lets the agent write Python).
        max_turns: Agent turns before truncation.
        user: A registered user kind or a user object.
        user_kwargs: Arguments for the user factory.
        render_mode: ``None`` or ``"ansi"``.
        sandbox: The pool running code actions and verifiers (the shared pool by default).
        code_limits: Limits of one code action.
        max_observation_chars: Cut tool results longer than this, with a notice (``None``: keep them whole).
        verifier_limits: Limits of one verifier run.

    Raises:
        ValueError: If the split is empty or unknown, or the tasks mix domains.
        BankError: If the bank cannot be loaded.
    """

    def __init__(
        self,
        bank: str | Bank | Sequence[CodeAsTask] = "retail-v1",
        *,
        split: str = "train",
        action_format: str = "code",
        max_turns: int = 30,
        user: str | User = "direct",
        user_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        sandbox: SandboxPool | None = None,
        code_limits: Limits | None = None,
        max_observation_chars: int | None = None,
        verifier_limits: Limits | None = None,
    ) -> None:
        self.bank_manifest: dict[str, Any] | None = None
        self.bank: Bank | None = None
        if isinstance(bank, str):
            bank = load_bank(bank)
        if isinstance(bank, Bank):
            tasks = bank.split(split)
            self.bank_manifest = dict(bank.manifest)
            self.bank = bank
        else:
            tasks = [t for t in bank if split in (None, "all") or t.split == split]
        if not tasks:
            raise ValueError(f"no tasks in split {split!r}")
        domains = sorted({t.domain for t in tasks})
        if len(domains) != 1:
            raise ValueError(f"a CaT env serves tasks of one domain, got {domains}")
        self.domain: Domain = get_domain(domains[0])
        super().__init__(
            self.domain.toolset,
            self.domain.policy(),
            action_format=action_format,
            max_turns=max_turns,
            user=user,
            user_kwargs=user_kwargs,
            render_mode=render_mode,
            sandbox=sandbox,
            code_limits=code_limits,
            max_observation_chars=max_observation_chars,
        )
        self.tasks: tuple[CodeAsTask, ...] = tuple(tasks)
        self._by_id = {t.id: t for t in self.tasks}
        self.verifier_limits = verifier_limits or Limits(cpu_s=1.0, wall_s=3.0)
        self._task: CodeAsTask | None = None
        self.verdict_error: str | None = None

    @property
    def task_ids(self) -> list[str]:
        """Ids of the tasks this env draws from, in bank order."""
        return [t.id for t in self.tasks]

    def episode_world(self, seed: int | None, options: Mapping[str, Any]) -> World:
        """Pick the episode's task and fork its world.

        Args:
            seed: The reset seed (already applied to the env's random generator).
            options: ``{"task_id": …}`` picks a task; otherwise one is drawn.

        Returns:
            The task's starting world.

        Raises:
            KeyError: If ``task_id`` is not one of this env's tasks.
        """
        task_id = options.get("task_id")
        if task_id is not None:
            task = self._by_id.get(task_id)
            if task is None:
                raise KeyError(f"task {task_id!r} is not in this env's split; see env.task_ids")
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        self._task = task
        self.verdict_error = None
        return self.domain.build_world(task.world).fork()

    def opening(self, options: Mapping[str, Any]) -> tuple[str, str | None]:
        """The task's instruction opens the episode.

        Args:
            options: Reset options (the task was picked in :meth:`episode_world`).

        Returns:
            The instruction and the task id.
        """
        return self.task.instruction, self.task.id

    @property
    def task(self) -> CodeAsTask:
        """The current episode's task (after ``reset``)."""
        if self._task is None:
            raise RuntimeError("call reset() before asking for the task")
        return self._task

    def walkthrough(self) -> list[CodeBlock | Message]:
        """The task's example solution as an episode: one code action, then its printed answer as the message.

        The solution is first run on a copy of the starting world to learn what it prints; the episode's own world
        is untouched until the returned actions are stepped.

        Returns:
            The actions to pass to ``step``.
        """
        task = self.task
        rehearsal = run_code_action(
            self.sandbox,
            self.toolset,
            self.domain.build_world(task.world).fork(),
            task.solution,
            self.code_limits,
        )
        answer = rehearsal.result.output.strip() or "Done."
        return [CodeBlock(task.solution), Message(answer)]

    def demonstrations(
        self, k: int, *, budget_chars: int = DEFAULT_BUDGET_CHARS, room_chars: int | None = None
    ) -> list[dict[str, Any]]:
        """Worked episodes of other tasks in this env's action format, to show a policy before its task.

        They come from the bank's train split (this env's own tasks when it has no bank), never from the current
        task; the tasks most like the current one come first, within the size budget.

        Args:
            k: How many at most.
            budget_chars: Most characters in all.
            room_chars: What the model's context leaves free (the budget shrinks to fit it).

        Returns:
            Chat messages, one demonstration after another.
        """
        candidates = self.tasks if self.bank is None else tuple(self.bank.split("train"))
        current = self._task.id if self._task is not None else None
        return select_demonstrations(
            candidates,
            k,
            self.format.name,
            self.sandbox,
            exclude=current,
            like=self._task.instruction if self._task is not None else None,
            budget_chars=budget_chars if room_chars is None else min(budget_chars, room_chars),
        )

    def compute_reward(self, answer: str | None) -> float:
        """Run the task's verifier on the final world and the agent's last message.

        A verifier that fails to run scores 0.0; why is kept in ``verdict_error``.

        Args:
            answer: The agent's final message.

        Returns:
            1.0 if the verifier accepts, else 0.0.
        """
        task = self.task
        verdict = self.sandbox.evaluate(
            task.verifier, self.world, answer, filename="<verifier>", limits=self.verifier_limits
        )
        self.verdict_error = None if verdict.ok else verdict.error or verdict.status
        return 1.0 if verdict.ok and verdict.value is True else 0.0
