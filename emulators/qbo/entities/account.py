"""Account: the chart of accounts.

Types are QBO's display strings ("Accounts Receivable"), subtypes the enum names ("AccountsReceivable")
(qbo-response-examples §2.4). `CurrentBalance` is computed from the postings of every transaction (see
accounting.py and rules.BALANCE_IS_DEBIT_MINUS_CREDIT for the sign).
"""
from __future__ import annotations

from decimal import Decimal

from .. import faults, rules
from ..faults import QboFault
from ..money import ZERO, round_money
from .base import (
    ENTITY_KEYS,
    EntityType,
    OpContext,
    boolean,
    check_known_keys,
    check_sync_token,
    currency_ref,
    decimal,
    merge_for_update,
    next_sync_token,
    public,
    ref_id,
    resolve,
    text,
)
from .namelist import active_name, check_no_colon, check_unique

CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}

PROFIT_AND_LOSS_TYPES = frozenset({"Income", "Other Income", "Expense", "Other Expense", "Cost of Goods Sold"})

# AccountSubTypeEnum values per AccountType (the common part of QBO's 298 values); the first one
# listed is the default when AccountSubType is omitted.
SUBTYPES: dict[str, tuple[str, ...]] = {
    "Bank": ("Checking", "Savings", "CashOnHand", "MoneyMarket", "RentsHeldInTrust", "TrustAccounts",
             "CashAndCashEquivalents", "OtherEarMarkedBankAccounts"),
    "Other Current Asset": ("OtherCurrentAssets", "AllowanceForBadDebts", "DevelopmentCosts", "EmployeeCashAdvances",
                            "Inventory", "Investment_MortgageRealEstateLoans", "Investment_Other",
                            "Investment_TaxExemptSecurities", "Investment_USGovernmentObligations", "LoansToOfficers",
                            "LoansToOthers", "LoansToStockholders", "PrepaidExpenses", "Retainage", "UndepositedFunds",
                            "GlobalTaxDeferred", "GlobalTaxRefund", "InternalTransfers", "OtherConsumables",
                            "TradeAndOtherReceivables"),
    "Fixed Asset": ("OtherFixedAssets", "AccumulatedDepletion", "AccumulatedDepreciation", "DepletableAssets",
                    "FixedAssetComputers", "FixedAssetCopiers", "FixedAssetFurniture", "FixedAssetPhone",
                    "FixedAssetPhotoVideo", "FixedAssetSoftware", "FixedAssetOtherToolsEquipment",
                    "FurnitureAndFixtures", "Land", "LeaseholdImprovements", "AccumulatedAmortization", "Buildings",
                    "IntangibleAssets", "MachineryAndEquipment", "Vehicles"),
    "Other Asset": ("OtherLongTermAssets", "LeaseBuy", "SecurityDeposits", "AccumulatedAmortizationOfOtherAssets",
                    "Goodwill", "Licenses", "OrganizationalCosts", "DeferredTax", "Investments"),
    "Accounts Receivable": ("AccountsReceivable",),
    "Accounts Payable": ("AccountsPayable",),
    "Credit Card": ("CreditCard",),
    "Other Current Liability": ("OtherCurrentLiabilities", "DeferredRevenue", "DirectDepositPayable", "LineOfCredit",
                                "LoanPayable", "GlobalTaxPayable", "GlobalTaxSuspense", "PayrollClearing",
                                "PayrollTaxPayable", "PrepaidExpensesPayable", "RentsInTrustLiability",
                                "TrustAccountsLiabilities", "FederalIncomeTaxPayable", "InsurancePayable",
                                "SalesTaxPayable", "StateLocalIncomeTaxPayable", "AccruedLiabilities",
                                "CurrentTaxLiability", "DividendsPayable", "InterestPayables", "ShortTermBorrowings"),
    "Long Term Liability": ("OtherLongTermLiabilities", "NotesPayable", "ShareholderNotesPayable",
                            "LongTermBorrowings", "ProvisionForLiabilities"),
    "Equity": ("OwnersEquity", "OpeningBalanceEquity", "PartnersEquity", "RetainedEarnings", "AccumulatedAdjustment",
               "PaidInCapitalOrSurplus", "PartnerContributions", "PartnerDistributions", "PreferredStock",
               "CommonStock", "TreasuryStock", "PersonalIncome", "PersonalExpense", "ShareCapital"),
    "Income": ("ServiceFeeIncome", "SalesOfProductIncome", "OtherPrimaryIncome", "DiscountsRefundsGiven",
               "NonProfitIncome", "UnappliedCashPaymentIncome", "CashReceiptIncome", "OperatingGrants",
               "OtherCurrentOperatingIncome", "RevenueGeneral", "SalesRetail", "SalesWholesale"),
    "Cost of Goods Sold": ("SuppliesMaterialsCogs", "EquipmentRentalCos", "OtherCostsOfServiceCos",
                           "ShippingFreightDeliveryCos", "CostOfLaborCos", "CostOfSales"),
    "Expense": ("OtherBusinessExpenses", "AdvertisingPromotional", "BadDebts", "BankCharges", "CharitableContributions",
                "CommissionsAndFees", "Entertainment", "EntertainmentMeals", "EquipmentRental", "FinanceCosts",
                "GlobalTaxExpense", "Insurance", "InterestPaid", "LegalProfessionalFees", "OfficeExpenses",
                "OfficeGeneralAdministrativeExpenses", "OtherMiscellaneousServiceCost", "PromotionalMeals",
                "RentOrLeaseOfBuildings", "RepairMaintenance", "ShippingFreightDelivery", "SuppliesMaterials",
                "Travel", "TravelMeals", "Utilities", "Auto", "CostOfLabor", "DuesSubscriptions", "PayrollExpenses",
                "TaxesPaid", "Amortization", "Depreciation"),
    "Other Income": ("OtherMiscellaneousIncome", "DividendIncome", "InterestEarned", "OtherInvestmentIncome",
                     "TaxExemptInterest", "GainLossOnSaleOfFixedAssets", "GainLossOnSaleOfInvestments"),
    "Other Expense": ("OtherMiscellaneousExpense", "Depreciation", "ExchangeGainOrLoss", "PenaltiesSettlements",
                      "Amortization", "GasAndFuel", "HomeOffice", "MortgageInterest", "RentAndLease", "Vehicle"),
}

