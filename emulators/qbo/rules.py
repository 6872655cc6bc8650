"""Every emulator behaviour that no primary source confirms, in one place.

The reference documents (qbo-api.md, qbo-accounting-patterns.md and their companions) mark some QBO behaviours as unverified or
say nothing about them. The emulator still has to do *something*; what it does is decided here, each
with the reason and the reference it leans on, so that one live run against a QBO sandbox can correct
it by editing this file only. Names below are imported by the modules that apply them; grep for a
name to find where it is used.

Legend in comments: [U] = unverified guess, [Ref §x] = where the reference discusses it.
"""
from __future__ import annotations

from decimal import Decimal

# --------------------------------------------------------------------------------------------------
# OAuth
# --------------------------------------------------------------------------------------------------

# [U] A token issued for realm A used on realm B. Real QBO answers with some 401/403; we answer with
# the same lower-case 401 gateway envelope as an expired token (qbo-response-examples §5.10), detail
# below, so python-quickbooks raises AuthorizationException(401) in both cases.
WRONG_REALM_401_DETAIL = "Token is not valid for this company (realm {realm})"

# [U] Refreshing with a *stale* refresh token (rotated less than `stale_refresh_grace` ago) succeeds
# and, like every refresh, returns a brand-new refresh token; the token that was current until then
# becomes stale too (its 24 h grace starts now). [Ref qbo-api §2.3: "previous refresh_token is now
# stale and expires after 24 hours"]
STALE_REFRESH_ROTATES_CURRENT_TOKEN = True

# [U] Revoking an unknown token answers 200 (RFC 7009 §2.2), like a successful revoke.
REVOKE_UNKNOWN_TOKEN_STATUS = 200

# Real refresh-token responses sometimes carry a description (qbo-response-examples §6.2). We add it
# for unknown/revoked/expired refresh tokens and leave it out for bad authorization codes.
INVALID_REFRESH_TOKEN_DESCRIPTION = "Incorrect or invalid refresh token"

# --------------------------------------------------------------------------------------------------
# Requests, idempotency, throttling, faults
# --------------------------------------------------------------------------------------------------

# [Ref qbo-api §1.7] requestid ≤ 50 characters, ≤ 36 for batch; each bId ≤ 10 when a requestid is given.
REQUESTID_MAX_LENGTH = 50
BATCH_REQUESTID_MAX_LENGTH = 36
BATCH_BID_MAX_LENGTH_WITH_REQUESTID = 10
# [U] The code for a too-long requestid / bId: we reuse the string-length fault (see LENGTH_FAULT_CODE).

# [U] How many (realm, requestid) answers are remembered for replay; the oldest are forgotten first.
# QBO's real retention window is not documented.
REQUESTID_CACHE_PER_REALM = 200_000

# [U] Injected errors (POST /_emulator/faults error_rate) look like QBO's documented SystemFault
# (qbo-api §1.9.4 code 10000) with HTTP 500 ("resubmit once", §1.9.2). python-quickbooks raises
# SevereException(10000).
INJECTED_ERROR_STATUS = 500
INJECTED_ERROR_DETAIL = "System Failure Error: An unexpected error occurred while accessing or saving your data. Please wait a few minutes and try again. If the problem persists, contact customer support."
# Injected timeouts that hit *before* the write answer with this status once the hold time is over
# (the client has normally given up by then).
INJECTED_TIMEOUT_STATUS = 504

# Batch requests count once against the per-realm and per-app request limits *and* against the batch
# limits [U: the Intuit page lists them side by side without saying whether they overlap].
BATCH_COUNTS_AGAINST_REQUEST_LIMITS = True

# --------------------------------------------------------------------------------------------------
# Validation fault codes chosen where QBO's is not documented
# --------------------------------------------------------------------------------------------------

# [U] Code for a value longer than QBO's maximum (DocNumber > 21, DisplayName > 500, Notes > 1024...).
# Integrators report 2050 "String length is either shorter or longer than supported by
# specification"; qbo-api §1.9.4 lists 2050 as unconfirmed.
LENGTH_FAULT_CODE = "2050"
LENGTH_FAULT_MESSAGE = "String length is either shorter or longer than supported by specification"
LENGTH_FAULT_DETAIL = "String length specified does not match the supported length. Min:0 Max:{max} supplied:{supplied}"

# [U] A value of the wrong type (text in a decimal field, a malformed date) or a body that is not
# JSON: we answer 2010 like the unknown-property fault of qbo-response-examples §5.8.
INVALID_VALUE_FAULT_CODE = "2010"

