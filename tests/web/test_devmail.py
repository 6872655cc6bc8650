"""/dev/mail: in development the mails the local SMTP sink caught, newest first; elsewhere a 404."""
from __future__ import annotations

import time

import pytest

from portal.devmail.sink import mail_folder, start_sink
from portal.models import ROLE_ADMIN
from portal.services.notifications import send_mail
from portal.settings import SmtpSettings
from tests.portal_fixtures import sign_in


@pytest.fixture
def settings_overrides(request):  # type: ignore[no-untyped-def]
    return getattr(request, "param", {})


@pytest.fixture
def sink(settings):  # type: ignore[no-untyped-def]
    """The sink `make run` starts, catching into this app's instance folder, on a free port."""
    controller = start_sink(mail_folder(settings.instance_path))
    yield SmtpSettings(host="127.0.0.1", port=controller.port, tls="off", sender="Sync <sync@example.com>")
    controller.stop()


@pytest.mark.parametrize("settings_overrides", [{"env": "development"}], indirect=True)
def test_development_page_lists_caught_mails_newest_first(client, sink, make_account, make_user):
    send_mail(sink, "books@example.com", "QuickBooks sync partial: 2 failed", "Run #4 finished partly.\n\nOpen the run: http://x/sync/runs/4\n",
              "<p>Run #4</p>")
    time.sleep(0.01)
    send_mail(sink, "ops@example.com", "Reconnect QuickBooks: <Acme & Co>", "QuickBooks no longer accepts the connection.\n", "<p>x</p>")

    assert client.get("/dev/mail").status_code == 302  # signed-in users only, like every other page
    sign_in(client, make_user(ROLE_ADMIN, make_account(enabled=True)))
    response = client.get("/dev/mail")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.index("Reconnect QuickBooks") < page.index("QuickBooks sync partial")  # newest first
    assert "Reconnect QuickBooks: &lt;Acme &amp; Co&gt;" in page and "<Acme & Co>" not in page  # escaped, never markup
    assert "ops@example.com" in page and "books@example.com" in page
    assert "Open the run: http://x/sync/runs/4" in page and "also sent as HTML" in page
    assert "Sync &lt;sync@example.com&gt;" in page
    assert page.count("data-mail=") == 2


@pytest.mark.parametrize("settings_overrides", [{"env": "development"}], indirect=True)
def test_development_page_says_when_nothing_was_caught(client, make_account, make_user):
    sign_in(client, make_user(ROLE_ADMIN, make_account(enabled=True)))
    page = client.get("/dev/mail").get_data(as_text=True)
    assert 'data-test="no-mail"' in page and "No SMTP server is configured" in page


@pytest.mark.parametrize("settings_overrides", [{}, {"env": "production"}], indirect=True)
def test_page_is_absent_outside_development(client, sink, make_account, make_user, support_user):
    send_mail(sink, "books@example.com", "Caught", "body", "<p>body</p>")
    assert client.get("/dev/mail").status_code == 404
    sign_in(client, support_user)
    assert client.get("/dev/mail").status_code == 404
