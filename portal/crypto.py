"""Encryption at rest for tokens and API keys (Fernet, with key rotation).

`ENCRYPTION_KEYS` holds one or more Fernet keys. The first encrypts; every key decrypts, so a new key
can be put in front, everything re-encrypted (`flask --app wsgi rotate-keys`), and the old key then
dropped. Plaintext never reaches the database, the logs or a page.
"""
from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(RuntimeError):
    """Stored ciphertext cannot be read with any configured key."""


class Vault:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise VaultError(
                "a stored secret cannot be decrypted with the configured ENCRYPTION_KEYS "
                "(was a key removed before `rotate-keys` ran?)"
            ) from error

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the primary key (no-op in effect when it already is)."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise VaultError("a stored secret cannot be decrypted with the configured ENCRYPTION_KEYS") from error


def mask(secret: str, visible: int = 4) -> str:
    """What a page may show of a secret: its last few characters."""
    return secret[-visible:] if len(secret) > visible * 3 else ""
