"""The reconciliation pages: the latest report with mismatches first, its ledgers and run-history
chart, the CSV (safe from formula injection), another account's report answering 404, and Check now
refused without a connection, queued once with one (reports inserted directly: the job that builds
them is tested in tests/sync/test_reconciliation.py)."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from jobs.queues import DEFAULT
from portal.models import Environment, QboConnection, ReconciliationLine, ReconciliationReport, SyncRun, utcnow
from portal.services.reconciliation import FusebillCustomer, OpenPair, QboCustomer, compare_customer
from tests.support.helpers import writes_recorded
from tests.portal_fixtures import post_form, sign_in


@pytest.fixture
def admin(client, make_account, admin_of):
    account = make_account(enabled=True)
    user = admin_of(account)
    sign_in(client, user)
    return user


def _environment(session, account_id, kind="sandbox"):
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == kind))


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _customer(cid, ar, name=None, currency="USD", status="Active"):
    return FusebillCustomer(cid, name or f"Customer {cid}", currency, status, None if ar is None else Decimal(ar))


def _report(session, account_id, status="done", lines=(), **values):
    environment = _environment(session, account_id)
    report = ReconciliationReport(environment_id=environment.id, realm_id="9130", status=status, total_difference=values.pop("total_difference", {}),
                                  ledgers=values.pop("ledgers", []), details=values.pop("details", {}),
                                  finished_at=utcnow() if status in ("done", "failed") else None, **values)
    session.add(report)
    session.flush()
    for line in lines:
        session.add(ReconciliationLine(report_id=report.id, customer_id=line.customer_id, name=line.name, currency=line.currency,
                                       fusebill_ar=line.fusebill_ar, qbo_balance=line.qbo_balance, difference=line.difference,
                                       status=line.status, qbo_customer_id=line.qbo_customer_id, note=line.note,
                                       pair_refund_open=line.pair.refund_open if line.pair else None,
                                       pair_unapplied=line.pair.unapplied if line.pair else None, rank=line.rank, size=line.size))
    session.commit()
    return report


def _lines():
    """One of each kind, inserted in an order the page must not keep."""
    return [
        compare_customer(_customer("101", "10.00"), "1", QboCustomer("1", Decimal("10.00"), "USD"), None),
        compare_customer(_customer("102", "10.00"), "2", QboCustomer("2", Decimal("10.05"), "USD"), None),  # 0.05 over
        compare_customer(_customer("103", None, status="Active"), None, None, None),
        compare_customer(_customer("104", "0.00"), "4", QboCustomer("4", Decimal("0.00"), "USD"), OpenPair(Decimal("25.00"), Decimal("25.00"))),
        compare_customer(_customer("105", "100.00", name="=HYPERLINK(\"http://evil\")"), "5", QboCustomer("5", Decimal("95.00"), "USD"), None),
        compare_customer(_customer("106", "7.00", name="@SUM(A1)"), "6", None, None),
    ]


LEDGERS = [
    {"ledgers": ["deferred_revenue"], "labels": ["Deferred Revenue"], "account_id": "21", "account_name": "Fusebill Deferred Revenue",
     "account_type": "Other Current Liability", "account_currency": "USD", "fusebill": {"USD": "1000.00"}, "records": 12,
     "qbo": "1012.34", "difference": "12.34", "status": "mismatch", "notes": ["The account's balance holds everything posted to it."]},
    {"ledgers": ["credits"], "labels": ["Credits"], "account_id": "25", "account_name": "Fusebill Credits Given", "account_type": "Income",
     "account_currency": "USD", "fusebill": {}, "records": 0, "qbo": None, "difference": None, "status": "unread",
     "notes": ["QuickBooks reports no balance for Income accounts through its API."]},
]


# ------------------------------------------------------------------ the page
def test_a_report_lists_mismatches_first_with_its_summary_links_ledgers_and_reads_only(client, session, admin, migrated_database):
    report = _report(session, admin.account_id, lines=_lines(), customers_checked=5, matched=1, mismatched=2, accepted_pairs=1,
                     missing_in_qbo=1, not_synced=1, total_difference={"USD": "5.05"}, ledgers=LEDGERS,
                     details={"notices": ["Read 5 customer overviews."], "qbo_requests": 1, "fusebill_requests": 6})
    with writes_recorded(migrated_database.database.engine) as writes:
        body = _text(client.get("/reports/"))
        same = _text(client.get(f"/reports/{report.id}"))
    assert writes == []
    assert f'data-report="{report.id}" data-status="done"' in body and 'data-report="' in same
    order = re.findall(r'<tr data-customer="(\d+)" data-status="([^"]+)"', body)
    assert order == [("105", "mismatch"), ("102", "mismatch"), ("106", "missing-in-QBO"), ("104", "accepted-pair"), ("101", "matched"),
                     ("103", "not-synced")]
    for key, value in {"checked": "5", "matched": "1", "mismatched": "2", "missing": "1", "accepted-pairs": "1", "not-synced": "1",
                       "total-difference": "5.05 USD"}.items():
        assert f'data-count="{key}">{value}<' in body, key
    assert "3 of 5 synced customers do not match: they are listed first." in body
    assert 'href="/sync/records?customer=105"' in body and body.count('data-test="records-link"') == 6
    row = body[body.find('data-customer="105"'):][:900]
    assert 'data-field="difference">-5.00<' in row and "QuickBooks holds 5.00 USD less than Fusebill." in row
    pair = body[body.find('data-customer="104"'):][:1200]
    assert "open refund 25.00 · unapplied payment 25.00" in pair and "Matched (open refund pair)" in pair
    ledgers = body[body.find('data-test="report-ledgers"'):]
    assert 'data-ledger="deferred_revenue" data-status="mismatch"' in ledgers and 'data-field="difference">12.34<' in ledgers
    assert 'data-ledger="credits" data-status="unread"' in ledgers and "not read" in ledgers and "no balance for Income accounts" in ledgers
    assert "Read 5 customer overviews." in body
    assert 'http-equiv="refresh"' not in body and 'data-test="check-now"' in body
    assert 'href="/reports/' + str(report.id) + '.csv"' in body


def test_the_latest_report_of_the_active_environment_is_shown(client, session, admin):
    _report(session, admin.account_id, lines=_lines()[:1], customers_checked=1, matched=1)
    newest = _report(session, admin.account_id, lines=_lines()[1:2], customers_checked=1, mismatched=1)
    body = _text(client.get("/reports/"))
    assert f'data-report="{newest.id}"' in body and re.findall(r'<tr data-customer="(\d+)"', body) == ["102"]


def test_a_queued_report_refreshes_and_a_failed_one_shows_its_error(client, session, admin):
    queued = _report(session, admin.account_id, status="queued")
    body = _text(client.get("/reports/"))
    assert 'data-test="report-building"' in body and f"Report #{queued.id} is queued" in body
    assert '<meta http-equiv="refresh" content="3">' in body and 'data-test="check-now"' not in body
    queued.status, queued.finished_at, queued.error = "failed", utcnow(), "The report could not be built: Could not reach Fusebill."
    session.commit()
    body = _text(client.get("/reports/"))
    assert 'data-test="report-error"' in body and "The report could not be built: Could not reach Fusebill." in body
    assert 'http-equiv="refresh"' not in body and 'data-test="check-now"' in body


def test_the_run_history_chart_is_inline_svg_without_inline_styles_and_has_a_table(client, session, admin):
    environment = _environment(session, admin.account_id)
    for number, (synced, failed) in enumerate([(120, 0), (40, 3), (0, 0), (7, 1)]):
        session.add(SyncRun(environment_id=environment.id, realm_id="9130", status="partial" if failed else "succeeded",
                            counts={"records_synced": synced, "records_failed": failed}, started_at=utcnow() - timedelta(hours=10 - number)))
    session.commit()
    body = client.get("/reports/").get_data(as_text=True)
    chart = body[body.find("<svg"):body.find("</svg>")]
    assert 'role="img"' in chart and 'aria-labelledby="history-title history-desc"' in chart
    assert "The last 4 sync runs: 167 records synced and 4 failed in all" in html.unescape(chart)
    assert chart.count('<rect class="chart-synced"') == 4 and chart.count('<rect class="chart-failed"') == 4
    heights = [float(h) for h in re.findall(r'class="chart-failed"[^>]*height="([\d.]+)"', chart)]
    assert heights[0] == 0 and heights[1] >= 2 and heights[3] >= 2  # one failure still shows
    assert "style=" not in body and "<script" not in body
    table = body[body.find('data-test="history-table"'):]
    assert table.count("<tr data-run=") == 4


def test_no_report_yet_and_check_now_refused_without_a_connection(client, session, admin):
    body = _text(client.get("/reports/"))
    assert 'data-test="no-report"' in body and 'data-test="no-history"' in body
    assert "Connect QuickBooks first: the report reads every customer's balance from the connected QuickBooks company." in body
    response = post_form(client, "/reports/", "/reports/check")
    assert response.status_code == 302 and response.headers["Location"].endswith("/reports/")
    page = _text(client.get("/reports/"))
    flash = page[page.find('class="flash flash-error"'):][:600]
    assert "Connect QuickBooks first" in flash and "Enter this environment's Fusebill API key first" in flash
    assert session.scalar(select(func.count()).select_from(ReconciliationReport)) == 0


def test_check_now_queues_one_report_at_a_time_and_replaces_a_lost_one(client, session, admin, settings):
    environment = _environment(session, admin.account_id)
    environment.fusebill_api_key_ciphertext = "not-read-here"
    session.add(QboConnection(environment_id=environment.id, realm_id="4620", company_name="Books Ltd"))
    session.commit()
    first = post_form(client, "/reports/", "/reports/check")
    report_id = int(first.headers["Location"].rsplit("/", 1)[1])
    second = post_form(client, "/reports/", "/reports/check")
    assert second.headers["Location"] == first.headers["Location"]  # the one queued, not a second
    report = session.get(ReconciliationReport, report_id)
    session.refresh(report)
    assert (report.status, report.realm_id, report.requested_by_id) == ("queued", "4620", admin.id)
    queue = Queue(DEFAULT, connection=Redis.from_url(settings.redis_url))
    job = queue.fetch_job(f"reconcile-{report_id}")
    assert job is not None and job.args == (report_id,)
    job.delete()
    # A report lost by a dead worker (queued an hour ago) no longer blocks Check now.
    report.requested_at = utcnow() - timedelta(hours=2)
    session.commit()
    third = post_form(client, "/reports/", "/reports/check")
    new_id = int(third.headers["Location"].rsplit("/", 1)[1])
    session.refresh(report)
    assert new_id != report_id and report.status == "failed" and "did not finish within an hour" in report.error
    queue.fetch_job(f"reconcile-{new_id}").delete()
    page = _text(client.get(f"/reports/{new_id}"))
    assert 'data-test="report-building"' in page


def test_check_now_needs_the_csrf_token(client, admin):
    assert client.post("/reports/check").status_code == 400


# ------------------------------------------------------------------ CSV
def test_the_csv_has_every_line_mismatches_first_and_no_formula_runs(client, session, admin):
    report = _report(session, admin.account_id, lines=_lines(), customers_checked=5)
    with client.get(f"/reports/{report.id}.csv") as response:
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert f'filename="reconciliation-{report.id}.csv"' in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:7] == ["Fusebill customer id", "Name", "Currency", "Fusebill A/R", "QuickBooks balance", "Difference", "Status"]
    assert [r[0] for r in rows[1:]] == ["105", "102", "106", "104", "101", "103"]
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\")" and rows[3][1] == "'@SUM(A1)"
    assert rows[1][5] == "-5.00" and rows[1][6] == "Mismatch"  # a plain negative amount stays a number
    assert rows[4][8:10] == ["25.00", "25.00"]
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    assert all(not cell.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", cell) for row in rows for cell in row)


# ------------------------------------------------------------------ access
def test_another_accounts_report_answers_404(client, session, admin, make_account, admin_of):
    other = make_account(enabled=True)
    admin_of(other)
    theirs = _report(session, other.id, lines=_lines())
    assert client.get(f"/reports/{theirs.id}").status_code == 404
    assert client.get(f"/reports/{theirs.id}.csv").status_code == 404
    assert client.get("/reports/999999").status_code == 404
    assert 'data-test="no-report"' in _text(client.get("/reports/"))  # the other account's report is not "the latest"


def test_the_report_pages_are_gated(client, session, make_account, admin_of, support_user):
    assert client.get("/reports/").status_code == 302  # to sign-in
    assert client.post("/reports/check").status_code == 401
    sign_in(client, support_user)
    assert client.get("/reports/").status_code == 403
    disabled = make_account(enabled=False)
    fresh = client.application.test_client()
    sign_in(fresh, admin_of(disabled))
    assert fresh.get("/reports/").headers["Location"].endswith("/integration-disabled/")


def test_the_nav_links_to_the_report(client, admin):
    body = client.get("/sync/").get_data(as_text=True)
    assert 'data-nav="reports.index"' in body and ">Reconciliation</a>" in body
