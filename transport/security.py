"""Keyrings: the CURVE key material of a secure cluster, in pyzmq's certificate format, and the authorized keys.

Key model: the members share one **cluster key pair**, the CURVE *server* key of every member's ROUTER, so a
connecting DEALER needs no per-address key; every member and client has its own **key pair**, its CURVE *client* key,
and a node admits a connection only when ZAP finds that client key among the **authorized** public keys. Revoking a
name removes its public key: new handshakes with it fail, and a running node drops what an already connected holder
of that key sends within about a second, without a restart.

Layout of a keyring directory::

    DIR/cluster.key              the cluster's public key (every member and client needs it)
    DIR/cluster.key_secret       the cluster's secret key, mode 0600 (members only: it lets a node serve)
    DIR/authorized/NAME.key      the public keys allowed to connect (members need the folder)
    DIR/secrets/NAME.key_secret  NAME's key pair, mode 0600 (hand it to NAME only)

A client's keyring needs ``cluster.key`` and its own ``secrets/NAME.key_secret``; a node without
``cluster.key_secret`` serves nobody but loopback peers. Secret keys never appear in a ``repr`` or a log.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import attrs
import zmq
import zmq.auth

from zactor.transport.errors import KeyringError

__all__ = ["Credentials", "KeyringError", "AuthorizedKeys", "init_keyring", "add_key", "revoke_key", "key_names"]

log = logging.getLogger("zactor.security")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CLUSTER = "cluster"


def _check_name(name: str) -> str:
    if not _NAME.match(name) or name == CLUSTER:
        raise KeyringError(f"bad key name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-' (not {CLUSTER!r})")
    return name


def _new_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """Write NAME.key and NAME.key_secret (0600) into ``folder`` atomically: made in a private temporary folder."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:  # mode 0700: nobody else sees the secret appear
        public, secret = zmq.auth.create_certificates(scratch, name)
        os.chmod(secret, 0o600)
        targets = folder / f"{name}.key", folder / f"{name}.key_secret"
        os.replace(public, targets[0])
        os.replace(secret, targets[1])
    return targets


def init_keyring(directory: str | os.PathLike[str]) -> Path:
    """Create a keyring in ``directory``: the cluster key pair, and empty ``authorized/`` and ``secrets/`` folders.

    Raises:
        KeyringError: ``directory`` already holds a keyring.
    """
    root = Path(directory)
    if (root / f"{CLUSTER}.key_secret").exists():
        raise KeyringError(f"{root} already holds a keyring")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _new_pair(root, CLUSTER)
    (root / "authorized").mkdir(mode=0o700, exist_ok=True)
    (root / "secrets").mkdir(mode=0o700, exist_ok=True)
    return root


def add_key(directory: str | os.PathLike[str], name: str) -> Path:
    """Create a key pair for the member or client ``name`` and authorize it. Returns the secret key file.

    Raises:
        KeyringError: no keyring in ``directory``, a bad name, or ``name`` already has a key.
    """
    root = _existing(directory)
    _check_name(name)
    if (root / "secrets" / f"{name}.key_secret").exists() or (root / "authorized" / f"{name}.key").exists():
        raise KeyringError(f"{name!r} already has a key in {root}; revoke it first")
    public, secret = _new_pair(root / "secrets", name)
    shutil.copyfile(public, root / "authorized" / f"{name}.key")
    public.unlink()
    return secret


def revoke_key(directory: str | os.PathLike[str], name: str) -> None:
    """Remove ``name``'s authorized public key and its key pair: nodes refuse that key from now on.

    Raises:
        KeyringError: no keyring in ``directory``, or ``name`` is not authorized there.
    """
    root = _existing(directory)
    authorized = root / "authorized" / f"{_check_name(name)}.key"
    if not authorized.exists():
        raise KeyringError(f"{name!r} is not authorized in {root}")
    authorized.unlink()
    (root / "secrets" / f"{name}.key_secret").unlink(missing_ok=True)


def key_names(directory: str | os.PathLike[str]) -> list[str]:
    """The authorized names of the keyring, sorted.

    Raises:
        KeyringError: no keyring in ``directory``.
    """
    return sorted(p.stem for p in (_existing(directory) / "authorized").glob("*.key"))


