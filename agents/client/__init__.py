"""The ITSM inventory agent (`itsm-agent`).

Runs on managed machines: collects an `itsm-inventory/1` report, spools it locally and posts it
to the server over HTTPS with RFC 9421 HTTP message signatures (Ed25519).

This package must not import Django or anything else from the server side of the project: it
depends only on the standard library, psutil, requests, cryptography and
http-message-signatures.
"""

__version__ = "0.1.0"