# A colon in a Customer DisplayName, Item or Account Name (the colon separates the levels of
# FullyQualifiedName): INVALID_NAME_CHARS_FAULT (2040), see the issue #7 section below.

# 6240 Detail for Customer (verbatim from the 2020 sandbox, qbo-response-examples §5.1). For Item and
# Account the longer variant is used [U: no captured body for those].
DUPLICATE_CUSTOMER_NAME_DETAIL = "The name supplied already exists. : null"
DUPLICATE_OTHER_NAME_DETAIL = "The name supplied already exists. : Another {kind} is already using this name. Please use a different name."

# [U] Name uniqueness is case-insensitive ("Acme" clashes with "ACME").
NAME_UNIQUENESS_CASE_INSENSITIVE = True

# [U] QBO renames a name-list entity it makes inactive to "<name> (deleted)", which frees the name for
# a new record; reactivating restores the name (observed QBO UI behaviour; not in the reference).
INACTIVE_NAME_SUFFIX = " (deleted)"

# [U] Maximum lengths. Customer name parts follow the XSD's QBO limits (qbo-xsd-entities: GivenName 25,
# MiddleName 15, FamilyName 15, Suffix 15); the current online API reference is said to allow more —
# we keep the stricter XSD numbers so the product never relies on longer names.
MAX_LENGTHS = {
    "Customer": {
        "DisplayName": 500, "Title": 16, "GivenName": 25, "MiddleName": 15, "FamilyName": 15,
        "Suffix": 15, "CompanyName": 100, "PrintOnCheckName": 110, "Notes": 1024,
    },
    "Item": {"Name": 100, "Sku": 100, "Description": 4000},
    "Account": {"Name": 100, "Description": 100, "AcctNum": 20},
    "Transaction": {"DocNumber": 21, "PrivateNote": 4000, "PaymentRefNum": 21},
}

# [U] Error for a Customer CurrencyRef that is foreign while multicurrency is off, or a currency
# change on a customer that has transactions.
FOREIGN_CURRENCY_WITHOUT_MULTICURRENCY_DETAIL = "Business Validation Error: Multicurrency is not enabled for this company, so you can only use the home currency ({home})."
CUSTOMER_CURRENCY_CHANGE_DETAIL = "Business Validation Error: You can't change the currency of a customer that already has transactions."
# [U] A transaction whose CurrencyRef differs from its customer's currency.
TXN_CURRENCY_MISMATCH_DETAIL = "Business Validation Error: The transaction currency ({txn}) must be the same as the customer's currency ({customer})."
# [Ref qbo-api §1.14, third party: Connex] account currency must be home or transaction currency.
ACCOUNT_CURRENCY_DETAIL = "Business Validation Error: The currency of the account must be either in home currency or the transaction currency"
# [U] Income/expense accounts are always in home currency (qbo-api §1.14); a foreign CurrencyRef on one:
PNL_ACCOUNT_FOREIGN_CURRENCY_DETAIL = "Business Validation Error: Income and expense accounts must use the home currency."

# [U] Item.Type omitted (python-quickbooks sends Type "" unless set): QBO's default is not documented.
ITEM_TYPE_WHEN_OMITTED = "NonInventory"
# XSD: IncomeAccountRef "Required for ... Assembly, Inventory, Other Charge, Product, Service";
# "Product" is NonInventory/Inventory in QBO.
ITEM_TYPES_REQUIRING_INCOME_ACCOUNT = frozenset({"Service", "NonInventory", "Inventory", "Other Charge", "Assembly"})
# [U, Ref qbo-accounting-patterns §5] An item's income account may be any posting account the UI
# offers: Income, Other Income, Expense-type (bad-debt recipe) and — which the contract relies on —
# Other Current Liability (Deferred Revenue). A/R and A/P are refused with INVALID_ACCOUNT_TYPE_FAULT (6430).
ITEM_INCOME_ACCOUNT_FORBIDDEN_TYPES = frozenset({"Accounts Receivable", "Accounts Payable"})

# [U] Account.AccountType omitted and no AccountSubType to derive it from.
ACCOUNT_TYPE_REQUIRED = True
# [U] Name-list entities cannot be deleted (qbo-api §1.13); `?operation=delete` on them answers:
NAMELIST_DELETE_FAULT = ("500", "Unsupported Operation", "Operation Delete is not supported.")

# --------------------------------------------------------------------------------------------------
# Sales transactions
# --------------------------------------------------------------------------------------------------

# 6070 is enforced only when both Qty and UnitPrice are non-zero: python-quickbooks sends Qty 0 and
# UnitPrice 0 next to an Amount by default (qbo-sample-payloads, Invoice notes).
SIXTY_SEVENTY_NEEDS_BOTH_QTY_AND_PRICE = True

