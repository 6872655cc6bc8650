"""Intuit OAuth 2.0 bookkeeping: clients, authorization codes, grants and tokens (qbo-api §2.2-2.4).

A *grant* is one connection (client_id ↔ realm). It owns its access tokens and refresh tokens;
revoking any token of a grant revokes all of them. Times are epoch seconds of the virtual clock.

* Authorization codes: single use, `auth_code_ttl` (5 min), bound to client_id and redirect_uri.
* Access tokens: opaque, `access_token_ttl` (1 h), bound to realm and client_id.
* Refresh tokens: every refresh returns a new one valid `refresh_token_ttl` (100 days, rolling); the
  one used (and any still-current one) turns *stale* and keeps working for `stale_refresh_grace`
  (24 h) after that rotation, then `invalid_grant` (rules.STALE_REFRESH_ROTATES_CURRENT_TOKEN).
"""
from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass

from . import rules
from .config import QboEmulatorConfig

_ALNUM = string.ascii_letters + string.digits
# Header of a real access token (JWE compact, "dir" + A128CBC-HS256; qbo-response-examples §6.1).
_JWE_HEADER = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0"


class InvalidGrant(Exception):
    """The token endpoint answers 400 {"error": "invalid_grant"} (with `description` when set)."""

    def __init__(self, description: str | None = None):
        super().__init__(description or "invalid_grant")
        self.description = description


@dataclass
class AccessCheck:
    """Outcome of checking a bearer token: `ok`, or why not (for the 401 detail)."""

    ok: bool
    realm_id: str | None = None
    client_id: str | None = None
    detail: str | None = None


def _b64(length: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(length)).decode().rstrip("=")


def new_access_token() -> str:
    return f"{_JWE_HEADER}..{_b64(16)}.{_b64(180)}.{_b64(16)}"


def new_refresh_token() -> str:
    return "AB11" + "".join(secrets.choice(_ALNUM) for _ in range(46))


