"""Every column that holds a secret, and re-encrypting them all (key rotation)."""
from __future__ import annotations

from sqlalchemy import select

from portal.models import Environment, QboConnection
from portal.services.context import ServiceContext
from portal.services.qbo_tokens import refresh_lock


def rotate_all(ctx: ServiceContext) -> int:
    """Re-encrypt every stored secret with the primary key; returns how many were re-encrypted.

    Each QBO connection is rotated under its token lock, with its row locked and re-read, so a token
    refresh committed meanwhile is never overwritten by the value read before it.
    """
    count = 0
    with ctx.database.session_scope() as session:
        for environment in session.scalars(select(Environment).where(Environment.fusebill_api_key_ciphertext.is_not(None))):
            environment.fusebill_api_key_ciphertext = ctx.vault.rotate(environment.fusebill_api_key_ciphertext or "")
            count += 1
        connection_ids = list(session.scalars(select(QboConnection.id)))
    for connection_id in connection_ids:
        with refresh_lock(ctx, connection_id), ctx.database.session_scope() as session:
            connection = session.get(QboConnection, connection_id, with_for_update=True, populate_existing=True)
            for column in ("access_token_ciphertext", "refresh_token_ciphertext"):
                value = getattr(connection, column)
                if value:
                    setattr(connection, column, ctx.vault.rotate(value))
                    count += 1
    return count