# [U] A SalesItemLine without ItemRef uses the company's default item ("Services", id 1) like the UI
# (Preferences OtherPrefs "SalesFormsPrefs.DefaultItem" names such a default).
MISSING_ITEMREF_USES_DEFAULT_ITEM = True

# Invoice DueDate when omitted: TxnDate + default terms (qbo-response-examples §2.5 shows +30 days).
DEFAULT_DUE_DAYS = 30

# TxnDate when omitted: the current *Pacific* date on QBO's servers (XSD: "the current date on the
# server is used").
TXN_DATE_FROM_SERVER_ZONE = True

# First number of the auto DocNumber sequence of a new company; Invoice, CreditMemo and RefundReceipt
# share it (QBO numbers sales forms in one sequence; the samples show 1037 invoice, 1039 credit memo).
FIRST_DOC_NUMBER = 1001
# A numeric DocNumber the client supplies moves the sequence past it [U].
SUPPLIED_NUMERIC_DOCNUMBER_ADVANCES_SEQUENCE = True

# 6140 duplicate DocNumber only when the company has "Custom transaction numbers" on (brief); the
# check spans every numbered type (section "Strict documents"). Detail wording [U; matches
# integrators' captures], {txn_type} from TXN_TYPE_DISPLAY_NAMES:
DUPLICATE_DOCNUMBER_DETAIL = "Duplicate Document Number Error : You must specify a different number. This number has already been used. DocNumber={number} is assigned to TxnType={txn_type} with TxnId={txn_id}"

# [U] A negative transaction total (Invoice, CreditMemo, RefundReceipt) is refused:
NEGATIVE_TOTAL_DETAIL = "Business Validation Error: Transaction total can't be negative."
# [U] A full update that would bring an invoice's total below what payments already applied:
TOTAL_BELOW_APPLIED_DETAIL = "Business Validation Error: The transaction total can't be less than the amount already applied to it ({applied})."

# On a full update these fields keep their stored value when omitted (instead of being reset):
# QBO would otherwise renumber or redate a document on every full update [U].
FULL_UPDATE_RETAINED_FIELDS = frozenset({"DocNumber", "TxnDate"})

# [U] Deleting or voiding a transaction that payments link to: the payments' lines linking it are
# removed (the money becomes unapplied credit on those payments). If that would leave a payment with
# a negative unapplied amount (a credit memo that a zero payment used), the delete is refused:
DELETE_LINKED_CREDIT_DETAIL = "Business Validation Error: This transaction is linked to payment {payment_id}. Delete or change that payment first."

# Voided documents keep their record with amounts zeroed and this PrivateNote (qbo-accounting-patterns
# "Void vs delete").
VOID_PRIVATE_NOTE = "Voided"

# --------------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------------

# [Ref qbo-accounting-patterns §1: "Errors when an amount exceeds a balance: unverified"].
OVER_APPLIED_DETAIL = "Business Validation Error: The payment line amount ({amount}) is more than the open balance ({open}) of {txn_type} {txn_id}."
OTHER_CUSTOMER_DOC_DETAIL = "Business Validation Error: {txn_type} {txn_id} belongs to a different customer than this payment."
CREDIT_MISMATCH_DETAIL = "Business Validation Error: When a payment applies credits, its total ({total}) must equal the charges applied minus the credits applied ({net})."
UNDER_PAID_DETAIL = "Business Validation Error: The payment total ({total}) is less than the amount applied to charges ({net})."
NEGATIVE_PAYMENT_DETAIL = "Business Validation Error: Payment amounts can't be negative."
UNSUPPORTED_LINK_DETAIL = "Business Validation Error: A payment can't be linked to a {txn_type}."
PAYMENT_LINK_TYPES = frozenset({"Invoice", "CreditMemo", "JournalEntry"})
# A payment of 0 that applies nothing is refused with the 6000 detail quoted in qbo-api §1.9.4 [U when
# exactly QBO raises it].
EMPTY_PAYMENT_DETAIL = "Business Validation Error: You must set a transaction amount."
# Payment.TotalAmt omitted: refused (PAYMENT_TOTAL_REQUIRED, section "Strict documents").
# [U] A payment line linking a JournalEntry without TxnLineId applies to the JE's first A/R line for
# the payment's customer that still has an open amount.
# [U] Payment deposit account must be one of these account types:
DEPOSIT_ACCOUNT_TYPES = frozenset({"Bank", "Other Current Asset"})
DEPOSIT_ACCOUNT_TYPE_DETAIL = "Business Validation Error: The account you deposit to must be a bank or other current asset account."

