"""Loading τ-bench's own retail database files into a :class:`~toolgym.world.World`."""

from __future__ import annotations

import json
from pathlib import Path

from toolgym.world import World

TAU_BENCH_TABLES = ("users", "products", "orders")
"""The three files of τ-bench's retail data folder, without the ``.json`` suffix."""


class DataFileError(ValueError):
    """A data file exists but its content is not what the domain expects."""


def load_tau_bench(data_dir: str | Path) -> World:
    """Read τ-bench's retail database (``users.json``, ``products.json``, ``orders.json``).

    Pass the folder ``tau_bench/envs/retail/data`` of a τ-bench checkout (τ²-bench ships the same records). The
    files are read once; every episode then works on its own copy of the loaded world.

    Args:
        data_dir: The folder holding the three files.

    Returns:
        A world whose ``to_dict()`` has τ-bench's schema.

    Raises:
        FileNotFoundError: If the folder or one of the files is missing.
        DataFileError: If a file is not valid JSON or not an object of records (the message names the file and,
            for syntax errors, the line).
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"τ-bench retail data folder not found: {folder}")
    tables = {}
    for name in TAU_BENCH_TABLES:
        path = folder / f"{name}.json"
        if not path.is_file():
            raise FileNotFoundError(f"missing τ-bench retail file: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"{path}, line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{path}: not UTF-8 text: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise DataFileError(f"{path}: expected a JSON object mapping ids to records")
        tables[name] = data
    return World(tables, copy=False)
