"""Gymnasium ids for the task banks shipped in the package, for banks users registered, and for τ-bench's tasks."""

from __future__ import annotations

from toolgym.registry import NAMESPACE, register_env

from .bank import read_manifest, shipped_banks
from .user_banks import register_user_banks


def shipped_env_ids() -> dict[str, str]:
    """The ids of the banks shipped with toolgym.

    Returns:
        ``{"toolgym/Retail-CaT-v0": "retail-v0", …}``.
    """
    return {
        f"{NAMESPACE}/{read_manifest(folder)['env_id']}": name for name, folder in shipped_banks().items()
    }


for _full_id, _name in shipped_env_ids().items():
    register_env(_full_id.split("/", 1)[1], "toolgym.tasks.env:CaTEnv", kwargs={"bank": _name})

register_env("TauRetail-v0", "toolgym.tasks.taubench:TauRetailEnv")
register_user_banks()