# [U] Deposited-payment lock (6540, qbo-api §1.9.4). Detail wording:
DEPOSITED_DETAIL = "Deposited Transaction cannot be changed : This payment has been deposited. Remove it from the deposit before you change or delete it."

# AutoApplyCredit stand-in (qbo-accounting-patterns §6): memo QBO writes on the zero payment it creates.
AUTO_APPLY_PRIVATE_NOTE = "Created by QB Online to link credits to charges"
# [U] Unapplied *payments* are applied by adding a line to that payment (deposited payments are skipped).

# --------------------------------------------------------------------------------------------------
# Journal entries
# --------------------------------------------------------------------------------------------------

# [Ref qbo-accounting-patterns §3] verbatim 6000 detail for an A/R line without a customer.
JE_AR_WITHOUT_CUSTOMER_DETAIL = "Business Validation Error: When you use Accounts Receivable, you must choose a customer in the Name field."
# [U] The A/P counterpart.
JE_AP_WITHOUT_VENDOR_DETAIL = "Business Validation Error: When you use Accounts Payable, you must select a vendor in the Name field."
# [U, qbo-api §5 open question] unbalanced journal entry: code and text (QBO UI wording).
JE_UNBALANCED_FAULT = ("6000", "Business Validation Error: Please balance debits and credits.")

# --------------------------------------------------------------------------------------------------
# Refund receipts
# --------------------------------------------------------------------------------------------------

# [Ref qbo-accounting-patterns §4] DepositToAccountRef is required and must be Bank or Other Current Asset.
REFUND_ACCOUNT_TYPES = frozenset({"Bank", "Other Current Asset"})
REFUND_ACCOUNT_TYPE_DETAIL = "Business Validation Error: The account you refund from must be a bank or other current asset account."

# --------------------------------------------------------------------------------------------------
# Taxes
# --------------------------------------------------------------------------------------------------

# [U] US automated sales tax stand-in. AST cannot be tested in a sandbox (qbo-accounting-patterns §8),
# so the emulator applies one configurable rate to every taxable line.
US_AST_DEFAULT_RATE_PERCENT = Decimal("8.25")
# A line without TaxCodeRef is taxable (AST update of 2018). The blog adds "with taxability taken from
# the item"; the emulator ignores Item.Taxable here (python-quickbooks creates items with Taxable false),
# which is the stricter reading: a client must send NON to keep tax off.
US_AST_LINE_WITHOUT_TAXCODE_IS_TAXABLE = True
# An explicit TxnTaxDetail.TotalTax is honoured exactly (AST blog 2017-12-11).

# [Ref qbo-accounting-patterns §8, code comments] wording of the missing-tax-code fault per country.
MISSING_TAX_CODE_DETAIL = {
    "CA": "Business Validation Error: Make sure all your transactions have a GST/HST rate before you save.",
    "GB": "Business Validation Error: Make sure all your transactions have a VAT rate before you save.",
    "AU": "Business Validation Error: Make sure all your transactions have a GST rate before you save.",
}
MISSING_TAX_CODE_DETAIL_DEFAULT = "Business Validation Error: Make sure all your transactions have a sales tax rate before you save."
# [U] Explicit TxnTaxDetail.TaxLine / TotalTax on a non-US invoice are kept exactly (to be tested per
# locale, qbo-accounting-patterns §8 "Still to confirm" 4).
# [U] In a company without sales tax a TxnTaxDetail sent by the client is ignored (TotalTax 0).

# --------------------------------------------------------------------------------------------------
# Accounts and balances
# --------------------------------------------------------------------------------------------------

# Sign convention of Account.CurrentBalance: debits minus credits for every account, so liabilities,
# equity and income show negative balances, as the A/P read of qbo-response-examples §2.4 does
# (-1602.67). [U for types other than A/P]
BALANCE_IS_DEBIT_MINUS_CREDIT = True
# [U] XSD: CurrentBalance is "Valid for Balance Sheet accounts"; P&L accounts (Income, Expense, COGS,
# Other Income, Other Expense) report 0 through the API. The emulator still tracks their postings:
# GET /_emulator/companies/<realm>/ledger shows them.
PNL_ACCOUNTS_REPORT_ZERO_BALANCE = True
# [U] A customer's opening balance (Balance on create) posts Dr A/R, Cr Opening Balance Equity.

# --------------------------------------------------------------------------------------------------
# Query language
# --------------------------------------------------------------------------------------------------

