"""With Redis down the set-up pages still answer: the optional company re-check is skipped and the
last known set-up shown, and the ledger page says it could not load the accounts."""
from __future__ import annotations

from datetime import timedelta

from tests.integration.conftest import connect, live


def test_pages_still_answer_when_redis_is_down(enabled, session, qbo, app):
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="No Redis Co"))
    connection = live(session, enabled.account)
    connection.company_checked_at -= timedelta(hours=1)  # a re-check is due
    session.commit()
    app.extensions["portal.settings"] = app.extensions["portal.settings"].with_overrides(redis_url="redis://127.0.0.1:9/0")
    app.extensions.pop("portal.redis", None)
    response = enabled.client.get("/setup/")
    assert response.status_code == 200
    # No Redis, no rate limiter: the optional re-check is skipped and the last known set-up shown.
    assert "No Redis Co" in response.get_data(as_text=True)
    ledgers = enabled.client.get("/setup/ledgers")
    assert ledgers.status_code == 200 and 'data-test="load-error"' in ledgers.get_data(as_text=True)
