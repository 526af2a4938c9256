"""Framing of the messages between the host process and a sandbox worker, over a pair of pipes.

A frame is one kind byte, a 4-byte big-endian length and the payload. Workers only ever send JSON (``j``): nothing
a worker says is unpickled by the host. The host may also send pickled world data (``p``), which is trusted.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct(">cI")
JSON_FRAME = b"j"
PICKLE_FRAME = b"p"


class ChannelClosed(EOFError):
    """The other end closed its pipe (or died)."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


def encode(message: Any, *, pickled: bool = False) -> bytes:
    """Frame one message.

    Args:
        message: JSON data (or any picklable object with ``pickled``).
        pickled: Send with pickle instead of JSON.

    Returns:
        The bytes to write.
    """
    if pickled:
        kind, payload = PICKLE_FRAME, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        kind, payload = JSON_FRAME, json.dumps(message, ensure_ascii=False).encode()
    return _HEADER.pack(kind, len(payload)) + payload


def write_frame(fd: int, data: bytes) -> None:
    """Write a whole frame to a file descriptor.

    Args:
        fd: A pipe's write end.
        data: An encoded frame.

    Raises:
        ChannelClosed: If the reader is gone.
    """
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except (BrokenPipeError, OSError) as exc:
        raise ChannelClosed(str(exc)) from None


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise ChannelTimeout(
                    f"no message within the time limit ({size - remaining}/{size} bytes read)"
                )
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other end closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, *, deadline: float | None = None, allow_pickle: bool = False) -> Any:
    """Read one message.

    Args:
        fd: A pipe's read end.
        deadline: ``time.monotonic()`` value after which to give up; ``None`` waits forever.
        allow_pickle: Accept pickled frames (only the worker does: the host is trusted).

    Returns:
        The decoded message.

    Raises:
        ChannelClosed: On end of file.
        ChannelTimeout: If the deadline passes first.
        ValueError: For a frame of a kind not allowed here, or undecodable JSON.
    """
    kind, size = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    payload = _read_exact(fd, size, deadline)
    if kind == JSON_FRAME:
        return json.loads(payload)
    if kind == PICKLE_FRAME and allow_pickle:
        return pickle.loads(payload)
    raise ValueError(f"unexpected frame kind {kind!r}")