QUERY_MAX_RESULTS = 1000
QUERY_DEFAULT_MAX_RESULTS = 100
# [U] MAXRESULTS above 1000: code 4001 "Invalid query" with a QueryValidationError detail.
QUERY_TOO_MANY_RESULTS_FAULT = ("4001", "Invalid query", "QueryValidationError: value {value} is too large. Max allowed value is 1000")
# Unknown or not filterable/sortable property [Ref qbo-api §1.3: code, message and detail quoted from a raw
# QBO response], unknown entity [U], in a query.
QUERY_UNKNOWN_PROPERTY_FAULT = ("4001", "Invalid query", "QueryValidationError: property '{name}' is not queryable")
QUERY_UNKNOWN_ENTITY_FAULT = ("4001", "Invalid query", "QueryValidationError: Entity '{name}' is not supported")
# [U] `!=` is not in Intuit's documented operator list; it is refused as a parse error.
QUERY_ALLOW_NOT_EQUAL = False
# [U] String comparisons (=, IN, LIKE, ORDERBY) ignore case.
QUERY_STRINGS_CASE_INSENSITIVE = True
# [U] Without ORDERBY, rows come back in Id order, except Customer rows, which come back by
# FullyQualifiedName as the recorded sandbox query does (qbo-response-examples §3.1).
QUERY_DEFAULT_ORDER = {"Customer": "FullyQualifiedName"}
# [U] Name-list queries without an Active condition return only active records (QBO behaviour known
# from integrators; `WHERE Active IN (true, false)` returns both).
QUERY_NAMELISTS_DEFAULT_ACTIVE_ONLY = True
# Entities whose query responses carry `totalCount` (seen in the TaxCode/TaxRate/ExchangeRate samples).
QUERY_TYPES_WITH_TOTALCOUNT = frozenset({"TaxCode", "TaxRate", "ExchangeRate", "TaxAgency"})
# [U] `SELECT Id, DisplayName FROM ...` returns the named fields plus Id and domain, with sparse true.

# --------------------------------------------------------------------------------------------------
# Exchange rates
# --------------------------------------------------------------------------------------------------

# [U] Asking for the home currency's rate is a validation error (qbo-accounting-patterns §9 says
# setting it is); code and wording are ours.
HOME_CURRENCY_RATE_FAULT = ("6000", "A business validation error has occurred while processing your request", "Business Validation Error: The source currency can't be the home currency.")

# --------------------------------------------------------------------------------------------------
# Strict documents (issue #7): tax overrides, closed books, DocNumbers, balances, payments, currency
# --------------------------------------------------------------------------------------------------
# Principle: where evidence says QBO refuses, refuse the same way; where none exists, the stricter
# reading. Each rule says which it is.

# Tax overrides (codes and AST companies). [U, strict] No public source says what QBO does with an
# inconsistent TxnTaxDetail (qbo-accounting-patterns §8 "Still to confirm" 4); all of these are refused.
TAX_TOTAL_MISMATCH_DETAIL = "Business Validation Error: TxnTaxDetail.TotalTax ({total}) must equal the sum of the TaxLine amounts ({lines})."
# Every TaxLine names a TaxRateRef (2020 otherwise) of a tax code used on a line, once.
TAX_RATE_NOT_ON_LINES_DETAIL = "Business Validation Error: Tax rate {rate} is not part of a tax code used on this transaction's lines."
TAX_RATE_TWICE_DETAIL = "Business Validation Error: Tax rate {rate} appears in more than one TaxLine."
# A TaxPercent sent on a TaxLine must be the rate's RateValue (python-quickbooks' TaxLineDetail sends
# TaxPercent 0 unless set, so a client must set it).
TAX_PERCENT_MISMATCH_DETAIL = "Business Validation Error: TaxPercent {sent} does not match tax rate {rate} ({expected}%)."
# With explicit TaxLines, every non-zero rate of the codes used on the lines needs its TaxLine.
TAX_RATE_WITHOUT_LINE_DETAIL = "Business Validation Error: Tax rate {rate} of the tax codes used on the lines has no TaxLine."
# AST companies: a line's TaxCodeRef must be the pseudo code TAX or NON (qbo-accounting-patterns §8:
# the AST engine assigns the real code). Code: 6100 is not in the reference (qbo-api §1.9.4), so 6000.
AST_LINE_TAX_CODE_DETAIL = "Business Validation Error: With automated sales tax, a line's TaxCodeRef must be TAX or NON (got {code})."

# Canadian combined tax codes [U as to exact names]: QBO Canada groups GST with QST (Québec) and
# with PST (British Columbia) in one code; the emulator's names and ids are its own. HST is one
# harmonized rate, so each HST code holds one rate (chart.TAX_SETUPS["CA"]).

