"""Key rotation: the new key is kept aside until the server has confirmed it.

1. Generate the new key and save it as ``private_key.next.pem`` (a retry reuses it).
2. ``POST rotate-key/`` signed with the OLD key, carrying the new public key and a proof
   signed by the NEW key.
3. Only on a 200 answer does the new key replace ``private_key.pem``.

If the answer was lost (the server switched keys but the agent never heard), the old key now
gets 401; :func:`recover_pending_rotation` then tries the pending key and adopts it if the
server accepts it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import api
from .config import AgentConfig, StatePaths
from .files import fsync_dir
from .keys import (
    KeyFileError,
    generate_private_key,
    load_private_key,
    public_key_b64,
    rotation_proof,
    save_private_key,
)
from .signing import RequestSigner
from .transport import ServerUnavailable, Transport

logger = logging.getLogger(__name__)


def _pending_key(paths: StatePaths) -> Ed25519PrivateKey:
    if paths.pending_key.exists():
        logger.info("reusing the pending key from an unfinished rotation")
        return load_private_key(paths.pending_key)
    key = generate_private_key()
    save_private_key(key, paths.pending_key)
    return key


def _adopt(paths: StatePaths, config: AgentConfig, answer: dict[str, Any]) -> None:
    os.replace(paths.pending_key, paths.private_key)
    fsync_dir(paths.root)
    if answer.get("key_id"):
        config.key_id = str(answer["key_id"])
    if answer.get("status"):
        config.status = str(answer["status"])
    config.save(paths)


def rotate_key(paths: StatePaths, config: AgentConfig, transport: Transport) -> dict[str, Any]:
    """Rotate the agent's key; returns the server's answer. The old key stays on failure."""
    if not config.key_id:
        raise ValueError("not enrolled: no key_id in the configuration")
    old_key = load_private_key(paths.private_key)
    new_key = _pending_key(paths)
    signer = RequestSigner(config.key_id, old_key)
    try:
        answer = api.rotate_key(
            transport,
            signer,
            public_key_b64=public_key_b64(new_key),
            proof=rotation_proof(new_key, config.key_id),
        )
    except api.AuthError:
        if recover_pending_rotation(paths, config, transport):
            return {"key_id": config.key_id, "status": config.status, "recovered": True}
        raise
    except api.Rejected:
        # The server refused this key for good: forget it so the next attempt starts afresh.
        with contextlib.suppress(FileNotFoundError):
            paths.pending_key.unlink()
        raise
    _adopt(paths, config, answer)
    logger.info("key rotated; key_id %s", config.key_id)
    return answer


def recover_pending_rotation(paths: StatePaths, config: AgentConfig, transport: Transport) -> bool:
    """Adopt the pending key if the server already accepts it (its answer was lost)."""
    if not paths.pending_key.exists() or not config.key_id:
        return False
    try:
        pending = load_private_key(paths.pending_key)
        api.fetch_policy(transport, RequestSigner(config.key_id, pending))
    except (api.AgentAPIError, ServerUnavailable, KeyFileError) as exc:
        logger.debug("pending key not accepted: %s", exc)
        return False
    logger.warning("the server already accepts the pending key: finishing the rotation")
    _adopt(paths, config, {})
    return True
