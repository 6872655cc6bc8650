"""Rules shared by the name-list entities (Customer, Item, Account)."""
from __future__ import annotations

from .. import faults, rules
from ..faults import QboFault
from ..store import name_key
from .base import OpContext


def check_no_colon(name: str, element: str) -> None:
    if ":" in name:
        raise faults.from_rule(rules.NAME_WITH_COLON_FAULT, element=element)


def active_name(name: str, active: bool) -> str:
    """QBO renames an inactive record "<name> (deleted)" and restores the name on reactivation."""
    suffix = rules.INACTIVE_NAME_SUFFIX
    base = name[: -len(suffix)] if suffix and name.endswith(suffix) else name
    return base + suffix if (suffix and not active) else base


def check_unique(ctx: OpContext, entity: str, full_name: str, own_id: str | None, detail: str, element: str) -> None:
    """6240 when another visible record of `entity` already uses the name."""
    ids = ctx.company.names[entity].get(name_key(full_name), ())
    for other_id in ids:
        if other_id != own_id and (entity, other_id) not in ctx.hidden:
            raise QboFault("6240", detail, element=element if entity != "Customer" else None)