# Closed books. Code 6210 "Account Period Closed" [Ref qbo-api §1.9.4 (also HTTP 400, §1.9.2)]; the
# closing date is Preferences.AccountingInfoPrefs.BookCloseDate [Ref qbo-response-examples §2.12].
# Wording [U: not in the reference; integrators' docs quote this text, "through through" sic]:
CLOSED_PERIOD_FAULT = (
    "6210", "Account Period Closed, Cannot Update Through Services API",
    "The account period has closed and the account books cannot be updated through through the QBO Services API. Please use the QBO website to make these changes.",
)
# [U, strict] Refused for every transaction type on create, update and delete/void when its TxnDate
# (before or after the change) is on or before the closing date. Changes QBO makes to *other*
# records as a side effect (applications moving an old invoice's Balance) are not checked
# (qbo-accounting-patterns §1: a current payment can apply a credit memo dated in a locked period).

# DocNumber uniqueness (6140). With SalesFormsPrefs.CustomTxnNumbers on, a supplied DocNumber must be
# unused by *every* numbered type (Invoice, CreditMemo, RefundReceipt, JournalEntry) [U, strict; the
# detail naming "TxnType=" suggests the check spans types]. JournalEntry numbers are never assigned
# by QBO, so a JE's DocNumber is checked whatever the preference [U, strict].
# `include=allowduplicatedocnum` is not in the reference, so it is not supported.
# The detail names the type as QBO's UI does ("Journal Entry"; third-party captures, wording [U]).
TXN_TYPE_DISPLAY_NAMES = {"Invoice": "Invoice", "CreditMemo": "Credit Memo", "RefundReceipt": "Refund Receipt",
                          "JournalEntry": "Journal Entry", "Payment": "Payment"}
JE_DOCNUMBER_ALWAYS_UNIQUE = True

# A customer (or job) with a non-zero open balance (BalanceWithJobs) cannot be made inactive.
# [U: code not in the reference; the message and detail are as quoted by a quickbooks-ruby user
# (issue #390) for the same request; the code is ours.]
INACTIVE_WITH_BALANCE_FAULT = (
    "6000", "Delete List Has Balance Error",
    "The entity you are trying to delete has an open balance. : This customer cannot be deleted because it has a non-zero balance",
)

# Payment.TotalAmt is required on create and on full update (replaces MISSING_PAYMENT_TOTAL_IS_NET_APPLIED,
# [U, strict]: qbo-api §1.13 leaves it open). The fault is 2020 "Required parameter TotalAmt is
# missing in the request" (qbo-response-examples §5.3 shape).
PAYMENT_TOTAL_REQUIRED = True
# [U, strict] A payment line linking a JournalEntry with a TxnLineId (python-quickbooks' default 0 means
# "not given") must name an A/R line of that JE for the payment's customer. Invoice/CreditMemo
# TxnLineIds are not checked: python-quickbooks always sends 1 (qbo-sample-payloads, Payment) and the
# Payment reference requires TxnLineId only for Deposit and Bill (qbo-accounting-patterns §1).
# Code 620 "Txn ID Cannot Be Linked" [Ref qbo-api §1.9.4]; detail ours.
JE_LINE_LINK_FAULT = ("620", "Txn ID Cannot Be Linked", "Txn ID Cannot Be Linked : Line {line} of JournalEntry {txn_id} is not an open Accounts Receivable line for this customer.")
# [U, strict] A document that payments are applied to keeps its customer (an Invoice, a CreditMemo,
# or a JE A/R line with applications): otherwise one customer's payment would pay another's invoice.
LINKED_CUSTOMER_CHANGE_DETAIL = "Business Validation Error: {txn_type} {txn_id} has payments applied; you can't change its customer. Remove the payments first."

# Multicurrency. CurrencyRef is "Required if multicurrency is enabled" on Payment and RefundReceipt
# [Ref qbo-accounting-patterns §9, Intuit references]; no source says QBO defaults it, so it is
# required on every transaction type of a multicurrency company [U, strict for Invoice, CreditMemo,
# JournalEntry]. The fault is 2020 for CurrencyRef.
CURRENCY_REF_REQUIRED_WITH_MULTICURRENCY = True
# An omitted ExchangeRate is stored as 1 [Ref qbo-accounting-patterns §9]. A negative one is refused
# everywhere and 0 in a multicurrency company [U, strict]; python-quickbooks' CreditMemo default 0
# (qbo-api §1.13) is tolerated in single-currency companies, where ExchangeRate means nothing.
EXCHANGE_RATE_NOT_POSITIVE_DETAIL = "Business Validation Error: The exchange rate must be greater than zero (got {rate})."
# [U: code ours] /exchangerate (and ExchangeRate queries) in a company without multicurrency:
# 5030 "Feature Not Supported" from the code table (qbo-api §1.9.4).
EXCHANGE_RATE_WITHOUT_MULTICURRENCY_FAULT = ("5030", "Feature Not Supported", "Feature Not Supported : Multicurrency is not enabled for this company.")

