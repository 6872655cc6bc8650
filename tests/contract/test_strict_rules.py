"""Issue #7 through python-quickbooks: what QBO refuses (queries on properties that are not filterable or
sortable, unknown nested fields, bad characters in names, malformed e-mail, name clashes with vendors and
employees, an A/R income account, duplicates inside one batch), and that read-modify-save still works."""
from __future__ import annotations

from decimal import Decimal

from quickbooks.batch import batch_create
from quickbooks.exceptions import QuickbooksException, ValidationException
from quickbooks.objects.account import Account
from quickbooks.objects.base import EmailAddress
from quickbooks.objects.customer import Customer
from quickbooks.objects.employee import Employee
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.journalentry import Entity, JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.payment import Payment
from quickbooks.objects.vendor import Vendor

from tests.contract.target import QboTarget
from tests.support.helpers import raised


def not_queryable(error: QuickbooksException, name: str) -> None:
    assert error.error_code == 4001 and error.message == "Invalid query"
    assert error.detail == f"QueryValidationError: property '{name}' is not queryable"


def test_4001_where_on_a_property_that_is_not_filterable(qbo_target: QboTarget):
    customer = qbo_target.customer(Notes="fusebill:marker")
    invoice = qbo_target.invoice(customer, qbo_target.item(), "10.00", PrivateNote="fusebill:marker",
                                 DocNumber=qbo_target.unique("F")[-12:])
    qb = qbo_target.qb
    not_queryable(raised(ValidationException, qb.query, "SELECT * FROM Invoice WHERE PrivateNote LIKE '%fusebill%'"), "PrivateNote")
    not_queryable(raised(ValidationException, Customer.where, "Notes LIKE '%fusebill%'", qb=qb), "Notes")
    not_queryable(raised(ValidationException, Payment.filter, DocNumber="1", qb=qb), "DocNumber")
    not_queryable(raised(ValidationException, qb.query, "SELECT * FROM Invoice WHERE Line.Amount > '1'"), "Line.Amount")
    not_queryable(raised(ValidationException, Vendor.filter, PrimaryEmailAddr="a@b.example", qb=qb), "PrimaryEmailAddr")
    # The fields a sync engine finds its records by.
    assert [c.Id for c in Customer.filter(DisplayName=customer.DisplayName, qb=qb)] == [customer.Id]
    assert [c.Id for c in Customer.where(f"DisplayName LIKE '{customer.DisplayName[:-3]}%'", qb=qb)] == [customer.Id]
    assert [i.Id for i in Invoice.filter(DocNumber=invoice.DocNumber, qb=qb)] == [invoice.Id]
    assert [i.Id for i in Invoice.where(f"CustomerRef = '{customer.Id}' AND TxnDate >= '2000-01-01'", qb=qb)] == [invoice.Id]
    assert [i.Id for i in Invoice.choose([invoice.Id], qb=qb)] == [invoice.Id]


def test_4001_orderby_on_a_property_that_is_not_sortable(qbo_target: QboTarget):
    qb = qbo_target.qb
    not_queryable(raised(ValidationException, Invoice.where, "", order_by="CustomerRef", qb=qb), "CustomerRef")
    not_queryable(raised(ValidationException, Customer.where, "", order_by="Notes", qb=qb), "Notes")
    Invoice.where("", order_by="TxnDate DESC", max_results=1, qb=qb)
    Customer.where("", order_by="DisplayName", max_results=1, qb=qb)


def unknown_field(qbo_target: QboTarget, path: str, body: dict) -> str:
    error = raised(ValidationException, qbo_target.raw_post, path, body)
    assert error.error_code == 2010 and error.message == "Request has invalid or unsupported property"
    return error.detail