_SUBTYPE_OWNERS: dict[str, list[str]] = {}
for _type, _subtypes in SUBTYPES.items():
    for _subtype in _subtypes:
        _SUBTYPE_OWNERS.setdefault(_subtype, []).append(_type)

READ_ONLY = frozenset({"FullyQualifiedName", "Classification", "CurrentBalance", "CurrentBalanceWithSubAccounts",
                       "OnlineBankingEnabled", "FIName"})

KNOWN = ENTITY_KEYS | frozenset({
    "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName", "AccountAlias", "TxnLocationType",
    "Active", "Classification", "AccountType", "AccountSubType", "AccountPurposes", "AcctNum", "AcctNumExtn",
    "BankNum", "OpeningBalance", "OpeningBalanceDate", "CurrentBalance", "CurrentBalanceWithSubAccounts",
    "CurrencyRef", "TaxAccount", "TaxCodeRef", "OnlineBankingEnabled", "FIName", "JournalCodeRef", "AccountEx",
})

_LIMITS = rules.MAX_LENGTHS["Account"]


def is_balance_sheet(account_type: str) -> bool:
    return account_type not in PROFIT_AND_LOSS_TYPES


def account_currency(account: dict) -> str:
    return account["CurrencyRef"]["value"]


class AccountType(EntityType):
    name = "Account"
    known_keys = KNOWN
    namelist = True

    # ---- validation ---------------------------------------------------------------------------

    def _build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        name = text(fields, "Name", limit=_LIMITS["Name"])
        if name is None:
            raise faults.required("Name")
        account_type, subtype = self._type_and_subtype(fields)
        active = boolean(fields, "Active", True)
        base_name = active_name(name, True)
        check_no_colon(base_name, "Name")

        parent = resolve(ctx, "Account", fields.get("ParentRef"), "ParentRef", allow_inactive=True)
        full_name = base_name if parent is None else f"{active_name(parent['FullyQualifiedName'], True)}:{base_name}"
        shown_name = active_name(base_name, active)
        shown_full = active_name(full_name, active)
        own_id = existing["Id"] if existing else None
        check_unique(ctx, "Account", shown_full, own_id,
                     rules.DUPLICATE_OTHER_NAME_DETAIL.format(kind="account"), "Name")

        currency = self._currency(ctx, fields, account_type, existing)
        doc: dict = {"Name": shown_name, "SubAccount": parent is not None}
        if parent is not None:
            doc["ParentRef"] = {"value": parent["Id"]}
        doc["FullyQualifiedName"] = shown_full
        doc["Active"] = active
        doc["Classification"] = CLASSIFICATION[account_type]
        doc["AccountType"] = account_type
        doc["AccountSubType"] = subtype
        for key in ("Description", "AcctNum"):
            value = text(fields, key, limit=_LIMITS.get(key))
            if value is not None:
                doc[key] = value
        doc["CurrencyRef"] = currency_ref(currency)
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["Id"] = existing["Id"] if existing else ctx.company.next_id("Account")
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        if existing is not None:
            for key in ("_postings", "_role"):
                if key in existing:
                    doc[key] = existing[key]
        return doc

    def _type_and_subtype(self, fields: dict) -> tuple[str, str]:
        account_type = text(fields, "AccountType")
        subtype = text(fields, "AccountSubType")
        if account_type is None:
            owners = _SUBTYPE_OWNERS.get(subtype or "", [])
            if len(owners) == 1:
                account_type = owners[0]
            elif subtype is not None and not owners:
                raise QboFault("6010", f"Invalid Account Type : AccountSubType {subtype} is not valid", element="AccountSubType")
            elif rules.ACCOUNT_TYPE_REQUIRED:
                raise faults.required("AccountType")
        if account_type not in SUBTYPES:
            raise faults.invalid_enum("AccountType", account_type)
        if subtype is None:
            subtype = SUBTYPES[account_type][0]
        elif subtype not in SUBTYPES[account_type]:
            raise QboFault(
                "6010",
                f"Invalid Account Type : AccountSubType {subtype} is not valid for AccountType {account_type}",
                element="AccountSubType",
            )
        return account_type, subtype

    def _currency(self, ctx: OpContext, fields: dict, account_type: str, existing: dict | None) -> str:
        currency = ref_id(fields.get("CurrencyRef"), "CurrencyRef")
        if currency is None:
            return existing["CurrencyRef"]["value"] if existing else ctx.home_currency
        currency = currency.upper()
        if currency != ctx.home_currency:
            if not ctx.multicurrency:
                raise faults.business(rules.FOREIGN_CURRENCY_WITHOUT_MULTICURRENCY_DETAIL.format(home=ctx.home_currency), "CurrencyRef")
            if not is_balance_sheet(account_type):
                raise faults.business(rules.PNL_ACCOUNT_FOREIGN_CURRENCY_DETAIL, "CurrencyRef")
        return currency

    # ---- operations ---------------------------------------------------------------------------

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        doc = self._build(ctx, body, None)
        opening = decimal(body, "OpeningBalance")
        if opening and is_balance_sheet(doc["AccountType"]):
            # A new balance-sheet account's opening balance is booked against Opening Balance Equity.
            amount = round_money(opening, account_currency(doc))
            signed = amount if doc["Classification"] == "Asset" else -amount
            equity = ctx.company.system_accounts.get("opening_balance_equity")
            doc["_postings"] = [[doc["Id"], signed]] + ([[equity, -signed]] if equity else [])
        return ctx.uow.save(self.name, doc)

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        fields = merge_for_update(existing, body, sparse)
        if sparse and "Name" not in body:
            fields["Name"] = active_name(existing["Name"], True)
        doc = self._build(ctx, fields, existing)
        if existing.get("_postings") and doc["CurrencyRef"] != existing["CurrencyRef"]:
            raise faults.business("Business Validation Error: You can't change the currency of an account that has transactions.", "CurrencyRef")
        return ctx.uow.save(self.name, doc)

    def render(self, company, doc: dict) -> dict:
        shown = public(doc)
        currency = account_currency(doc)
        own = company.account_balance(doc["Id"])
        with_children = own + self._children_balance(company, doc["Id"])
        if rules.PNL_ACCOUNTS_REPORT_ZERO_BALANCE and not is_balance_sheet(doc["AccountType"]):
            own = with_children = ZERO
        shown["CurrentBalance"] = _balance_number(own, currency)
        shown["CurrentBalanceWithSubAccounts"] = _balance_number(with_children, currency)
        return _ordered(shown)

    def _children_balance(self, company, account_id: str) -> Decimal:
        total = ZERO
        for child_id in company.children.get(("Account", account_id), ()):
            total += company.account_balance(child_id) + self._children_balance(company, child_id)
        return total


