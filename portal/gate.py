"""The one place that decides who may see which page (the enablement gate).

Runs before every request. Deny by default: every endpoint must be classified here, and one that is
not (a new blueprint nobody placed yet) is refused with 403 to everyone, signed in or not.

Classes, by blueprint (or by endpoint for app-level routes):
- public: sign-in, static files, health, app-level endpoints named `public_*`, the `webhooks`
  blueprint (each request authenticated by its own URL token and key): open to everyone;
- signed in: the rest of `auth` (sign out) and the home redirect: any signed-in user;
- support: the support console, for support staff only;
- admin + gated: the setup pages (and the sync pages, when they come): account admins whose account
  has the integration enabled. For a disabled account a GET is redirected to the feature-disabled
  landing screen, any other method refused with 403;
- admin landing: the feature-disabled landing screen, for admins; once enabled it redirects to setup.
Everything but public needs a signed-in user (anonymous GETs go to sign-in, other methods get 401).
New pages in a classified blueprint are covered by default: a setup page needs no decorator to be gated.
"""
from __future__ import annotations

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

PUBLIC_ENDPOINTS = frozenset({"auth.sign_in", "static", "health"})
# Machine callers that authenticate each request themselves (webhooks: unguessable URL + key).
PUBLIC_BLUEPRINTS = frozenset({"webhooks"})
SIGNED_IN_ENDPOINTS = frozenset({"home"})  # app-level routes (no blueprint) for any signed-in user
# devmail: development only (registered only then), the mails `make run`'s sink caught, for whoever tries the demo.
SIGNED_IN_BLUEPRINTS = frozenset({"auth", "devmail"})
SUPPORT_BLUEPRINTS = frozenset({"support"})
GATED_BLUEPRINTS = frozenset({"setup", "sync", "reports", "matching"})  # admin + integration enabled
LANDING_BLUEPRINTS = frozenset({"landing"})  # admin, integration disabled
ADMIN_BLUEPRINTS = GATED_BLUEPRINTS | LANDING_BLUEPRINTS
CLASSIFIED_BLUEPRINTS = SIGNED_IN_BLUEPRINTS | SUPPORT_BLUEPRINTS | ADMIN_BLUEPRINTS
NO_QUERY_IN_NEXT = frozenset({"setup.connect_callback"})


def classification(endpoint: str, blueprint: str | None) -> str | None:
    """"public", "signed_in", "support", "gated" or "landing"; None when the endpoint is unclassified."""
    if endpoint in PUBLIC_ENDPOINTS or (blueprint is None and endpoint.startswith("public_")) or blueprint in PUBLIC_BLUEPRINTS:
        return "public"
    if blueprint is None:
        return "signed_in" if endpoint in SIGNED_IN_ENDPOINTS else None
    if blueprint in SIGNED_IN_BLUEPRINTS:
        return "signed_in"
    if blueprint in SUPPORT_BLUEPRINTS:
        return "support"
    if blueprint in GATED_BLUEPRINTS:
        return "gated"
    if blueprint in LANDING_BLUEPRINTS:
        return "landing"
    return None


def register_gate(app: Flask) -> None:
    @app.before_request
    def enforce_access():
        endpoint = request.endpoint
        if endpoint is None:
            return None  # no route matched: the 404/405 handlers answer
        blueprint = request.blueprint
        kind = classification(endpoint, blueprint)
        if kind is None:
            abort(403, description="This page is not open to anyone yet.")
        if kind == "public":
            return None
        if not current_user.is_authenticated:
            if request.method == "GET":
                # The OAuth callback's query carries a one-time code: never copy it into `next`
                # (it would land in access logs); after sign-in the admin starts the connection again.
                target = request.path if endpoint in NO_QUERY_IN_NEXT else request.full_path.rstrip("?")
                return redirect(url_for("auth.sign_in", next=target))
            abort(401)
        if kind == "support" and not current_user.is_support:
            abort(403)
        if kind in ("gated", "landing") and not current_user.is_admin:
            abort(403)
        if kind == "gated" and not current_user.account.integration_enabled:
            if request.method == "GET":
                return redirect(url_for("landing.disabled"))
            abort(403, description="The QuickBooks Online integration is not enabled for this account.")
        if kind == "landing" and current_user.account.integration_enabled:
            return redirect(url_for("setup.overview"))
        return None