class OAuthState:
    def __init__(self) -> None:
        self.clients: dict[str, str] = {}
        self.codes: dict[str, dict] = {}
        self.grants: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}

    # ---- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {"clients": self.clients, "codes": self.codes, "grants": self.grants,
                "refresh_tokens": self.refresh_tokens, "access_tokens": self.access_tokens}

    @classmethod
    def from_json(cls, data: dict) -> "OAuthState":
        state = cls()
        state.clients = dict(data.get("clients", {}))
        state.codes = dict(data.get("codes", {}))
        state.grants = dict(data.get("grants", {}))
        state.refresh_tokens = dict(data.get("refresh_tokens", {}))
        state.access_tokens = dict(data.get("access_tokens", {}))
        return state

    # ---- clients ---------------------------------------------------------------------------------

    def client_matches(self, client_id: str, secret: str) -> bool:
        """Any client_id is accepted; the first secret seen for it is remembered and required later."""
        known = self.clients.get(client_id)
        if known is None:
            self.clients[client_id] = secret
            return True
        return secrets.compare_digest(known, secret)

    # ---- authorization codes -----------------------------------------------------------------------

    def issue_code(self, client_id: str, redirect_uri: str, realm_id: str, now: float, config: QboEmulatorConfig) -> str:
        code = "AB11" + "".join(secrets.choice(_ALNUM) for _ in range(36))
        self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "realm_id": realm_id,
                            "expires_at": now + config.auth_code_ttl, "used": False}
        return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str, now: float, config: QboEmulatorConfig) -> dict:
        entry = self.codes.get(code)
        if entry is None or entry["used"] or entry["expires_at"] <= now:
            raise InvalidGrant()
        if entry["client_id"] != client_id or entry["redirect_uri"] != redirect_uri:
            raise InvalidGrant()
        entry["used"] = True
        return self.new_grant(client_id, entry["realm_id"], now, config)

    # ---- grants and tokens -------------------------------------------------------------------------

    def new_grant(self, client_id: str, realm_id: str, now: float, config: QboEmulatorConfig) -> dict:
        grant_id = secrets.token_hex(8)
        self.grants[grant_id] = {"client_id": client_id, "realm_id": realm_id, "revoked": False, "created_at": now}
        return self._issue(grant_id, now, config)

    def _issue(self, grant_id: str, now: float, config: QboEmulatorConfig) -> dict:
        access = new_access_token()
        refresh = new_refresh_token()
        self.access_tokens[access] = {"grant": grant_id, "expires_at": now + config.access_token_ttl}
        self.refresh_tokens[refresh] = {"grant": grant_id, "expires_at": now + config.refresh_token_ttl, "rotated_at": None}
        self._prune(now, config)
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(config.access_token_ttl),
            "x_refresh_token_expires_in": int(config.refresh_token_ttl),
        }

    def grant_realm(self, grant_id: str) -> str | None:
        grant = self.grants.get(grant_id)
        return grant["realm_id"] if grant else None

    def refresh(self, client_id: str, token: str, now: float, config: QboEmulatorConfig) -> tuple[dict, str]:
        """New tokens for a refresh token; returns (token response, realm id)."""
        entry = self.refresh_tokens.get(token)
        description = rules.INVALID_REFRESH_TOKEN_DESCRIPTION
        if entry is None:
            raise InvalidGrant(description)
        grant = self.grants.get(entry["grant"])
        if grant is None or grant["revoked"] or grant["client_id"] != client_id:
            raise InvalidGrant(description)
        if entry["expires_at"] <= now:
            raise InvalidGrant(description)
        if entry["rotated_at"] is not None and now - entry["rotated_at"] >= config.stale_refresh_grace:
            raise InvalidGrant(description)
        for other in self.refresh_tokens.values():
            if other["grant"] == entry["grant"] and other["rotated_at"] is None:
                if other is entry or rules.STALE_REFRESH_ROTATES_CURRENT_TOKEN:
                    other["rotated_at"] = now
        return self._issue(entry["grant"], now, config), grant["realm_id"]

    def revoke(self, token: str) -> bool:
        """Revoke the grant that owns `token` (refresh or access token); False when unknown."""
        entry = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if entry is None:
            return False
        grant = self.grants.get(entry["grant"])
        if grant is not None:
            grant["revoked"] = True
        return True

    def check_access(self, token: str | None, realm_id: str, now: float) -> AccessCheck:
        if not token:
            return AccessCheck(False, detail=None)
        entry = self.access_tokens.get(token)
        if entry is None:
            return AccessCheck(False, detail="Malformed bearer token: too short or too long" if len(token) < 40 else None)
        grant = self.grants.get(entry["grant"])
        if grant is None or grant["revoked"]:
            return AccessCheck(False, detail=None)
        if entry["expires_at"] <= now:
            return AccessCheck(False, detail=f"Token expired: {token[:20]}")
        if grant["realm_id"] != realm_id:
            return AccessCheck(False, detail=rules.WRONG_REALM_401_DETAIL.format(realm=realm_id))
        return AccessCheck(True, realm_id=grant["realm_id"], client_id=grant["client_id"])

    def expire_access_tokens(self, now: float) -> int:
        count = 0
        for entry in self.access_tokens.values():
            if entry["expires_at"] > now:
                entry["expires_at"] = now
                count += 1
        return count

    def _prune(self, now: float, config: QboEmulatorConfig) -> None:
        """Forget codes and tokens that can never be valid again (keeps the state file small)."""
        self.codes = {k: v for k, v in self.codes.items() if v["expires_at"] > now - 86400}
        self.access_tokens = {k: v for k, v in self.access_tokens.items() if v["expires_at"] > now - 86400}
        self.refresh_tokens = {
            k: v for k, v in self.refresh_tokens.items()
            if v["expires_at"] > now - 86400
            and (v["rotated_at"] is None or now - v["rotated_at"] < config.stale_refresh_grace + 86400)
        }