def _balance_number(amount: Decimal, currency: str) -> Decimal | int:
    rounded = round_money(amount, currency)
    return 0 if rounded == 0 else rounded


_ORDER = ("Name", "SubAccount", "ParentRef", "FullyQualifiedName", "Active", "Classification", "AccountType",
          "AccountSubType", "AcctNum", "Description", "CurrentBalance", "CurrentBalanceWithSubAccounts",
          "CurrencyRef", "domain", "sparse", "Id", "SyncToken", "MetaData")


def _ordered(doc: dict) -> dict:
    ordered = {key: doc[key] for key in _ORDER if key in doc}
    ordered.update((key, value) for key, value in doc.items() if key not in ordered)
    return ordered


def seed_account(ctx: OpContext, name: str, account_type: str, subtype: str | None = None,
                 currency: str | None = None, active: bool = True, role: str | None = None) -> dict:
    """Create an account without the API checks' side conditions (default chart, bulk control API)."""
    body: dict = {"Name": name, "AccountType": account_type, "Active": active}
    if subtype:
        body["AccountSubType"] = subtype
    if currency:
        body["CurrencyRef"] = {"value": currency}
    doc = AccountType()._build(ctx, body, None)
    if role:
        doc["_role"] = role
        ctx.company.system_accounts[role] = doc["Id"]
    return ctx.uow.save("Account", doc)