def test_2010_unknown_nested_fields(qbo_target: QboTarget):
    """python-quickbooks cannot send unknown keys, so these bodies go through its raw POST."""
    customer = qbo_target.customer()
    item = qbo_target.item()
    invoice = qbo_target.invoice(customer, item, "10.00")
    line = {"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item.Id}}}
    base = {"CustomerRef": {"value": customer.Id}}
    detail = unknown_field(qbo_target, "invoice", {**base, "Line": [{**line, "Foo": 1}]})
    assert 'Unrecognized field "Foo"' in detail
    detail = unknown_field(qbo_target, "invoice", {**base, "Line": [{**line, "SalesItemLineDetail": {
        "ItemRef": {"value": item.Id}, "Bogus": 1}}]})
    assert 'Unrecognized field "Bogus"' in detail
    detail = unknown_field(qbo_target, "invoice", {**base, "Line": [{**line, "TaxCodeRef": {"value": "NON"}}]})
    assert 'Unrecognized field "TaxCodeRef"' in detail
    detail = unknown_field(qbo_target, "payment", {**base, "TotalAmt": 10, "Line": [
        {"Amount": 10, "DetailType": "PaymentLineDetail", "LinkedTxn": [{"TxnId": invoice.Id, "TxnType": "Invoice"}]}]})
    assert 'Unrecognized field "DetailType"' in detail


def test_read_modify_save_round_trips(qbo_target: QboTarget):
    """Everything python-quickbooks sends back after a read (nulls, empty lists, its own key spellings)."""
    qb = qbo_target.qb
    customer = qbo_target.customer(Notes="before")
    invoice = qbo_target.invoice(customer, qbo_target.item(), "40.00")
    payment = qbo_target.payment(customer, "15.00", [(invoice, "15.00")])
    for cls, record in ((Customer, customer), (Invoice, invoice), (Payment, payment), (Item, qbo_target.item()),
                        (Account, qbo_target.deferred_revenue())):
        current = cls.get(record.Id, qb=qb)
        saved = current.save(qb=qb)
        assert int(saved.SyncToken) == int(current.SyncToken) + 1, cls.__name__
    fetched = Invoice.get(invoice.Id, qb=qb)
    fetched.PrivateNote = "edited"
    assert fetched.save(qb=qb).PrivateNote == "edited"


def invalid_characters(error: QuickbooksException) -> None:
    assert error.error_code == 2040
    assert error.message == "Invalid String. The String may contain unsupported or illegal chars"


def test_2040_control_characters_and_colons_in_names(qbo_target: QboTarget):
    for name in ("Tab\tCustomer", "New\nLine Customer", "Parent:Child"):
        customer = Customer()
        customer.DisplayName = qbo_target.unique(name)
        invalid_characters(raised(ValidationException, customer.save, qb=qbo_target.qb))
    customer = Customer()
    customer.DisplayName = qbo_target.unique("Company chars")
    customer.CompanyName = "Acme\tInc"
    invalid_characters(raised(ValidationException, customer.save, qb=qbo_target.qb))
    item = Item()
    item.Name = qbo_target.unique("Item\tTab")
    item.Type = "Service"
    item.IncomeAccountRef = qbo_target.deferred_revenue().to_ref()
    invalid_characters(raised(ValidationException, item.save, qb=qbo_target.qb))


def test_2210_email_address_not_rfc_822(qbo_target: QboTarget):
    for address in ("Kim Carpenter", "kim@example", "a@example.com, b@example.com"):
        customer = Customer()
        customer.DisplayName = qbo_target.unique("Mail")
        customer.PrimaryEmailAddr = EmailAddress()
        customer.PrimaryEmailAddr.Address = address
        error = raised(ValidationException, customer.save, qb=qbo_target.qb)
        assert error.error_code == 2210 and error.message == "Invalid Email Address format", address
        assert error.detail == f"Email Address does not conform to the syntax rules of RFC 822. Supplied value:{address}"
    good = qbo_target.customer()
    good.PrimaryEmailAddr = EmailAddress()
    good.PrimaryEmailAddr.Address = "billing.team+qbo@example.co.uk"
    assert good.save(qb=qbo_target.qb).PrimaryEmailAddr.Address == "billing.team+qbo@example.co.uk"


def test_6240_customer_name_used_by_a_vendor_or_an_employee(qbo_target: QboTarget):
    vendor = Vendor()
    vendor.DisplayName = qbo_target.unique("Clash Vendor")
    vendor.save(qb=qbo_target.qb)
    employee = Employee()
    employee.GivenName = "Clash"
    employee.FamilyName = qbo_target.unique("Employee")[-10:]
    employee = employee.save(qb=qbo_target.qb)
    for name in (vendor.DisplayName, employee.DisplayName):
        customer = Customer()
        customer.DisplayName = name
        error = raised(QuickbooksException, customer.save, qb=qbo_target.qb)
        assert error.error_code == 6240 and error.message == "Duplicate Name Exists Error"


def test_6430_receivable_account_as_item_income_account(qbo_target: QboTarget):
    receivable = Account.filter(AccountType="Accounts Receivable", qb=qbo_target.qb)[0]
    item = Item()
    item.Name = qbo_target.unique("AR income item")
    item.Type = "Service"
    item.IncomeAccountRef = receivable.to_ref()
    error = raised(QuickbooksException, item.save, qb=qbo_target.qb)
    assert error.error_code == 6430 and error.message == "Invalid account type"


def test_6240_between_two_creates_of_one_batch(qbo_target: QboTarget):
    name = qbo_target.unique("Batch Twin")
    twins = []
    for _ in range(2):
        customer = Customer()
        customer.DisplayName = name
        twins.append(customer)
    results = batch_create(twins, qb=qbo_target.qb)
    assert len(results.successes) == 1 and len(results.faults) == 1
    error = results.faults[0].Error[0]
    assert error.code == "6240" and error.Message == "Duplicate Name Exists Error"
    assert len(Customer.filter(DisplayName=name, qb=qbo_target.qb)) == 1


def test_journal_entry_round_trip_keeps_entity(qbo_target: QboTarget):
    receivable = Account.filter(AccountType="Accounts Receivable", qb=qbo_target.qb)[0]
    bank = Account.filter(AccountType="Bank", qb=qbo_target.qb)[0]
    customer = qbo_target.customer()
    journal = JournalEntry()
    for posting, account in (("Debit", receivable), ("Credit", bank)):
        line = JournalEntryLine()
        line.Amount = Decimal("12.00")
        line.JournalEntryLineDetail = JournalEntryLineDetail()
        line.JournalEntryLineDetail.PostingType = posting
        line.JournalEntryLineDetail.AccountRef = account.to_ref()
        if account is receivable:
            line.JournalEntryLineDetail.Entity = Entity()
            line.JournalEntryLineDetail.Entity.Type = "Customer"
            line.JournalEntryLineDetail.Entity.EntityRef = customer.to_ref()
        journal.Line.append(line)
    journal = journal.save(qb=qbo_target.qb)
    again = JournalEntry.get(journal.Id, qb=qbo_target.qb)
    assert again.save(qb=qbo_target.qb).Line[0].JournalEntryLineDetail.Entity.EntityRef.value == customer.Id
