"""The one place that decides who may see which page (the enablement gate).

Runs before every request. Rules, in order:
1. Public endpoints (sign-in, static files, health) are open to everyone.
2. Everything else needs a signed-in user.
3. The support console is for support staff only; the setup pages and the landing screen are for
   account admins only (403 otherwise).
4. An admin whose account does not have the integration enabled sees only the feature-disabled
   landing screen: a GET of any setup page, typed by hand or not, is redirected there; any other
   method is refused with 403. Once enabled, the landing screen redirects to the setup overview.
New pages are covered by default: a setup page needs no decorator to be gated.
"""
from __future__ import annotations

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

PUBLIC_ENDPOINTS = frozenset({"auth.sign_in", "static", "health"})
SUPPORT_BLUEPRINTS = frozenset({"support"})
ADMIN_BLUEPRINTS = frozenset({"setup", "landing"})
GATED_BLUEPRINTS = frozenset({"setup"})
NO_QUERY_IN_NEXT = frozenset({"setup.connect_callback"})


def register_gate(app: Flask) -> None:
    @app.before_request
    def enforce_access():  # type: ignore[no-untyped-def]
        endpoint = request.endpoint
        if endpoint is None:
            return None  # no route matched: the 404/405 handlers answer
        if endpoint in PUBLIC_ENDPOINTS or endpoint.startswith("public_"):
            return None
        if not current_user.is_authenticated:
            if request.method == "GET":
                # The OAuth callback's query carries a one-time code: never copy it into `next`
                # (it would land in access logs); after sign-in the admin starts the connection again.
                target = request.path if endpoint in NO_QUERY_IN_NEXT else request.full_path.rstrip("?")
                return redirect(url_for("auth.sign_in", next=target))
            abort(401)
        blueprint = request.blueprint
        if blueprint in SUPPORT_BLUEPRINTS and not current_user.is_support:
            abort(403)
        if blueprint in ADMIN_BLUEPRINTS and not current_user.is_admin:
            abort(403)
        if blueprint in GATED_BLUEPRINTS and not current_user.account.integration_enabled:
            if request.method == "GET":
                return redirect(url_for("landing.disabled"))
            abort(403, description="The QuickBooks Online integration is not enabled for this account.")
        if blueprint == "landing" and current_user.account.integration_enabled:
            return redirect(url_for("setup.overview"))
        return None
