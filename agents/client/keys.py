"""The agent's Ed25519 key pair: generate, save (mode 0600), load, encode, prove possession."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .files import atomic_write, ensure_dir

logger = logging.getLogger(__name__)

PRIVATE_KEY_MODE = 0o600
ROTATION_PROOF_PREFIX = "itsm-key-rotation:"


class KeyFileError(Exception):
    """The key file is missing, unreadable or not an Ed25519 private key."""


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, atomically, readable by the owner only."""
    ensure_dir(path.parent, 0o700)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    atomic_write(path, pem, mode=PRIVATE_KEY_MODE)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read the Ed25519 private key at ``path``.

    A key file readable by group or others is tightened to 0600 with a warning.
    Raises :class:`KeyFileError` when the file is missing or holds something else.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            logger.warning("private key %s had mode %o; setting it to 0600", path, mode)
            try:
                os.chmod(path, PRIVATE_KEY_MODE)
            except OSError as exc:
                logger.warning("could not tighten %s: %s", path, exc)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"no private key at {path} (run `itsm-agent keygen`)") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read private key {path}: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a readable PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return key


def public_key_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of the public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as the contract sends it: standard base64 of the raw 32 bytes."""
    return base64.b64encode(public_key_raw(key)).decode("ascii")


def public_key_from_b64(value: str) -> Ed25519PublicKey:
    """Decode a public key sent as standard base64 of the raw 32 bytes."""
    raw = base64.b64decode(value, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def rotation_message(key_id: str, new_public_key_b64: str) -> bytes:
    """The bytes the new key signs to prove possession during rotation."""
    return f"{ROTATION_PROOF_PREFIX}{key_id}:{new_public_key_b64}".encode()


def rotation_proof(new_key: Ed25519PrivateKey, key_id: str) -> str:
    """Base64 Ed25519 signature by ``new_key`` over :func:`rotation_message`."""
    message = rotation_message(key_id, public_key_b64(new_key))
    return base64.b64encode(new_key.sign(message)).decode("ascii")
