"""World state: plain JSON tables with cheap per-episode copies and a canonical hash.

A domain's state is a mapping of *tables* (``"users"``, ``"orders"``, …), each a mapping from a record key to a
JSON record. Episodes must not see each other's writes, yet copying a τ-bench-size database (≈2 MB of JSON) on
every ``reset`` costs tens of milliseconds. :class:`World` therefore keeps the loaded data as an immutable *base*
shared by every episode and records each episode's changes in a small *overlay* of replaced records
(copy-on-write at record granularity). Writes go through :meth:`World.edit`, which copies a record into the overlay
before it is changed; :meth:`World.transaction` undoes every edit of a failed tool call.
"""

from __future__ import annotations

import copy as _copy
import hashlib
import itertools
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""A JSON value: dict, list, str, int, float, bool or None."""

Record: TypeAlias = dict[str, Any]


class WorldError(ValueError):
    """Raised when data handed to a :class:`World` is not a mapping of tables of records."""


def canonical(value: JSON) -> JSON:
    """Return ``value`` with numbers normalised so that equal quantities compare and hash equal.

    Integral floats become ints (``25.0`` → ``25``); booleans are left alone; containers are normalised
    recursively. Tuples are treated as lists.

    Args:
        value: A JSON-like value.

    Returns:
        The normalised value.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    raise WorldError(f"not JSON data: {type(value).__name__} value {value!r}")


def canonical_json(value: JSON) -> str:
    """Serialise ``value`` canonically: normalised numbers, sorted keys, no whitespace.

    Args:
        value: A JSON-like value.

    Returns:
        A string that is equal for equal states.
    """
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_BASE_IDS = itertools.count()


class _Base:
    """The immutable, shared part of a world: the loaded tables and their cached record digests."""

    __slots__ = ("_digests", "tables", "token")

    def __init__(self, tables: dict[str, dict[str, Record]]) -> None:
        self.tables = tables
        self._digests: dict[str, dict[str, str]] = {}
        # Names this base across processes (a sandbox worker caches bases by it); the pid keeps forks apart.
        self.token = f"{os.getpid()}-{next(_BASE_IDS)}"

    def digests(self, table: str) -> dict[str, str]:
        cached = self._digests.get(table)
        if cached is None:
            cached = {key: _digest(canonical_json(rec)) for key, rec in self.tables[table].items()}
            self._digests[table] = cached
        return cached


_MISSING = object()


