"""Progress display for long loops (rollouts, challenger runs): a tqdm bar, or nothing when it is not wanted."""

from __future__ import annotations

from typing import Any


class _NoBar:
    def update(self, n: int) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def progress_bar(total: int, show: bool, *, desc: str, unit: str) -> Any:
    """A progress bar with ``update(n)`` and ``close()``.

    Args:
        total: Steps expected.
        show: Whether to display anything; a silent stand-in is returned otherwise.
        desc: The bar's label.
        unit: What one step is called.

    Returns:
        A tqdm bar, or an object with the same two methods that does nothing.
    """
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm  # type: ignore[import-untyped]

    return tqdm(total=total, desc=desc, unit=unit)
