"""ZeroMQ endpoints as zactor accepts them: ``tcp://HOST:PORT``, ``ipc://PATH`` or ``inproc://NAME``."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["check_endpoint", "ipc_path"]


def check_endpoint(text: str) -> str:
    """Return ``text`` if it is an endpoint: ``tcp://HOST:PORT`` (port 0 to 65535), ``ipc://PATH`` or
    ``inproc://NAME``.

    Raises:
        ValueError: anything else (a missing ``tcp://``, no host, a port out of range), named in the message.
    """
    parts = urlsplit(text)
    if parts.scheme in ("ipc", "inproc") and (parts.netloc or parts.path):
        return text
    if parts.scheme != "tcp" or not parts.hostname:
        raise ValueError(f"{text!r} is not an endpoint: use tcp://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None or port < 0:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    return text


def ipc_path(endpoint: str) -> str:
    """The Unix socket path of an ``ipc://PATH`` endpoint, as libzmq reads it: ``@NAME`` is ``NAME`` in Linux's
    abstract namespace (a leading NUL byte)."""
    parts = urlsplit(endpoint)
    path = parts.netloc + parts.path
    return "\0" + path[1:] if path.startswith("@") else path