# --------------------------------------------------------------------------------------------------
# Strictness of issue #7: filterable properties, nested fields, names and e-mail, batch uniqueness
# --------------------------------------------------------------------------------------------------

# Only filterable properties may appear in WHERE, only sortable ones in ORDERBY; anything else answers
# QUERY_UNKNOWN_PROPERTY_FAULT (4001 "Invalid query", "QueryValidationError: property '<Name>' is not
# queryable") [Ref qbo-api §1.3, raw response quoted in ruckus/quickbooks-ruby#403]. Line-level paths
# and Refs other than the entity's main Ref are never filterable (§1.3). Sources per entity:
# X = qbo-xsd-entities "Filterable: ALL" / "Sortable: ALL"; D = Intuit's entity reference as copied into
# the quickbooks-api TypeScript SDK annotations (third party); C = the CData QuickBooks Online data model
# (third party, its Filterable/Sortable columns); U = unconfirmed, strict. A property no source marks is
# not filterable. ORDERBY on a non-sortable property: same fault [unconfirmed, strict].
QUERY_ORDERBY_NEEDS_SORTABLE = True
_ID_META = ("Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime")  # X (Id), D, C
_PERSON_NAMES = ("DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName", "PrintOnCheckName",
                 "Active")  # X (name parts), D (Customer), C
