"""Command-line flags mapped onto settings dataclasses: a flag left out keeps the field's default.

Flags are registered with ``default=argparse.SUPPRESS``, so a parsed namespace holds only what the user gave; the
settings are built from those values and the dataclass supplies the rest. Help texts quote the dataclass defaults,
so they cannot drift from what a run uses.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import Any

from toolgym.policies import Sampling

# Switches say what they do; a "(default: False)" after them says nothing more.
_SWITCHES = ("store_true", "store_false", argparse.BooleanOptionalAction)


def field_defaults(*classes: type) -> dict[str, Any]:
    """The plain defaults of the dataclasses' fields (those with a default factory are left out).

    Args:
        *classes: Dataclasses; a later one's field wins over an earlier one's of the same name.

    Returns:
        Field name → default.
    """
    return {
        f.name: f.default
        for cls in classes
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING
    }


def add_option(
    parser: argparse.ArgumentParser, defaults: dict[str, Any], flag: str, text: str, **kwargs: Any
) -> None:
    """Add a flag that is absent from the namespace unless given, its help quoting the field's default.

    Args:
        parser: The command's parser.
        defaults: :func:`field_defaults` of the settings the flag maps onto.
        flag: ``--some-name``; the field is ``some_name`` unless ``dest`` says otherwise.
        text: The help text.
        **kwargs: More ``add_argument`` arguments.
    """
    dest = kwargs.setdefault("dest", flag.removeprefix("--").replace("-", "_"))
    default = defaults.get(dest)
    if default is not None and kwargs.get("action") not in _SWITCHES:
        text += f" (default: {default})"
    parser.add_argument(flag, help=text, default=argparse.SUPPRESS, **kwargs)


def settings_from_args(
    cls: type, args: argparse.Namespace, sampling_keys: Iterable[str] = (), **fixed: Any
) -> Any:
    """Settings made of the flags the user gave; every other field keeps its default.

    Args:
        cls: The settings dataclass.
        args: Parsed arguments (flags added with :func:`add_option`).
        sampling_keys: Flags that go into the settings' ``sampling`` (a :class:`~toolgym.policies.Sampling`).
        **fixed: Fields set by the caller (they win over flags of the same name).

    Returns:
        The settings; the dataclass checks them.
    """
    given = vars(args)
    fields = {f.name for f in dataclasses.fields(cls)} - set(fixed) - {"sampling"}
    sampling = Sampling(**{k: given[k] for k in sampling_keys if k in given})
    return cls(**{k: v for k, v in given.items() if k in fields}, sampling=sampling, **fixed)
