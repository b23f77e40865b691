"""Person numbers (BSN, onderwijsnummer) at rest: sealed with AES-256-GCM, found by a blind index.

The register needs two things of a BSN: to show it to a beheerder (and in the yearly BSN report),
and to recognise a participant registered twice. So each number is stored twice, and neither is
the number: `seal` (AES-GCM with a random nonce, the participant's id as associated data, so a
sealed number copied onto another participant does not open) and `index` (HMAC-SHA256: equal
numbers give equal indexes, and without the key an index cannot be reversed, not even by trying
all 10^9 numbers). Both keys are derived (HKDF-SHA256) from one register key from configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class VaultError(Exception):
    """A sealed value that does not open with this key (another key, or tampered with)."""


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"girlsday-register-" + purpose).derive(key)


def parse_key(text: str) -> bytes:
    """A register key as configured: 32 bytes, base64 (URL-safe or standard)."""
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except (ValueError, TypeError) as exc:
        raise ValueError("the register key must be 32 bytes in base64") from exc
    if len(key) != 32:
        raise ValueError("the register key must be 32 bytes in base64")
    return key


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class Vault:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(_derive(key, b"seal"))
        self._index_key = _derive(key, b"index")

    def seal(self, value: str, owner: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), owner.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, owner: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], owner.encode()).decode()
        except InvalidTag as exc:
            raise VaultError("this value does not open with the configured register key") from exc

    def index(self, kind: str, value: str) -> str:
        return hmac.new(self._index_key, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()
