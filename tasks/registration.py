"""Gymnasium ids for the task banks shipped in the package, and for τ-bench's tasks as CaT."""

from __future__ import annotations

from toolgym.registry import register_env

from .bank import read_manifest, shipped_banks

for _name, _folder in shipped_banks().items():
    register_env(str(read_manifest(_folder)["env_id"]), "toolgym.tasks.env:CaTEnv", kwargs={"bank": _name})

register_env("TauRetail-v0", "toolgym.tasks.taubench:TauRetailEnv")
