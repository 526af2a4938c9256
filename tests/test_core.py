"""Tool declaration, the registry, users and the command line."""

from __future__ import annotations

import numpy as np
import pytest

import toolgym
from toolgym.cli import main
from toolgym.registry import register_env
from toolgym.tools import Tool, ToolDefinitionError, ToolError, Toolset, tool
from toolgym.users import DirectUser, ScriptedUser, UserReply, make_user, register_user
from toolgym.world import World


@tool(writes=True)
def deposit(world: World, account: str, amount: float, note: str = "") -> str:
    """Add money to an account.

    Args:
        account: The account id.
        amount: Dollars to add.
        note: A free-text note.
    """
    rec = world.edit("accounts", account)
    rec["balance"] += amount
    if amount < 0:
        raise ToolError("amount must be positive")
    return str(rec["balance"])


def accounts() -> World:
    return World({"accounts": {"a": {"balance": 1.0}}})


def test_schema_hides_world_and_keeps_optional_arguments() -> None:
    schema = deposit.schema
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "deposit" and fn["description"] == "Add money to an account."
    assert fn["parameters"]["required"] == ["account", "amount"]
    assert fn["parameters"]["properties"]["amount"] == {"type": "number", "description": "Dollars to add."}
    assert "world" not in fn["parameters"]["properties"] and "return" not in fn


def test_failed_write_is_undone_and_reported() -> None:
    tools, world = Toolset([deposit]), accounts()
    result = tools.call(world, "deposit", {"account": "a", "amount": -5})
    assert (result.observation, result.error, result.ok, result.wrote) == (
        "Error: amount must be positive",
        "amount must be positive",
        False,
        False,
    )
    assert world.get("accounts", "a") == {"balance": 1.0}
    ok = tools.call(world, "deposit", {"account": "a", "amount": 2, "note": "gift"})
    assert (ok.observation, ok.ok, ok.wrote) == ("3.0", True, True)


def test_unexpected_exception_is_reported_like_tau_bench() -> None:
    result = Toolset([deposit]).call(accounts(), "deposit", {"account": "zzz", "amount": 1})
    assert result.observation == "Error: \"no record 'zzz' in table 'accounts'\""


def test_declaration_errors() -> None:
    def no_world(account: str) -> str:
        """Nothing.

        Args:
            account: An id.
        """
        return account

    with pytest.raises(ToolDefinitionError, match="first parameter must be `world`"):
        tool()(no_world)

    def undocumented(world: World, account: str) -> str:
        """Missing the argument description."""
        return account

    with pytest.raises(ToolDefinitionError, match="undocumented"):
        _ = Tool(undocumented).schema
    with pytest.raises(ToolDefinitionError, match="duplicate tool name 'deposit'"):
        Toolset([deposit, deposit])


def test_register_env_is_idempotent_and_refuses_conflicts() -> None:
    assert register_env("Retail-v0", "toolgym.envs.retail.env:RetailEnv") == "toolgym/Retail-v0"
    with pytest.raises(ValueError, match="already registered"):
        register_env("Retail-v0", "somewhere.else:Env")
    assert "retail" in toolgym.discover_domains()


def test_users() -> None:
    rng = np.random.default_rng(0)
    direct = DirectUser()
    assert direct.reset("do it", rng) == "do it"
    assert direct.reply("done") == UserReply("", True)
    scripted = ScriptedUser(["a", "b"])
    assert scripted.reset("task", rng) == "task"
    assert scripted.reply("x") == UserReply("a", False)
    assert scripted.reply("x") == UserReply("b", True)
    assert scripted.reply("x") == UserReply("###STOP###", True)
    with pytest.raises(TypeError, match="sequence of strings"):
        ScriptedUser("abc")
    assert make_user(scripted) is scripted
    with pytest.raises(ValueError, match="registered name or a User"):
        make_user(42)  # type: ignore[arg-type]
    register_user("echo-test", lambda: ScriptedUser(["echo"]))
    assert isinstance(make_user("echo-test"), ScriptedUser)
    with pytest.raises(ValueError, match="already registered"):
        register_user("direct", DirectUser)


def test_cli_play_prints_an_episode(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "play",
            "--seed",
            "2",
            "--action-format",
            "pythonic",
            "--kw",
            'world_size={"n_users": 30, "n_orders": 60}',
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "[find_user_id_by_email(email=" in out
    assert "[cancel_pending_order(order_id=" in out
    assert "Error" not in out
    assert "episode over: reward 0.0, terminated=True" in out


def test_cli_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        main(["play", "--kw", "oops"])
    assert main(["envs"]) == 0
    assert "toolgym/Retail-v0" in capsys.readouterr().out
