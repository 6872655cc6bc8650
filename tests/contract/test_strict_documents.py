"""Issue #7 through python-quickbooks: what QBO refuses (emulator rules.py, section "Strict documents").

Each test runs against the emulator and, with credentials, a real sandbox; codes the reference does not
confirm are asserted anyway, so a sandbox run shows where the emulator's choice is wrong.
"""
import uuid
from decimal import Decimal

import pytest
from quickbooks.exceptions import GeneralException, QuickbooksException, ValidationException
from quickbooks.objects.account import Account
from quickbooks.objects.base import LinkedTxn
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.journalentry import Entity, JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.tax import TaxLine, TaxLineDetail, TxnTaxDetail
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.taxrate import TaxRate

from tests.contract.target import QboTarget, linked, ref


def raised(exception_type, call, *args, **kwargs) -> QuickbooksException:
    with pytest.raises(QuickbooksException) as caught:
        call(*args, **kwargs)
    assert type(caught.value) is exception_type, f"{type(caught.value).__name__}: {caught.value}"
    return caught.value


def named(target: QboTarget, entity_class, name: str):
    rows = entity_class.filter(Name=name, qb=target.qb)
    if not rows:
        pytest.skip(f"the company has no {entity_class.__name__} named {name!r}")
    return rows[0]


def tax_line(rate: TaxRate, amount: str) -> TaxLine:
    line = TaxLine()
    line.Amount = Decimal(amount)
    line.DetailType = "TaxLineDetail"
    line.TaxLineDetail = TaxLineDetail()
    line.TaxLineDetail.TaxRateRef = ref(rate.Id)
    line.TaxLineDetail.TaxPercent = rate.RateValue  # python-quickbooks would send 0
    line.TaxLineDetail.NetAmountTaxable = Decimal("100.00")
    return line


def journal_with_receivable_second(target: QboTarget, customer: Customer, amount: str, **fields) -> JournalEntry:
    """Line 0 credits Deferred Revenue, line 1 debits A/R for `customer`."""
    receivable = Account.where("AccountType = 'Accounts Receivable'", qb=target.qb)[0]
    entry = JournalEntry()
    entry.Line = [je_line("Credit", target.deferred_revenue(), amount), je_line("Debit", receivable, amount, customer)]
    for key, value in fields.items():
        setattr(entry, key, value)
    return entry


def je_line(posting: str, account: Account, amount: str, customer: Customer | None = None) -> JournalEntryLine:
    line = JournalEntryLine()
    line.Amount = Decimal(amount)
    line.JournalEntryLineDetail = JournalEntryLineDetail()
    line.JournalEntryLineDetail.PostingType = posting
    line.JournalEntryLineDetail.AccountRef = account.to_ref()
    if customer is not None:
        line.JournalEntryLineDetail.Entity = Entity()
        line.JournalEntryLineDetail.Entity.Type = "Customer"
        line.JournalEntryLineDetail.Entity.EntityRef = customer.to_ref()
    return line


def payment_linking(customer: Customer, total: Decimal | None, *links: tuple[LinkedTxn, str]) -> Payment:
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = total
    payment.Line = []
    for link, amount in links:
        line = PaymentLine()
        line.Amount = Decimal(amount)
        line.LinkedTxn = [link]
        payment.Line.append(line)
    return payment


# ---- 2. tax overrides ------------------------------------------------------------------------------------

def test_tax_lines_must_agree_with_the_lines_tax_codes(qbo_target: QboTarget):
    target = qbo_target.with_setup(country="CA", tax="codes")
    gst_code = named(target, TaxCode, "GST")
    gst, qst = named(target, TaxRate, "GST"), named(target, TaxRate, "QST")
    customer, item = target.customer(), target.item()

    def invoice(total: str, *lines: TaxLine) -> Invoice:
        document = Invoice()
        document.CustomerRef = customer.to_ref()
        document.Line = [target._sales_line(item, "100.00", gst_code.Id)]
        document.TxnTaxDetail = TxnTaxDetail()
        document.TxnTaxDetail.TotalTax = Decimal(total)
        document.TxnTaxDetail.TaxLine = list(lines)
        return document

    wrong_rate = raised(QuickbooksException, invoice("9.98", tax_line(qst, "9.98")).save, qb=target.qb)
    assert wrong_rate.error_code == 6000 and wrong_rate.detail.startswith("Business Validation Error")
    wrong_total = raised(QuickbooksException, invoice("3.00", tax_line(gst, "5.00")).save, qb=target.qb)
    assert wrong_total.error_code == 6000
    kept = invoice("4.99", tax_line(gst, "4.99")).save(qb=target.qb)
    assert Decimal(str(kept.TxnTaxDetail.TotalTax)) == Decimal("4.99")


# ---- 3. closed books --------------------------------------------------------------------------------------

def test_transactions_dated_in_closed_books_are_refused(qbo_target: QboTarget):
    customer, item = qbo_target.customer(), qbo_target.item()
    closing = qbo_target.books_closed_through("2024-01-31")
    invoice = raised(QuickbooksException, qbo_target.invoice, customer, item, "10.00", TxnDate=closing)
    assert invoice.error_code == 6210 and "The account period has closed" in invoice.detail
    payment = payment_linking(customer, Decimal("10.00"))
    payment.TxnDate = closing
    assert raised(QuickbooksException, payment.save, qb=qbo_target.qb).error_code == 6210
    journal = journal_with_receivable_second(qbo_target, customer, "10.00", TxnDate=closing)
    assert raised(QuickbooksException, journal.save, qb=qbo_target.qb).error_code == 6210


