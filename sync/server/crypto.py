"""Secrets at rest: keyed lookups and encrypted copies of access codes, token and password hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"invigil/" + purpose).derive(master)


class Keyring:
    """Keys derived from the server secret; a copy of the database without the key file reveals no codes."""

    def __init__(self, master: bytes) -> None:
        self._lookup = _subkey(master, b"code-lookup")
        self._aead = AESGCM(_subkey(master, b"at-rest"))

    def code_lookup(self, canonical_code: str) -> str:
        """A keyed hash used to find an allocation by its code without storing the code."""
        return hmac.new(self._lookup, canonical_code.encode(), hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, *, purpose: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def unseal(self, sealed: bytes, *, purpose: str) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], purpose.encode())


def new_token() -> tuple[str, str]:
    """A bearer token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a plain SHA-256 is enough to make a database copy useless.
    return hashlib.sha256(token.encode()).hexdigest()


def new_result_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the username is unknown, so both paths cost the same time.
DUMMY_PASSWORD_HASH = _hasher.hash("not a real password")