QUERY_FILTERABLE: dict[str, frozenset[str]] = {
    "Customer": frozenset(_ID_META + _PERSON_NAMES + ("FullyQualifiedName", "PrimaryEmailAddr", "Balance",
                                                      "BalanceWithJobs")),  # D; BalanceWithJobs X
    # Vendor.PrimaryEmailAddr is refused in a raw QBO response (qbo-api §1.3, ruckus#403); AcctNum too (§1.3).
    "Vendor": frozenset(_ID_META + _PERSON_NAMES + ("Balance",)),  # U: as Customer, minus e-mail
    "Employee": frozenset(_ID_META + _PERSON_NAMES),  # U
    "Item": frozenset(_ID_META + ("Name", "Sku", "Type", "Active")),  # X (Name, Sku, Type), C (Active)
    "Account": frozenset(_ID_META + ("Name", "FullyQualifiedName", "AccountType", "AccountSubType",
                                     "Classification", "Active", "CurrentBalance",
                                     "CurrentBalanceWithSubAccounts")),  # D; not AcctNum (§1.3)
    "Invoice": frozenset(_ID_META + ("DocNumber", "TxnDate", "CustomerRef", "Balance", "DueDate")),  # D, C
    "CreditMemo": frozenset(_ID_META + ("DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "Balance")),  # D
    "RefundReceipt": frozenset(_ID_META + ("DocNumber", "TxnDate", "CustomerRef")),  # U: as the sales forms
    "Payment": frozenset(_ID_META + ("TxnDate", "CustomerRef", "TotalAmt")),  # D, C; not DocNumber
    "JournalEntry": frozenset(_ID_META + ("DocNumber", "TxnDate")),  # C
    "TaxCode": frozenset(_ID_META + ("Name", "Active")),  # U
    "TaxRate": frozenset(_ID_META + ("Name", "Active")),  # U
    "TaxAgency": frozenset(_ID_META + ("DisplayName",)),  # U
    "CompanyInfo": frozenset(_ID_META),  # U
    "Preferences": frozenset(_ID_META),  # U
    "ExchangeRate": frozenset({"SourceCurrencyCode", "AsOfDate"}),  # U: the two the query form needs
}
# An entity missing from the tables below (one added later) filters and sorts on Id and MetaData only.
QUERY_FILTERABLE_DEFAULT = frozenset(_ID_META)
QUERY_SORTABLE: dict[str, frozenset[str]] = {
    "Customer": QUERY_FILTERABLE["Customer"] - {"PrimaryEmailAddr"},  # D, X
    "Vendor": QUERY_FILTERABLE["Vendor"],  # U
    "Employee": QUERY_FILTERABLE["Employee"],  # U
    "Item": frozenset(_ID_META + ("Name", "Sku", "UnitPrice")),  # X, C (UnitPrice sortable only)
    "Account": QUERY_FILTERABLE["Account"],  # D
    "Invoice": frozenset(_ID_META + ("DocNumber", "TxnDate", "Balance", "DueDate")),  # D, C
    "CreditMemo": frozenset(_ID_META + ("DocNumber", "TxnDate", "TotalAmt", "Balance")),  # D
    "RefundReceipt": frozenset(_ID_META + ("DocNumber", "TxnDate")),  # U
    "Payment": frozenset(_ID_META + ("TxnDate", "TotalAmt")),  # D
    "JournalEntry": frozenset(_ID_META + ("DocNumber", "TxnDate", "TotalAmt")),  # C
    "TaxCode": frozenset(_ID_META + ("Name",)),  # U
    "TaxRate": frozenset(_ID_META + ("Name",)),  # U
    "TaxAgency": frozenset(_ID_META + ("DisplayName",)),  # U
    "CompanyInfo": frozenset(_ID_META),  # U
    "Preferences": frozenset(_ID_META),  # U
    "ExchangeRate": frozenset({"SourceCurrencyCode", "AsOfDate"}),  # U
}

# A nested key the XSD type does not define (`Line[].Foo`, `SalesItemLineDetail.Bogus`, a TaxCodeRef on
# the Line instead of in its detail, a DetailType on a Payment line) answers 2010 with the same detail
# as an unknown top-level key, naming the nested type [unconfirmed, strict; Ref qbo-response-examples
# §5.8 for the wording]. The field sets are in entities/schema.py (qbo-xsd-entities; Payment lines
# carry only Amount, LinkedTxn and LineEx as in QBO's responses, qbo-response-examples §2.8).
NESTED_UNKNOWN_FIELDS_REFUSED = True
# [U] python-quickbooks 0.9.12 serialises a sub-total line's detail as "SubtotalLineDetail" (its class
# attribute), not the XSD's "SubTotalLineDetail"; read-modify-save of any invoice sends it back, so it is
# accepted (and ignored, like every sub-total line).
SUBTOTAL_DETAIL_ALIAS = "SubtotalLineDetail"

# A colon in a name: 2040 (raw QBO error quoted on Stack Overflow #24529982: "ERROR CODE:2040, ERROR
# MESSAGE:Invalid String. The String may contain unsupported or illegal chars, ERROR DETAIL:Element
# contains invalid characters. <name>"); qbo-api §1.13 says colons are not allowed. (Was a 6000 guess.)
INVALID_NAME_CHARS_FAULT = ("2040", "Invalid String. The String may contain unsupported or illegal chars",
                            "Element contains invalid characters. {value}")
# Control characters (tab, newline, ... Unicode category Cc) in a name get the same 2040 [unconfirmed,
# strict: the Workato list of accepted characters (qbo-api §1.13 source) has no control character].
# Checked in these fields (the colon only in the first field of each entity, the one that builds
# FullyQualifiedName):
NAME_FIELDS_CHECKED = {
    "Customer": ("DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
                 "PrintOnCheckName"),
    "Vendor": ("DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
               "PrintOnCheckName"),
    "Employee": ("DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "PrintOnCheckName"),
    "Item": ("Name",),
    "Account": ("Name",),
}

# An e-mail address that is not a plain RFC 822 addr-spec (local@domain.tld; no spaces, no second
# address, no display name). Third party: code 2210 (Webgility help centre), Message "Invalid Email
# Address format" and the Detail wording (DBSync, Acctivate support pages quoting QBO).
INVALID_EMAIL_FAULT = ("2210", "Invalid Email Address format",
                       "Email Address does not conform to the syntax rules of RFC 822. Supplied value:{value}")
EMAIL_FIELDS = ("PrimaryEmailAddr", "BillEmail", "BillEmailCc", "BillEmailBcc")

# DisplayName is unique across Customer, Vendor and Employee [Ref qbo-api §1.13, qbo-xsd-entities
# Customer]. A clash with another kind answers 6240 with this detail [U wording, after §1.9.4]:
DUPLICATE_NAME_OTHER_KIND_DETAIL = "The name supplied already exists. : Another {kind} is already using this name. Please use a different name."
PERSON_NAME_LISTS = ("Customer", "Vendor", "Employee")

# An Accounts Receivable / Payable account as an item's IncomeAccountRef: 6430 (code from the brief of
# issue #7; message from ruckus/quickbooks-ruby#532, third party). (Was a 6000 guess.)
INVALID_ACCOUNT_TYPE_FAULT = ("6430", "Invalid account type",
                              "Invalid account type : You need to select a different type of account for this transaction.")

# Uniqueness (names, DocNumber with custom transaction numbers) also holds between the items of one
# batch: a later item does not *see* an earlier item's record (qbo-api §1.10), but cannot take its name
# or number either — the second create gets the fault it would get outside the batch [unconfirmed,
# strict].
BATCH_ITEMS_SHARE_UNIQUENESS = True
