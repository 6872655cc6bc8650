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

# [U] A colon in a Customer DisplayName (Workato: colons are not allowed; the colon separates levels
# in FullyQualifiedName). Code and wording are our choice. Item and Account names use the same rule.
NAME_WITH_COLON_FAULT = ("6000", "Business Validation Error: The name can't contain a colon (:). Please remove it and try again.")

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
# Other Current Liability (Deferred Revenue). A/R and A/P are refused with this 6000 detail.
ITEM_INCOME_ACCOUNT_FORBIDDEN_TYPES = frozenset({"Accounts Receivable", "Accounts Payable"})
ITEM_INCOME_ACCOUNT_FORBIDDEN_DETAIL = "Business Validation Error: You can't use an Accounts Receivable or Accounts Payable account for this item."

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
# duplicate check is per transaction type [U]. Detail wording [U]:
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
# [U] Payment.TotalAmt omitted: taken as the net amount applied (qbo-api §1.13: "whether TotalAmt is
# required in practice" is unverified).
MISSING_PAYMENT_TOTAL_IS_NET_APPLIED = True
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
# [U] Unknown property or entity in a query.
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
