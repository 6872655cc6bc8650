"""Nested field sets of the entities (Finance.xsd complex types, qbo-xsd-entities.md) and the 2010 check.

`check_nested(entity, body)` walks a request body and refuses any key a nested type does not define,
with the same 2010 fault as an unknown top-level key (rules.NESTED_UNKNOWN_FIELDS_REFUSED). A `Shape`
names the XSD type (shown in the fault) and its keys; `children` gives the shape of keys that hold
objects or lists of objects. A key ending in "Ref" is a ReferenceType unless `children` says otherwise;
`None` in `children` means "not checked" (IntuitAnyType extensions and types the emulator ignores).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .. import faults, rules


@dataclass(frozen=True)
class Shape:
    name: str
    keys: frozenset[str]
    children: Mapping[str, "Shape | None"] = field(default_factory=dict)

    def child(self, key: str) -> "Shape | None":
        if key in self.children:
            return self.children[key]
        return REF if key.endswith("Ref") else None


def _shape(name: str, keys: str, **children: "Shape | None") -> Shape:
    return Shape(name, frozenset(keys.split()), children)


REF = _shape("ReferenceType", "value name type")
LINKED_TXN = _shape("LinkedTxn", "TxnId TxnType TxnLineId")
CUSTOM_FIELD = _shape("CustomField", "DefinitionId Name Type StringValue BooleanValue DateValue NumberValue")
METADATA = _shape("ModificationMetaData", "CreatedByRef CreateTime LastModifiedByRef LastUpdatedTime LastChangedInQB Synchronized")
ADDRESS = _shape("PhysicalAddress", "Id Line1 Line2 Line3 Line4 Line5 City Country CountryCode County "
                                    "CountrySubDivisionCode PostalCode PostalCodeSuffix Lat Long Tag Note")
EMAIL = _shape("EmailAddress", "Address Default Tag")
PHONE = _shape("TelephoneNumber", "Id DeviceType CountryCode AreaCode ExchangeCode Extension FreeFormNumber Default Tag")
WEB = _shape("WebSiteAddress", "URI Default Tag")
MEMO = _shape("MemoRef", "value id")
MARKUP = _shape("MarkupInfo", "PercentBased Value Percent PriceLevelRef MarkUpIncomeAccountRef")
ENTITY_TYPE_REF = _shape("EntityTypeRef", "Type EntityRef")

# Every entity: IntuitEntity's nested types.
_ENTITY_CHILDREN = {"MetaData": METADATA, "CustomField": CUSTOM_FIELD, "AttachableRef": None}

SALES_ITEM_LINE_DETAIL = _shape(
    "SalesItemLineDetail",
    # ItemLineDetail (qbo-xsd-entities SalesItemLineDetail) + SalesItemLineDetail's own elements
    "ItemRef ClassRef UnitPrice UnitCostPrice RatePercent PriceLevelRef MarkupInfo Qty UOMRef ItemAccountRef "
    "InventorySiteRef TaxCodeRef TaxClassificationRef "
    "ServiceDate TaxInclusiveAmt DiscountRate DiscountAmt DeferredRevenue SalesItemLineDetailEx",
    MarkupInfo=MARKUP, UOMRef=None, SalesItemLineDetailEx=None,
)
DISCOUNT_OVERRIDE = _shape("DiscountOverride", "DiscountRef PercentBased DiscountPercent DiscountAccountRef")
DISCOUNT_LINE_DETAIL = _shape("DiscountLineDetail",
                              "Discount ClassRef TaxCodeRef DiscountAccountRef PercentBased DiscountPercent DiscountLineDetailEx",
                              Discount=DISCOUNT_OVERRIDE, DiscountLineDetailEx=None)
DESCRIPTION_LINE_DETAIL = _shape("DescriptionLineDetail", "ServiceDate TaxCodeRef")
SUBTOTAL_LINE_DETAIL = _shape("SubTotalLineDetail", "ItemRef")
TAX_LINE_DETAIL = _shape("TaxLineDetail", "TaxRateRef NetAmountTaxable PercentBased TaxInclusiveAmount "
                                          "OverrideDeltaAmount TaxPercent TaxLineDetailEx", TaxLineDetailEx=None)
JOURNAL_LINE_DETAIL = _shape(
    "JournalEntryLineDetail",
    "PostingType Entity AccountRef ClassRef DepartmentRef TaxCodeRef TaxRateRef TaxApplicableOn TaxAmount "
    "TaxInclusiveAmt BillableStatus JournalCodeRef JournalEntryLineDetailEx",
    Entity=ENTITY_TYPE_REF, JournalEntryLineDetailEx=None,
)

# Line (qbo-xsd-entities Line) without its detail elements; each entity adds the details it supports.
_LINE_BASE = "Id LineNum Description Amount Received LinkedTxn DetailType CustomField LineEx ProjectRef CostAmount HomeCostAmount "
_LINE_CHILDREN = {"LinkedTxn": LINKED_TXN, "CustomField": CUSTOM_FIELD, "LineEx": None}

SALES_LINE = _shape(
    "Line",
    _LINE_BASE + f"SalesItemLineDetail SubTotalLineDetail {rules.SUBTOTAL_DETAIL_ALIAS} DiscountLineDetail DescriptionLineDetail",
    SalesItemLineDetail=SALES_ITEM_LINE_DETAIL, SubTotalLineDetail=SUBTOTAL_LINE_DETAIL,
    DiscountLineDetail=DISCOUNT_LINE_DETAIL, DescriptionLineDetail=DESCRIPTION_LINE_DETAIL,
    **{rules.SUBTOTAL_DETAIL_ALIAS: SUBTOTAL_LINE_DETAIL}, **_LINE_CHILDREN,
)
JOURNAL_LINE = _shape("Line", _LINE_BASE + "JournalEntryLineDetail", JournalEntryLineDetail=JOURNAL_LINE_DETAIL,
                      **_LINE_CHILDREN)
PAYMENT_LINE = _shape("Line", "Amount LinkedTxn LineEx", LinkedTxn=LINKED_TXN, LineEx=None)
TAX_LINE = _shape("Line", "Id LineNum Description Amount DetailType TaxLineDetail LineEx",
                  TaxLineDetail=TAX_LINE_DETAIL, LineEx=None)
TXN_TAX_DETAIL = _shape("TxnTaxDetail", "DefaultTaxCodeRef TxnTaxCodeRef TotalTax TaxReviewStatus TaxLine "
                                        "UseAutomatedSalesTax TxnTaxDetailEx", TaxLine=TAX_LINE, TxnTaxDetailEx=None)

_TRANSACTION_CHILDREN = {"LinkedTxn": LINKED_TXN, "TxnTaxDetail": TXN_TAX_DETAIL, "Tag": None,
                         "TxnApprovalInfo": None, "RecurringInfo": None, **_ENTITY_CHILDREN}
_SALES_CHILDREN = {"Line": SALES_LINE, "CustomerMemo": MEMO, "BillAddr": ADDRESS, "ShipAddr": ADDRESS,
                   "ShipFromAddr": ADDRESS, "BillEmail": EMAIL, "BillEmailCc": EMAIL, "BillEmailBcc": EMAIL,
                   "DeliveryInfo": None, "CheckPayment": None, "CreditCardPayment": None,
                   "GlobalInfo": None, "invoiceStatusLog": None, "ConvenienceFeeDetail": None, "InvoiceEx": None,
                   "CreditMemoEx": None, "RefundReceiptEx": None, **_TRANSACTION_CHILDREN}
_PERSON_CHILDREN = {"PrimaryPhone": PHONE, "AlternatePhone": PHONE, "Mobile": PHONE, "Fax": PHONE,
                    "PrimaryEmailAddr": EMAIL, "WebAddr": WEB, "OtherContactInfo": None, "BillAddr": ADDRESS,
                    "ShipAddr": ADDRESS, "OtherAddr": ADDRESS, "PrimaryAddr": ADDRESS, "JobInfo": None,
                    "CCDetail": None, "CustomerEx": None, "VendorEx": None, "EmployeeEx": None, **_ENTITY_CHILDREN}

# Nested shapes per entity (top-level keys are checked by each handler's known_keys).
NESTED: dict[str, Mapping[str, Shape | None]] = {
    "Customer": _PERSON_CHILDREN,
    "Vendor": _PERSON_CHILDREN,
    "Employee": _PERSON_CHILDREN,
    "Item": {"ItemGroupDetail": None, "ItemAssemblyDetail": None, "ItemEx": None, **_ENTITY_CHILDREN},
    "Account": {"AccountPurposes": REF, "AccountEx": None, **_ENTITY_CHILDREN},
    "Invoice": _SALES_CHILDREN,
    "CreditMemo": _SALES_CHILDREN,
    "RefundReceipt": _SALES_CHILDREN,
    "Payment": {"Line": PAYMENT_LINE, "CheckPayment": None, "CreditCardPayment": None, "PaymentEx": None,
                **_TRANSACTION_CHILDREN},
    "JournalEntry": {"Line": JOURNAL_LINE, "JournalEntryEx": None, **_TRANSACTION_CHILDREN},
}


def check_nested(entity: str, body: dict) -> None:
    """2010 for the first nested key its type does not define (no-op for entities without shapes)."""
    if not rules.NESTED_UNKNOWN_FIELDS_REFUSED or entity not in NESTED:
        return
    top = Shape(entity, frozenset(body), NESTED[entity])
    for key, value in body.items():
        _check_value(value, top.child(key))


def _check_value(value: object, shape: Shape | None) -> None:
    if shape is None:
        return
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            _check_object(item, shape)


def _check_object(obj: dict, shape: Shape) -> None:
    for key, value in obj.items():
        if key not in shape.keys:
            raise faults.unknown_property(key, shape.name, len(shape.keys))
        _check_value(value, shape.child(key))
