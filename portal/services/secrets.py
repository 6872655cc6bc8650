"""Every column that holds a secret, and re-encrypting them all (key rotation)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.crypto import Vault
from portal.models import Environment, QboConnection

SECRET_COLUMNS = (
    (Environment, ("fusebill_api_key_ciphertext",)),
    (QboConnection, ("access_token_ciphertext", "refresh_token_ciphertext")),
)


def rotate_all(session: Session, vault: Vault) -> int:
    count = 0
    for model, columns in SECRET_COLUMNS:
        for row in session.scalars(select(model)):
            for column in columns:
                value = getattr(row, column)
                if value:
                    setattr(row, column, vault.rotate(value))
                    count += 1
    return count
