"""Keeping database transactions off the network.

A use case that calls Intuit, QBO or Fusebill does it before changing anything, and ends its
(read-only) transaction first. Holding a transaction across a slow remote call would keep locks and
snapshots open for seconds; on SQLite in WAL mode it also breaks outright: a transaction that has read
cannot turn into a writer once another connection (e.g. a token refresh) has committed meanwhile.
"""
from __future__ import annotations

from sqlalchemy.orm import Session


class UnwrittenChangesError(RuntimeError):
    """A remote call was about to start with changes pending in the session (a programming error)."""


def before_remote_call(session: Session | None) -> None:
    """End `session`'s transaction (it must hold only reads) so the remote call runs outside it."""
    if session is None or not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        raise UnwrittenChangesError("call remote services before changing anything in the session")
    session.commit()
