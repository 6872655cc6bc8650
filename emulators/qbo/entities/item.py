"""Item (products and services).

Name required (2020) and unique among items (6240), at most 100 characters; `Type` from ItemTypeEnum;
an income account for the types that sell (XSD), which must exist (2500) and be active (610).
"""
from __future__ import annotations

from .. import faults, rules
from .base import (
    ENTITY_KEYS,
    EntityType,
    OpContext,
    blank,
    boolean,
    check_known_keys,
    check_sync_token,
    clean,
    decimal,
    merge_for_update,
    next_sync_token,
    resolve,
    text,
)
from .namelist import active_name, check_no_colon, check_unique

ITEM_TYPES = frozenset({"Assembly", "Category", "Fixed Asset", "Group", "Inventory", "NonInventory", "Other Charge",
                        "Payment", "Service", "Subtotal", "Discount", "Tax", "Tax Group", "Bundle"})

KNOWN = ENTITY_KEYS | frozenset({
    "Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level", "FullyQualifiedName", "Taxable",
    "SalesTaxIncluded", "PercentBased", "UnitPrice", "RatePercent", "Type", "PaymentMethodRef", "UOMSetRef",
    "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost", "ExpenseAccountRef",
    "COGSAccountRef", "AssetAccountRef", "PrefVendorRef", "AvgCost", "TrackQtyOnHand", "QtyOnHand",
    "QtyOnPurchaseOrder", "QtyOnSalesOrder", "ReorderPoint", "ManPartNum", "DepositToAccountRef", "SalesTaxCodeRef",
    "PurchaseTaxCodeRef", "InvStartDate", "BuildPoint", "PrintGroupedItems", "SpecialItem", "SpecialItemType",
    "ItemGroupDetail", "ItemAssemblyDetail", "AbatementRate", "ReverseChargeRate", "ServiceType", "ItemCategoryType",
    "ItemEx", "TaxClassificationRef", "UQCDisplayText", "UQCId", "ClassRef", "Source", "DeferredRevenue",
})
READ_ONLY = frozenset({"FullyQualifiedName", "Level", "SubItem", "AvgCost", "QtyOnPurchaseOrder", "QtyOnSalesOrder"})
HANDLED = frozenset({"Name", "Sku", "Description", "Active", "ParentRef", "Taxable", "UnitPrice", "Type",
                     "IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "PurchaseCost", "TrackQtyOnHand"})
_LIMITS = rules.MAX_LENGTHS["Item"]


class ItemType(EntityType):
    name = "Item"
    known_keys = KNOWN
    namelist = True

    def _build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        name = text(fields, "Name", limit=_LIMITS["Name"])
        if name is None or not name.strip():
            raise faults.required("Name")
        active = boolean(fields, "Active", True)
        base_name = active_name(name, True)
        check_no_colon(base_name, "Name")
        item_type = text(fields, "Type") or (existing["Type"] if existing else rules.ITEM_TYPE_WHEN_OMITTED)
        if item_type not in ITEM_TYPES:
            raise faults.invalid_enum("Type", item_type)
        parent = resolve(ctx, "Item", fields.get("ParentRef"), "ParentRef")
        full_name = base_name if parent is None else f"{parent['FullyQualifiedName']}:{base_name}"
        shown_full = active_name(full_name, active)
        check_unique(ctx, "Item", shown_full, existing["Id"] if existing else None,
                     rules.DUPLICATE_OTHER_NAME_DETAIL.format(kind="product or service"), "Name")

        income = resolve(ctx, "Account", fields.get("IncomeAccountRef"), "IncomeAccountRef",
                         required=item_type in rules.ITEM_TYPES_REQUIRING_INCOME_ACCOUNT)
        if income is not None and income["AccountType"] in rules.ITEM_INCOME_ACCOUNT_FORBIDDEN_TYPES:
            raise faults.from_rule(rules.INVALID_ACCOUNT_TYPE_FAULT, element="IncomeAccountRef")
        expense = resolve(ctx, "Account", fields.get("ExpenseAccountRef"), "ExpenseAccountRef")
        asset = resolve(ctx, "Account", fields.get("AssetAccountRef"), "AssetAccountRef")

        doc: dict = {"Name": active_name(base_name, active)}
        for key in ("Sku", "Description"):
            value = text(fields, key, limit=_LIMITS[key])
            if value:
                doc[key] = value
        doc["Active"] = active
        if parent is not None:
            doc["SubItem"] = True
            doc["ParentRef"] = {"value": parent["Id"], "name": parent["Name"]}
            doc["Level"] = parent.get("Level", 0) + 1
        doc["FullyQualifiedName"] = shown_full
        doc["Taxable"] = boolean(fields, "Taxable", False)
        doc["UnitPrice"] = decimal(fields, "UnitPrice") or 0
        doc["Type"] = item_type
        if income is not None:
            doc["IncomeAccountRef"] = {"value": income["Id"], "name": income["FullyQualifiedName"]}
        doc["PurchaseCost"] = decimal(fields, "PurchaseCost") or 0
        if expense is not None:
            doc["ExpenseAccountRef"] = {"value": expense["Id"], "name": expense["FullyQualifiedName"]}
        if asset is not None:
            doc["AssetAccountRef"] = {"value": asset["Id"], "name": asset["FullyQualifiedName"]}
        doc["TrackQtyOnHand"] = boolean(fields, "TrackQtyOnHand", False)
        for key, value in fields.items():
            if key in HANDLED or key in READ_ONLY or key in ENTITY_KEYS or blank(value):
                continue
            doc[key] = clean(value) if isinstance(value, (dict, list)) else value
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["Id"] = existing["Id"] if existing else ctx.company.next_id("Item")
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        return doc

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        return ctx.uow.save(self.name, self._build(ctx, body, None))

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        fields = merge_for_update(existing, body, sparse)
        if sparse and "Name" not in body:
            fields["Name"] = active_name(existing["Name"], True)
        return ctx.uow.save(self.name, self._build(ctx, fields, existing))
