"""``toolgym/Retail-v0``: free play in a retail store, on a generated world or on τ-bench's database."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

from toolgym.actions import Message, ToolCall
from toolgym.domains import WorldSpecError
from toolgym.env import ToolEnv
from toolgym.sandbox import Limits, SandboxPool
from toolgym.users import User
from toolgym.world import World

from .generator import generate_world
from .loader import DataFileError, load_tau_bench
from .tools import RETAIL_TOOLS

FREE_PLAY_OPENING = (
    "No task is set: this is free play in the retail store. Use the tools to look around. "
    "Your first message to the user ends the episode."
)

WORLD_SIZE_KEYS = ("n_users", "n_products", "n_orders")

WORLD_CACHE_SIZE = 8
"""Generated worlds kept in memory, so that resets with a recently used seed cost a fork, not a generation."""


@functools.cache
def retail_policy() -> str:
    """The retail policy text shown to agents.

    Returns:
        The policy, in Markdown.
    """
    return resources.files(__package__).joinpath("policy.md").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=WORLD_CACHE_SIZE)
def generated_world(seed: int, sizes: tuple[tuple[str, int], ...] = ()) -> World:
    """Generate (once) the retail world of a seed; callers fork it before changing anything.

    Args:
        seed: The generator seed.
        sizes: Generator size arguments as sorted ``(name, value)`` pairs, e.g. ``(("n_users", 50),)``.

    Returns:
        The shared, unmodified world.
    """
    return World(generate_world(seed, **dict(sizes)), copy=False)


@functools.lru_cache(maxsize=4)
def _tau_bench_world(data_dir: str) -> World:
    return load_tau_bench(data_dir)


def build_world(spec: Mapping[str, Any]) -> World:
    """Build the retail world a task's ``world`` field describes (shared: fork it before changing it).

    Two kinds exist: ``{"generator": "retail", "seed": 3}`` (optionally with ``"size": {"n_users": 50, …}``)
    and ``{"dataset": "tau-bench", "data_dir": "…/tau_bench/envs/retail/data"}``.

    Args:
        spec: The description.

    Returns:
        The world.

    Raises:
        WorldSpecError: If the description is not one of the two kinds, or its data cannot be loaded.
    """
    if not isinstance(spec, Mapping):
        raise WorldSpecError(f"a world spec must be an object, got {type(spec).__name__}")
    if spec.get("generator") == "retail":
        seed = spec.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise WorldSpecError(f"world seed must be a non-negative integer, got {seed!r}")
        size = spec.get("size", {})
        if not isinstance(size, Mapping) or set(size) - set(WORLD_SIZE_KEYS):
            raise WorldSpecError(
                f"world size must be an object with keys among {list(WORLD_SIZE_KEYS)}, got {size!r}"
            )
        for key, value in size.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorldSpecError(f"world size {key!r} must be a positive integer, got {value!r}")
        return generated_world(seed, tuple(sorted(size.items())))
    if spec.get("dataset") == "tau-bench":
        data_dir = spec.get("data_dir")
        if not isinstance(data_dir, str):
            raise WorldSpecError("a tau-bench world needs a data_dir naming τ-bench's retail data folder")
        try:
            return _tau_bench_world(data_dir)
        except (OSError, DataFileError) as exc:
            raise WorldSpecError(f"cannot load the τ-bench world: {exc}") from exc
    raise WorldSpecError(
        f'unknown retail world {dict(spec)!r}; use {{"generator": "retail", "seed": N}} or '
        '{"dataset": "tau-bench", "data_dir": "…"}'
    )


class RetailEnv(ToolEnv):
    """The retail domain with no task: reward 0, the episode ends at the turn limit or at the first message.

    Args:
        world: A fixed starting world for every episode (e.g. from :func:`load_tau_bench`) as a ``World`` or
            τ-bench-schema dict. When ``None``, each ``reset`` generates the world of its seed (or of
            ``options["world_seed"]``).
        world_size: Sizes for generated worlds: any of ``n_users``, ``n_products``, ``n_orders``.
        action_format: Name of a registered action format.
        max_turns: Agent turns before truncation.
        user: A registered user kind or a user object.
        user_kwargs: Arguments for the user factory.
        render_mode: ``None`` or ``"ansi"``.
        sandbox: The pool running code actions (the shared pool by default).
        code_limits: Limits of one code action.
        max_observation_chars: Cut tool results longer than this, with a notice (``None``: keep them whole).

    Raises:
        ValueError: For a bad world, size, format, user or turn limit.
    """

    def __init__(
        self,
        world: World | Mapping[str, Any] | None = None,
        *,
        world_size: Mapping[str, int] | None = None,
        action_format: str = "auto",
        max_turns: int = 30,
        user: str | User = "direct",
        user_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        sandbox: SandboxPool | None = None,
        code_limits: Limits | None = None,
        max_observation_chars: int | None = None,
    ) -> None:
        super().__init__(
            RETAIL_TOOLS,
            retail_policy(),
            action_format=action_format,
            max_turns=max_turns,
            user=user,
            user_kwargs=user_kwargs,
            render_mode=render_mode,
            sandbox=sandbox,
            code_limits=code_limits,
            max_observation_chars=max_observation_chars,
        )
        if world is not None and world_size is not None:
            raise ValueError("give either a world or world_size for generated worlds, not both")
        self._fixed_world = world if isinstance(world, World) or world is None else World(world)
        sizes = dict(world_size or {})
        unknown = sorted(set(sizes) - set(WORLD_SIZE_KEYS))
        if unknown:
            raise ValueError(f"unknown world_size keys {unknown}; use {list(WORLD_SIZE_KEYS)}")
        for key, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"world_size[{key!r}] must be a positive integer, got {value!r}")
        self._world_size = tuple(sorted(sizes.items()))

    def episode_world(self, seed: int | None, options: Mapping[str, Any]) -> World:
        """Fork the fixed world, or the generated world of the episode's world seed.

        Args:
            seed: The reset seed; it picks the generated world unless ``options["world_seed"]`` does.
            options: Reset options.

        Returns:
            The episode's own world.
        """
        if self._fixed_world is not None:
            return self._fixed_world.fork()
        world_seed = options.get("world_seed", seed)
        if world_seed is None:
            world_seed = int(self.np_random.integers(2**31))
        return generated_world(int(world_seed), self._world_size).fork()

    def opening(self, options: Mapping[str, Any]) -> tuple[str, str | None]:
        """Free play has no task; the opening says so.

        Args:
            options: Reset options (unused).

        Returns:
            The free-play opening and no task id.
        """
        return FREE_PLAY_OPENING, None

    def walkthrough(self) -> list[ToolCall | Message]:
        """A short, valid demonstration episode on the current world, for demos and smoke tests.

        A user with a pending order is authenticated by email, the order and one of its products are looked up,
        and the order is cancelled; the last action tells the user.

        Returns:
            The actions, to be rendered with the env's action format or passed to ``step`` as they are.

        Raises:
            RuntimeError: If the world has no user with a pending order.
        """
        world = self.world
        pending = (
            (user_id, user, order_id)
            for user_id, user in world.table("users")
            for order_id in user["orders"]
            if (world.get("orders", order_id) or {}).get("status") == "pending"
        )
        found = next(pending, None)
        if found is None:
            raise RuntimeError("the world has no pending order to demonstrate on")
        user_id, user, order_id = found
        order = world.get("orders", order_id)
        assert order is not None
        return [
            ToolCall("find_user_id_by_email", {"email": user["email"]}),
            ToolCall("get_user_details", {"user_id": user_id}),
            ToolCall("get_order_details", {"order_id": order_id}),
            ToolCall("get_product_details", {"product_id": order["items"][0]["product_id"]}),
            ToolCall("cancel_pending_order", {"order_id": order_id, "reason": "no longer needed"}),
            Message(f"Your order {order_id} is cancelled and its payment will be refunded."),
        ]
