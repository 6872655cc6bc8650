"""Template filters and the values every page can use."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from flask import Flask, current_app
from flask_login import current_user

ENVIRONMENT_INFO = {
    "sandbox": {
        "label": "Sandbox",
        "pairing": "Fusebill staging ↔ QuickBooks Online sandbox",
        "css": "env-sandbox",
    },
    "production": {
        "label": "Production",
        "pairing": "Fusebill production ↔ QuickBooks Online production",
        "css": "env-production",
    },
}


def format_datetime(value: datetime | None, fmt: str = "%d %b %Y, %H:%M UTC") -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(fmt)


def format_percent(value: Decimal | None) -> str:
    """9.97500 → "9.975 %", 13.00000 → "13 %"."""
    if value is None:
        return "—"
    text = format(value.normalize(), "f")
    return f"{text} %"


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["percent"] = format_percent

    @app.context_processor
    def environment_banner():
        info = None
        if current_user.is_authenticated and current_user.is_admin and current_user.account is not None:
            if current_user.account.integration_enabled:
                info = ENVIRONMENT_INFO[current_user.account.active_environment]
        return {"environment_info": info, "warning_days": current_app.extensions["portal.settings"].refresh_token_warning_days}
