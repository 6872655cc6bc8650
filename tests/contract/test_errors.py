"""Every QBO error the product must handle, raised through python-quickbooks: class and error_code."""
import json
from decimal import Decimal

import pytest
from quickbooks.exceptions import (
    AuthorizationException,
    GeneralException,
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.account import Account
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.journalentry import JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.payment import Payment

from emulators.qbo import QboEmulatorConfig
from emulators.qbo.testing import running_emulator
from tests.contract.conftest import connect_emulator
from tests.contract.target import QboTarget, ref
from tests.support.helpers import raised


def test_6240_duplicate_display_name(qbo_target: QboTarget):
    existing = qbo_target.customer()
    duplicate = Customer()
    duplicate.DisplayName = existing.DisplayName
    error = raised(QuickbooksException, duplicate.save, qb=qbo_target.qb)
    assert error.error_code == 6240
    assert error.message == "Duplicate Name Exists Error"


def test_6080_customer_without_any_name(qbo_target: QboTarget):
    error = raised(QuickbooksException, Customer().save, qb=qbo_target.qb)
    assert error.error_code == 6080


def test_2020_required_parameter_missing(qbo_target: QboTarget):
    nameless = Item()
    nameless.Type = "Service"
    nameless.IncomeAccountRef = qbo_target.deferred_revenue().to_ref()
    error = raised(ValidationException, nameless.save, qb=qbo_target.qb)
    assert error.error_code == 2020 and "Name" in error.detail

    invoice = Invoice()
    invoice.CustomerRef = qbo_target.customer().to_ref()
    error = raised(ValidationException, invoice.save, qb=qbo_target.qb)
    assert error.error_code == 2020 and "Line" in error.detail


def test_2500_invalid_reference(qbo_target: QboTarget):
    invoice = Invoice()
    invoice.CustomerRef = qbo_target.customer().to_ref()
    line = SalesItemLine()
    line.Amount = Decimal("10")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = ref("987654321")
    invoice.Line = [line]
    error = raised(ValidationException, invoice.save, qb=qbo_target.qb)
    assert error.error_code == 2500


def test_610_inactive_customer_in_a_transaction_and_missing_record(qbo_target: QboTarget):
    customer = qbo_target.customer()
    item = qbo_target.item()
    customer.Active = False
    customer.save(qb=qbo_target.qb)
    error = raised(ObjectNotFoundException, qbo_target.invoice, customer, item, "10.00")
    assert error.error_code == 610
    error = raised(ObjectNotFoundException, Invoice.get, 987654321, qb=qbo_target.qb)
    assert error.error_code == 610


def test_6070_amount_not_qty_times_unit_price(qbo_target: QboTarget):
    invoice = Invoice()
    invoice.CustomerRef = qbo_target.customer().to_ref()
    line = SalesItemLine()
    line.Amount = Decimal("100")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = qbo_target.item().to_ref()
    line.SalesItemLineDetail.Qty = 3
    line.SalesItemLineDetail.UnitPrice = Decimal("30")
    invoice.Line = [line]
    error = raised(QuickbooksException, invoice.save, qb=qbo_target.qb)
    assert error.error_code == 6070


def test_5010_stale_sync_token(qbo_target: QboTarget):
    customer = qbo_target.customer()
    first_copy = Customer.get(customer.Id, qb=qbo_target.qb)
    second_copy = Customer.get(customer.Id, qb=qbo_target.qb)
    first_copy.Notes = "first writer"
    first_copy.save(qb=qbo_target.qb)
    second_copy.Notes = "second writer"
    error = raised(QuickbooksException, second_copy.save, qb=qbo_target.qb)
    assert error.error_code == 5010


def test_6000_receivables_journal_line_without_customer(qbo_target: QboTarget):
    receivable = Account.filter(AccountType="Accounts Receivable", qb=qbo_target.qb)[0]
    bank = Account.filter(AccountType="Bank", qb=qbo_target.qb)[0]
    journal = JournalEntry()
    lines = []
    for posting, account in (("Debit", receivable), ("Credit", bank)):
        line = JournalEntryLine()
        line.Amount = Decimal("10")
        line.JournalEntryLineDetail = JournalEntryLineDetail()
        line.JournalEntryLineDetail.PostingType = posting
        line.JournalEntryLineDetail.AccountRef = account.to_ref()
        lines.append(line)
    journal.Line = lines
    error = raised(QuickbooksException, journal.save, qb=qbo_target.qb)
    assert error.error_code == 6000
    assert "When you use Accounts Receivable, you must choose a customer in the Name field." in error.detail


def test_6000_non_us_sales_line_without_tax_code(qbo_target: QboTarget):
    target = qbo_target.with_setup(country="CA", tax="codes")
    customer = target.customer()
    item = target.item()
    error = raised(QuickbooksException, target.invoice, customer, item, "10.00", tax_code=None)
    assert error.error_code == 6000
    assert "Make sure all your transactions have a GST/HST rate before you save" in error.detail


@pytest.mark.emulator_only
def test_6540_deposited_payment_cannot_change(qbo_target: QboTarget):
    customer = qbo_target.customer()
    invoice = qbo_target.invoice(customer, qbo_target.item(), "50.00")
    payment = qbo_target.payment(customer, "50.00", [(invoice, "50.00")])
    qbo_target.emulator.mark_deposited(qbo_target.realm_id, [payment.Id])
    payment = Payment.get(payment.Id, qb=qbo_target.qb)
    payment.PrivateNote = "edited after deposit"
    error = raised(QuickbooksException, payment.save, qb=qbo_target.qb)
    assert error.error_code == 6540
    error = raised(QuickbooksException, payment.delete, qb=qbo_target.qb)
    assert error.error_code == 6540


def test_over_applied_payment_line(qbo_target: QboTarget):
    customer = qbo_target.customer()
    invoice = qbo_target.invoice(customer, qbo_target.item(), "50.00")
    error = raised(QuickbooksException, qbo_target.payment, customer, "80.00", [(invoice, "80.00")])
    assert error.error_code == 6000
    assert Decimal(str(Invoice.get(invoice.Id, qb=qbo_target.qb).Balance)) == Decimal("50.00")


def test_401_expired_access_token_is_authorization_exception(qbo_target: QboTarget):
    if qbo_target.is_emulator:
        qbo_target.emulator.advance_clock(3601)  # the access token's hour is over
        qb = qbo_target.qb
    else:  # a real sandbox: an access token QBO does not accept gets the same 401
        auth = qbo_target.auth_client
        stale = type(auth)(auth.client_id, auth.client_secret, auth.redirect_uri, auth.environment,
                           access_token="expired-" + "x" * 60, refresh_token=auth.refresh_token)
        qb = type(qbo_target.qb)(auth_client=stale, refresh_token=auth.refresh_token, company_id=qbo_target.realm_id,
                                 minorversion=75)
    error = raised(AuthorizationException, Customer.all, qb=qb)
    assert error.error_code == 401
    assert "AuthenticationFailed" in error.detail


@pytest.mark.emulator_only
def test_429_throttle_surfaces_as_error_reading_json(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with running_emulator(QboEmulatorConfig()) as emulator:  # QBO's real limits: 10 requests/second per app
        target = connect_emulator(emulator)
        with pytest.raises(QuickbooksException) as caught:
            for _ in range(12):
                target.qb.get(f"{target.qb.api_url}/company/{target.realm_id}/companyinfo/{target.realm_id}")
        assert type(caught.value) is QuickbooksException
        assert caught.value.error_code == 10000
        assert caught.value.message.startswith("Error reading json response: <?xml")


def test_4000_query_parse_error_and_maxresults_over_1000(qbo_target: QboTarget):
    error = raised(ValidationException, qbo_target.qb.query, "SELECT * FROM Customer WHERE")
    assert error.error_code == 4000
    error = raised(ValidationException, Customer.all, max_results=1001, qb=qbo_target.qb)
    assert error.error_code in (4000, 4001)


def test_1040_batch_over_30_items(qbo_target: QboTarget):
    items = [{"bId": f"b{n}", "operation": "create", "Customer": {"DisplayName": qbo_target.unique("Batch limit")}}
             for n in range(31)]
    error = raised(GeneralException, qbo_target.qb.batch_operation, json.dumps({"BatchItemRequest": items}))
    assert error.error_code == 1040
