"""Logging that never carries a secret.

requests-oauthlib and oauthlib (under python-quickbooks and intuit-oauth) log every request's headers
and the OAuth token itself at DEBUG. Those loggers are held at INFO whatever level the rest runs at,
so turning on DEBUG to chase a problem never writes a bearer or refresh token into a log.
"""
from __future__ import annotations

import logging

SECRET_LOGGING_LIBRARIES = ("requests_oauthlib", "oauthlib", "intuitlib")


def quiet_secret_loggers() -> None:
    for name in SECRET_LOGGING_LIBRARIES:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
