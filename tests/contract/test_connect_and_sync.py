"""The product's happy path, and the accounting behaviours the mapping contract relies on."""
from decimal import Decimal

import pytest
from intuitlib.enums import Scopes
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.journalentry import Entity, JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.account import Account

from tests.contract.target import QboTarget, ref


@pytest.mark.emulator_only
def test_consent_page_connects_and_tokens_work(qbo_target: QboTarget):
    """Connect: consent page approved over HTTP → code → AuthClient.get_bearer_token → API calls."""
    emulator = qbo_target.emulator
    auth_client = qbo_target.auth_client.__class__(
        "connect-test-client", "connect-test-secret", "http://localhost:5000/cb", emulator.discovery_url)
    url = auth_client.get_authorization_url([Scopes.ACCOUNTING])
    redirect = emulator.authorize(url, realm_id=qbo_target.realm_id)
    auth_client.get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    assert auth_client.realm_id == qbo_target.realm_id
    assert auth_client.expires_in == 3600 and auth_client.x_refresh_token_expires_in == 8640000
    qb = emulator.quickbooks_class()(auth_client=auth_client, refresh_token=auth_client.refresh_token,
                                     company_id=qbo_target.realm_id, minorversion=75, use_decimal=True)
    assert Customer.count(qb=qb) == 0


def test_customer_invoice_payment_then_balance(qbo_target: QboTarget):
    customer = qbo_target.customer()
    assert customer.SyncToken == "0" and Decimal(str(customer.Balance)) == 0
    item = qbo_target.item()
    invoice = qbo_target.invoice(customer, item, "100.00")
    assert Decimal(str(invoice.TotalAmt)) == Decimal("100.00") and Decimal(str(invoice.Balance)) == Decimal("100.00")
    payment = qbo_target.payment(customer, "60.00", [(invoice, "60.00")])
    assert Decimal(str(payment.UnappliedAmt)) == 0
    assert Decimal(str(Invoice.get(invoice.Id, qb=qbo_target.qb).Balance)) == Decimal("40.00")
    assert qbo_target.balance(customer) == Decimal("40.00")


def test_other_current_liability_income_account_and_zero_payment_credit_application(qbo_target: QboTarget):
    """The contract's credit recipe: credit memo applied to an invoice by a zero-total payment."""
    customer = qbo_target.customer()
    item = qbo_target.item()  # income account = Other Current Liability (qbo-accounting-patterns §5)
    invoice = qbo_target.invoice(customer, item, "100.00")
    credit = qbo_target.credit_memo(customer, item, "30.00")
    assert Decimal(str(credit.RemainingCredit)) == Decimal("30.00")
    application = qbo_target.payment(customer, "0", [(invoice, "30.00"), (credit, "30.00")])
    assert Decimal(str(application.TotalAmt)) == 0
    assert Decimal(str(Invoice.get(invoice.Id, qb=qbo_target.qb).Balance)) == Decimal("70.00")
    assert Decimal(str(CreditMemo.get(credit.Id, qb=qbo_target.qb).RemainingCredit)) == 0
    assert qbo_target.balance(customer) == Decimal("70.00")


def test_refund_journal_entry_on_receivables_moves_the_balance_and_is_payable(qbo_target: QboTarget):
    customer = qbo_target.customer()
    receivable = Account.filter(AccountType="Accounts Receivable", qb=qbo_target.qb)[0]
    bank = Account.filter(AccountType="Bank", qb=qbo_target.qb)[0]
    journal = JournalEntry()
    debit = JournalEntryLine()
    debit.Amount = Decimal("25.00")
    debit.JournalEntryLineDetail = JournalEntryLineDetail()
    debit.JournalEntryLineDetail.PostingType = "Debit"
    debit.JournalEntryLineDetail.AccountRef = receivable.to_ref()
    debit.JournalEntryLineDetail.Entity = Entity()
    debit.JournalEntryLineDetail.Entity.Type = "Customer"
    debit.JournalEntryLineDetail.Entity.EntityRef = customer.to_ref()
    credit = JournalEntryLine()
    credit.Amount = Decimal("25.00")
    credit.JournalEntryLineDetail = JournalEntryLineDetail()
    credit.JournalEntryLineDetail.PostingType = "Credit"
    credit.JournalEntryLineDetail.AccountRef = bank.to_ref()
    journal.Line = [debit, credit]
    journal = journal.save(qb=qbo_target.qb)
    assert [line.Id for line in journal.Line] == ["0", "1"]
    assert qbo_target.balance(customer) == Decimal("25.00")
    qbo_target.payment(customer, "25.00", [(journal, "25.00")])
    assert qbo_target.balance(customer) == 0


def test_foreign_document_without_exchange_rate_is_stored_at_1(qbo_target: QboTarget):
    target = qbo_target.with_setup(multicurrency=True)
    customer = target.customer(CurrencyRef=ref("EUR"))
    item = target.item()
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.CurrencyRef = customer.CurrencyRef  # required in a multicurrency company (rules: Strict documents)
    invoice.Line = [target._sales_line(item, "100.00", target._tax_code("NON"))]
    invoice.ExchangeRate = None  # leave it out of the body
    invoice = invoice.save(qb=target.qb)
    assert invoice.CurrencyRef.value == "EUR" and Decimal(str(invoice.ExchangeRate)) == 1


@pytest.mark.emulator_only
def test_auto_apply_credits_applies_open_credit_to_a_new_invoice(qbo_target: QboTarget):
    target = qbo_target.with_setup(auto_apply_credits=True)
    customer = target.customer()
    item = target.item()
    target.credit_memo(customer, item, "40.00")
    invoice = target.invoice(customer, item, "100.00")
    assert Decimal(str(invoice.Balance)) == Decimal("60.00")
    prefs = target.preferences()
    assert prefs.SalesFormsPrefs.AutoApplyCredit is True