class World:
    """A domain's state for one episode.

    Reading is free: :meth:`get` and :meth:`table` return the current records without copying. **Records returned
    by reads must not be mutated**; a tool that changes a record asks for it with :meth:`edit`. Use
    :meth:`fork` to get an independent world that shares the unchanged records (the cost of ``reset``).

    Args:
        data: Mapping of table name → mapping of record key → record.
        copy: Deep-copy ``data`` so the caller may keep changing its own object. Pass ``False`` only when
            handing over data nothing else references (e.g. freshly parsed JSON).

    Raises:
        WorldError: If ``data`` is not a mapping of mappings.
    """

    __slots__ = ("_base", "_journal", "_overlay")

    def __init__(self, data: Mapping[str, Mapping[str, Record]], *, copy: bool = True) -> None:
        if not isinstance(data, Mapping):
            raise WorldError(f"world data must be a mapping of tables, got {type(data).__name__}")
        tables: dict[str, dict[str, Record]] = {}
        for name, table in data.items():
            if not isinstance(table, Mapping):
                raise WorldError(f"table {name!r} must be a mapping of records, got {type(table).__name__}")
            tables[str(name)] = _copy.deepcopy(dict(table)) if copy else dict(table)
        self._base = _Base(tables)
        self._overlay: dict[str, dict[str, Any]] = {name: {} for name in tables}
        self._journal: list[tuple[str, str, Any]] | None = None

    @classmethod
    def _shared(cls, base: _Base) -> World:
        world = cls.__new__(cls)
        world._base = base
        world._overlay = {name: {} for name in base.tables}
        world._journal = None
        return world

    def fork(self) -> World:
        """Return a new world with this world's current state and no shared mutable records.

        Forking an unmodified world costs microseconds: only the overlay of changed records is copied.

        Returns:
            An independent world.
        """
        world = World._shared(self._base)
        for name, changed in self._overlay.items():
            world._overlay[name] = _copy.deepcopy(changed)
        return world

    def pristine(self) -> World:
        """Return a new world holding the base data this world was loaded with, without its changes.

        Returns:
            A world equal to the one originally loaded or generated.
        """
        return World._shared(self._base)

    @property
    def base_token(self) -> str:
        """An id shared by all worlds forked from the same loaded data, unique within this process."""
        return self._base.token

    def base_tables(self) -> dict[str, dict[str, Record]]:
        """The loaded data every fork of this world shares (read-only; without this world's changes).

        Returns:
            ``{table: {key: record}}``; the caller must not mutate it.
        """
        return self._base.tables

    def changes(self) -> dict[str, dict[str, Record]]:
        """The records this world replaced or added relative to its base (read-only), per changed table.

        Returns:
            ``{table: {key: record}}`` for tables with changes; the caller must not mutate the records.
        """
        return {name: dict(overlay) for name, overlay in self._overlay.items() if overlay}

    def with_changes(self, changes: Mapping[str, Mapping[str, Record]]) -> World:
        """Return a world that shares this world's base and holds ``changes`` on top of it.

        Args:
            changes: Records to replace or add, per table (ownership passes to the new world).

        Returns:
            The new world.

        Raises:
            KeyError: For a table the base does not have.
        """
        world = World._shared(self._base)
        for name, records in changes.items():
            world._check_table(name)
            world._overlay[name] = dict(records)
        return world

    @property
    def table_names(self) -> tuple[str, ...]:
        """Names of the tables, in load order."""
        return tuple(self._base.tables)

    def _check_table(self, table: str) -> None:
        if table not in self._base.tables:
            raise KeyError(f"unknown table {table!r}; tables are {list(self._base.tables)}")

    def get(self, table: str, key: str) -> Record | None:
        """Return the current record ``key`` of ``table`` (read-only), or ``None`` if absent.

        Args:
            table: Table name.
            key: Record key.

        Returns:
            The record, which the caller must not mutate, or ``None``.
        """
        self._check_table(table)
        rec = self._overlay[table].get(key, _MISSING)
        if rec is _MISSING:
            return self._base.tables[table].get(key)
        return rec  # type: ignore[no-any-return]

    def __contains__(self, item: tuple[str, str]) -> bool:
        table, key = item
        return self.get(table, key) is not None

    def table(self, table: str) -> Iterator[tuple[str, Record]]:
        """Iterate over ``(key, record)`` pairs of ``table`` in insertion order (read-only records).

        Args:
            table: Table name.

        Yields:
            Key and current record for every present record.
        """
        self._check_table(table)
        overlay = self._overlay[table]
        if not overlay:
            yield from self._base.tables[table].items()
            return
        base = self._base.tables[table]
        for key, rec in base.items():
            yield key, overlay.get(key, rec)
        for key, rec in overlay.items():
            if key not in base:
                yield key, rec

    def edit(self, table: str, key: str) -> Record:
        """Return a mutable copy of record ``key`` that replaces it in this world.

        Args:
            table: Table name.
            key: Record key.

        Returns:
            The record to mutate in place.

        Raises:
            KeyError: If the record does not exist.
        """
        self._check_table(table)
        overlay = self._overlay[table]
        if key in overlay:
            current = overlay[key]
            if self._journal is not None:
                self._journal.append((table, key, _copy.deepcopy(current)))
            return current  # type: ignore[no-any-return]
        base_rec = self._base.tables[table].get(key)
        if base_rec is None:
            raise KeyError(f"no record {key!r} in table {table!r}")
        if self._journal is not None:
            self._journal.append((table, key, _MISSING))
        rec: Record = _copy.deepcopy(base_rec)
        overlay[key] = rec
        return rec

    def put(self, table: str, key: str, record: Record) -> None:
        """Insert or replace a whole record.

        Args:
            table: Table name.
            key: Record key.
            record: The new record (stored as given; the caller hands over ownership).
        """
        self._check_table(table)
        overlay = self._overlay[table]
        if self._journal is not None:
            prev = overlay.get(key, _MISSING)
            self._journal.append((table, key, prev if prev is _MISSING else _copy.deepcopy(prev)))
        overlay[key] = record

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the enclosed edits atomic: if the block raises, every edit made inside it is undone.

        Transactions do not nest; an inner one joins the outer one.

        Yields:
            Nothing; the world is edited through :meth:`edit` and :meth:`put` inside the block.
        """
        if self._journal is not None:
            yield
            return
        self._journal = []
        try:
            yield
        except BaseException:
            for table, key, previous in reversed(self._journal):
                if previous is _MISSING:
                    self._overlay[table].pop(key, None)
                else:
                    self._overlay[table][key] = previous
            raise
        finally:
            self._journal = None

    @property
    def changed(self) -> dict[str, list[str]]:
        """Keys of the records this world changed relative to its base, per table (tables without changes omitted)."""
        return {name: list(keys) for name, keys in self._overlay.items() if keys}

    def to_dict(self) -> dict[str, dict[str, Record]]:
        """Return the whole state as a fresh, independent dict of tables.

        Returns:
            ``{table: {key: record}}``, deep-copied.
        """
        return {
            name: {key: _copy.deepcopy(rec) for key, rec in self.table(name)} for name in self._base.tables
        }

    def hash(self) -> str:
        """Return the canonical SHA-256 of the state.

        Equal states have equal hashes whatever their key order or number spelling (``25`` vs ``25.0``). Digests
        of unchanged records are computed once per loaded world and shared by all its forks, so hashing an
        episode's world costs little more than hashing the records it changed.

        Returns:
            A hex digest.
        """
        outer = hashlib.sha256()
        for name in sorted(self._base.tables):
            digests = self._base.digests(name)
            overlay = self._overlay[name]
            if overlay:
                digests = dict(digests)
                for key, rec in overlay.items():
                    digests[key] = _digest(canonical_json(rec))
            outer.update(json.dumps(name).encode())
            for key in sorted(digests):
                outer.update(f"{json.dumps(key)}:{digests[key]};".encode())
        return outer.hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, World):
            return NotImplemented
        return self.hash() == other.hash()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(t)}" for name, t in self._base.tables.items())
        return f"World({sizes}, changed={sum(len(o) for o in self._overlay.values())})"
