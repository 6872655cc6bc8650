"""`POST /webhooks/fusebill/<token>`: Fusebill's events for one environment (portal/services/webhooks.py).

Public in the gate (no sign-in, no CSRF token: Fusebill is the caller); the URL's token and the key
header are the authentication. Answers are small JSON; nothing a sender sends can raise here.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from portal.extensions import db_session, service_context
from portal.services.webhooks import KEY_HEADER, receive

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@blueprint.post("/fusebill/<token>")
def fusebill(token: str):
    database = db_session()
    answer = receive(database, service_context(), token[:128], request.headers.get(KEY_HEADER), request.get_data(cache=False))
    database.rollback()  # receive writes nothing to the database (Redis only)
    return jsonify(answer.body), answer.status