# ---- 4. DocNumbers across types -----------------------------------------------------------------------------

def test_doc_number_is_unique_across_transaction_types(qbo_target: QboTarget):
    target = qbo_target.with_setup(custom_txn_numbers=True)
    customer, item = target.customer(), target.item()
    number = f"X-{uuid.uuid4().hex[:8]}"
    invoice = target.invoice(customer, item, "10.00", DocNumber=number)

    memo = CreditMemo()
    memo.CustomerRef = customer.to_ref()
    memo.Line = [target._sales_line(item, "5.00", target._tax_code("NON"))]
    memo.ExchangeRate = 1
    memo.DocNumber = number
    error = raised(QuickbooksException, memo.save, qb=target.qb)
    assert error.error_code == 6140 and error.message == "Duplicate Document Number Error"
    assert f"DocNumber={number} is assigned to TxnType=Invoice with TxnId={invoice.Id}" in error.detail
    journal = journal_with_receivable_second(target, customer, "5.00", DocNumber=number)
    assert raised(QuickbooksException, journal.save, qb=target.qb).error_code == 6140


# ---- 5. inactive customer with a balance -------------------------------------------------------------------------

def test_customer_with_open_balance_stays_active(qbo_target: QboTarget):
    customer, item = qbo_target.customer(), qbo_target.item()
    qbo_target.invoice(customer, item, "25.00")
    customer = Customer.get(customer.Id, qb=qbo_target.qb)
    customer.Active = False
    error = raised(QuickbooksException, customer.save, qb=qbo_target.qb)
    assert error.error_code == 6000 and error.message == "Delete List Has Balance Error"
    assert Customer.get(customer.Id, qb=qbo_target.qb).Active is True


# ---- 6. payments -----------------------------------------------------------------------------------------------

def test_payment_without_total_amount_is_refused(qbo_target: QboTarget):
    customer, item = qbo_target.customer(), qbo_target.item()
    invoice = qbo_target.invoice(customer, item, "20.00")
    memo = qbo_target.credit_memo(customer, item, "20.00")
    application = payment_linking(customer, None, (linked(invoice), "20.00"), (linked(memo), "20.00"))
    error = raised(ValidationException, application.save, qb=qbo_target.qb)
    assert error.error_code == 2020 and "TotalAmt" in error.detail
    application.TotalAmt = Decimal("0")
    assert Decimal(str(application.save(qb=qbo_target.qb).TotalAmt)) == 0


def test_payment_linking_a_journal_line_that_is_not_the_customers_receivable_is_refused(qbo_target: QboTarget):
    customer = qbo_target.customer()
    journal = journal_with_receivable_second(qbo_target, customer, "30.00").save(qb=qbo_target.qb)
    link = linked(journal)
    link.TxnLineId = "0"  # the Deferred Revenue line
    error = raised(GeneralException, payment_linking(customer, Decimal("10.00"), (link, "10.00")).save, qb=qbo_target.qb)
    assert error.error_code == 620 and error.message == "Txn ID Cannot Be Linked"
    assert qbo_target.balance(customer) == Decimal("30.00")


def test_paid_invoice_cannot_move_to_another_customer(qbo_target: QboTarget):
    payer, other, item = qbo_target.customer(), qbo_target.customer(), qbo_target.item()
    invoice = qbo_target.invoice(payer, item, "30.00")
    qbo_target.payment(payer, "30.00", [(invoice, "30.00")])
    invoice = Invoice.get(invoice.Id, qb=qbo_target.qb)
    invoice.CustomerRef = other.to_ref()
    error = raised(QuickbooksException, invoice.save, qb=qbo_target.qb)
    assert error.error_code == 6000
    assert qbo_target.balance(other) == 0 and qbo_target.balance(payer) == 0


# ---- 10. multicurrency ------------------------------------------------------------------------------------------

def test_multicurrency_documents_need_currency_ref_and_a_positive_exchange_rate(qbo_target: QboTarget):
    target = qbo_target.with_setup(multicurrency=True)
    customer, item = target.customer(CurrencyRef=ref("EUR")), target.item()
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [target._sales_line(item, "100.00", target._tax_code("NON"))]
    error = raised(ValidationException, invoice.save, qb=target.qb)
    assert error.error_code == 2020 and "CurrencyRef" in error.detail
    invoice.CurrencyRef = customer.CurrencyRef
    invoice.ExchangeRate = 0
    assert raised(QuickbooksException, invoice.save, qb=target.qb).error_code == 6000


def test_exchange_rate_endpoint_needs_multicurrency(qbo_target: QboTarget):
    target = qbo_target.with_setup(multicurrency=False)
    url = f"{target.qb.api_url}/company/{target.realm_id}/exchangerate"
    error = raised(QuickbooksException, target.qb.get, url, params={"sourcecurrencycode": "EUR"})
    assert error.error_code == 5030 and error.message == "Feature Not Supported"