def _existing(directory: str | os.PathLike[str]) -> Path:
    root = Path(directory)
    if not (root / f"{CLUSTER}.key").is_file():
        raise KeyringError(f"no keyring in {root} (create one with: zactor keys init {root})")
    return root


@attrs.frozen(repr=False)
class Credentials:
    """What a secure transport needs, loaded from a keyring by :meth:`load`. Keys are Z85-encoded bytes.

    Attributes:
        name: the key's name in the keyring.
        public_key: this principal's CURVE client public key.
        secret_key: its secret key.
        server_public_key: the cluster's public key (a DEALER's ``CURVE_SERVERKEY``).
        server_secret_key: the cluster's secret key, or ``None`` in a client keyring (the node then serves only
            loopback peers).
        authorized_dir: the folder of authorized public keys, or ``None`` in a client keyring.
    """

    name: str
    public_key: bytes
    secret_key: bytes
    server_public_key: bytes
    server_secret_key: bytes | None
    authorized_dir: Path | None

    @classmethod
    def load(cls, directory: str | os.PathLike[str], name: str) -> Credentials:
        """Read ``name``'s credentials from the keyring in ``directory``.

        Raises:
            KeyringError: no keyring there, no key pair for ``name``, or a keyring that can serve (it holds the
                cluster's secret key) without its ``authorized/`` folder.
        """
        root = _existing(directory)
        secret_file = root / "secrets" / f"{_check_name(name)}.key_secret"
        if not secret_file.is_file():
            raise KeyringError(f"no key pair for {name!r} in {root} (create one with: zactor keys add {root} {name})")
        public, secret = zmq.auth.load_certificate(secret_file)
        server_public, server_secret = zmq.auth.load_certificate(
            root / f"{CLUSTER}.key_secret" if (root / f"{CLUSTER}.key_secret").is_file() else root / f"{CLUSTER}.key"
        )
        if secret is None:
            raise KeyringError(f"{secret_file} holds no secret key")
        authorized = root / "authorized"
        if server_secret is not None and not authorized.is_dir():
            raise KeyringError(f"{root} holds the cluster's secret key but no authorized/ folder: nobody could connect")
        return cls(
            name=name,
            public_key=public,
            secret_key=secret,
            server_public_key=server_public,
            server_secret_key=server_secret,
            authorized_dir=authorized if server_secret is not None else None,
        )

    def __repr__(self) -> str:
        serves = "member" if self.server_secret_key is not None else "client"
        return f"Credentials(name={self.name!r}, {serves}, public_key={self.public_key.decode()!r})"


class AuthorizedKeys:
    """The authorized public keys of a keyring folder, re-read when the folder changes. ZAP asks :meth:`callback`
    (pyzmq's credentials-provider protocol) from its thread at each handshake; the transport calls :meth:`refresh`
    every ``reload_s`` seconds and asks :meth:`is_authorized` for each inbound envelope's ``User-Id``.

    Args:
        folder: the ``authorized/`` folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stamp: int | None = None
        self.keys: dict[bytes, str] = {}  # Z85 public key -> its name (the file's stem)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the folder if it changed (its modification time moved)."""
        try:
            stamp = self.folder.stat().st_mtime_ns
        except OSError:
            stamp = -1
        if stamp == self._stamp:
            return
        keys: dict[bytes, str] = {}
        for path in self.folder.glob("*.key") if stamp != -1 else ():
            try:
                keys[zmq.auth.load_certificate(path)[0]] = path.stem
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable authorized key %s: %s", path, exc)
        self._stamp, self.keys = stamp, keys

    def is_authorized(self, user_id: str) -> bool:
        """Whether the Z85 public key ``user_id`` (ZAP's ``User-Id`` of a connection) is still authorized."""
        return user_id.encode() in self.keys

    def name_of(self, user_id: str) -> str | None:
        """The name of the authorized key ``user_id`` (Z85), the connection's **principal**; ``None`` if revoked."""
        return self.keys.get(user_id.encode())

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP: admit the Z85 client ``key``."""
        self.refresh()
        return key in self.keys
