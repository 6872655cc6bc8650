"""QBO writes for a chunk of customers, in dependency waves, batched (≤ 30 operations a request).

Per document: resolve its references (QBO ids of the documents it names, A/R account, exchange
rate) → hash → unchanged: no call at all; new: create with a requestid derived from (realm, type,
Fusebill id, payload hash), so a retried create replays instead of duplicating; changed: update with
the link's SyncToken (a stale token, 5010, is re-read once and retried). Each batch's links are
committed as soon as QBO answered it, so a crash loses at most the answer of one batch, and the
requestid makes its replay return the same documents. A document whose dependency could not be
written waits ("pending: waiting for …"); one customer's failure never stops another's.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from jobs.sync import links as link_store
from jobs.sync.links import Linked
from jobs.sync.model import LABELS, ArAccount, CustomerPlan, Doc, Key, Rate, Ref, placeholders
from jobs.sync.outcomes import Outcome, hint_for
from portal.clients import PermanentError, Throttled
from portal.clients.qbo import BATCH_MAX_ITEMS, QboApi, quote, request_id
from portal.models.integration import STATE_FAILED, STATE_PENDING, STATE_SYNCED

log = logging.getLogger(__name__)

STALE_TOKEN = "5010"
DUPLICATE_DOC_NUMBER = "6140"
DUPLICATE_NAME = "6240"
SINGLE_THREADS = 4  # concurrent single writes when the batch budget is spent (see Writer.singles)


class Unresolved(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Failure:
    reason: str
    code: str | None = None
    hint: str | None = None
    pending: bool = False


@dataclass
class ChunkResult:
    outcomes: list[Outcome] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def payload_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class Writer:
    def __init__(self, api: QboApi, *, realm_id: str, environment_id: int, commit: Callable[[Callable[[Any], None]], None],
                 linked: dict[Key, Linked], rates: Callable[[str, str], Decimal | None],
                 known_rates: Callable[[list[tuple[str, str]]], dict[tuple[str, str], Decimal]] | None = None,
                 remember_rate: Callable[[str, str, Decimal], None] | None = None, salts: dict[Key, int] | None = None) -> None:
        """`commit(fn)` runs fn(session) in a short transaction and commits it; `rates(currency, day)`
        asks QBO for one exchange rate, `known_rates` / `remember_rate` read and fill a shared cache."""
        # A record QBO refused before (a definite fault, recorded) gets a fresh requestid: QBO answers a
        # repeated requestid with its first answer, faults included, so a retry after the cause was
        # fixed must not look like a replay (qbo-api.md §1.7). Transient failures keep theirs.
        self.salts = salts or {}
        self.rate_cache: dict[tuple[str, str], Decimal] = {}
        self.known_rates = known_rates
        self.remember_rate = remember_rate
        self.api = api
        self.realm_id = realm_id
        self.environment_id = environment_id
        self.commit = commit
        self.linked = linked
        self.rates = rates
        self.ar_accounts: dict[str, str] | None = None
        self.done: set[Key] = set()
        self.failed: dict[Key, Failure] = {}
        self.counts: Counter = Counter()

    # ---------------------------------------------------------------- resolving references
    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            if value.key in self.failed or value.key not in self.done:
                raise Unresolved(f"waiting for {self.describe(value.key)}")
            linked = self.linked.get(value.key)
            if linked is None:
                raise Unresolved(f"waiting for {self.describe(value.key)}")
            if value.detail == "id":
                return linked.qbo_id
            if value.detail not in linked.details:
                raise Unresolved(f"{self.describe(value.key)} has no {value.detail} recorded; it will be re-written")
            return linked.details[value.detail]
        if isinstance(value, ArAccount):
            return self.receivable(value.currency)
        if isinstance(value, Rate):
            rate = self.rate_cache.get((value.currency, value.on))
            if rate is None:
                rate = self.rates(value.currency, value.on)
            if rate is None or rate <= 0:
                raise Unresolved(f"QuickBooks has no exchange rate for {value.currency} on {value.on}")
            return format(rate, "f")
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def receivable(self, currency: str) -> str:
        """The A/R account of a currency. QBO makes one when a first sales document in that currency
        is saved; a journal entry (a refund, a credit reversal) of a customer with none yet needs one
        made: an Accounts Receivable account in that currency, as QBO names its own."""
        if self.ar_accounts is None or currency not in self.ar_accounts:
            self.ar_accounts = self.api.receivable_accounts()
        account = self.ar_accounts.get(currency)
        if account is None:
            body = {"Name": f"Accounts Receivable (A/R) - {currency}", "AccountType": "Accounts Receivable",
                    "AccountSubType": "AccountsReceivable", "CurrencyRef": {"value": currency}}
            try:
                made = self.api.create("Account", body, request_id(self.realm_id, "ar-account", currency))
            except PermanentError as error:
                raise Unresolved(f"QuickBooks has no Accounts Receivable account in {currency} and refused to make one: {error.message}") from error
            account = self.ar_accounts[currency] = str(made["Id"])
        return account

    @staticmethod
    def describe(key: Key) -> str:
        text = f"{LABELS.get(key.entity_type, key.entity_type).lower()} {key.fusebill_id}"
        return text + (f" ({key.part})" if key.part else "")

    # ---------------------------------------------------------------- the waves
    def write(self, plans: list[CustomerPlan]) -> ChunkResult:
        docs = {doc.key: doc for plan in plans for doc in plan.docs}
        records = {key.record for key in docs}
        owners = {doc.key.record: doc.customer_id for doc in docs.values()}
        for key in list(self.linked):
            # An application the plan no longer has (its split changed, or it fell to zero): delete it.
            if key not in docs and key.part.startswith("apply:") and key.record in records:
                docs[key] = Doc(key, self.linked[key].qbo_type, {}, owners[key.record], delete=True)
        todo = dict(docs)
        for key in list(self.linked):
            if key not in docs:
                self.done.add(key)  # linked documents outside this plan stay as they are
        while todo:
            ready = [doc for doc in todo.values() if all(dep in self.done or dep in self.failed or dep not in docs and dep in self.linked
                                                           for dep in doc.deps())]
            if not ready:
                for doc in todo.values():
                    self.failed[doc.key] = Failure("waiting for a document that could not be planned", pending=True)
                break
            self.prefetch_rates(ready)
            operations = []
            for doc in ready:
                del todo[doc.key]
                operation = self.prepare(doc)
                if operation is not None:
                    operations.append(operation)
            for start in range(0, len(operations), BATCH_MAX_ITEMS):
                self.send(operations[start:start + BATCH_MAX_ITEMS])
        return ChunkResult(self.outcomes(plans), self.counts)

    def prefetch_rates(self, docs: list[Doc]) -> None:
        """Every exchange rate these documents need, 30 to a batch request of queries (QBO's
        ExchangeRate is queryable by SourceCurrencyCode and AsOfDate), instead of one GET each."""
        wanted = {(rate.currency, rate.on) for doc in docs for rate in placeholders(doc.payload, Rate)}
        wanted -= set(self.rate_cache)
        if wanted and self.known_rates is not None:
            self.rate_cache.update(self.known_rates(sorted(wanted)))
            wanted -= set(self.rate_cache)
        pending = sorted(wanted)
        for start in range(0, len(pending), BATCH_MAX_ITEMS):
            group = pending[start:start + BATCH_MAX_ITEMS]
            items = [{"bId": f"r{i}", "Query": f"SELECT * FROM ExchangeRate WHERE SourceCurrencyCode = '{currency}' AND AsOfDate = '{on}'"}
                     for i, (currency, on) in enumerate(group)]
            answers = self.api.batch(items)
            for i, (currency, on) in enumerate(group):
                rows = ((answers.get(f"r{i}") or {}).get("QueryResponse") or {}).get("ExchangeRate") or []
                if rows and rows[0].get("Rate") not in (None, ""):
                    rate = Decimal(str(rows[0]["Rate"]))
                    self.rate_cache[(currency, on)] = rate
                    if self.remember_rate is not None:
                        self.remember_rate(currency, on, rate)

    def prepare(self, doc: Doc) -> _Operation | None:
        linked = self.linked.get(doc.key)
        if doc.delete:
            if linked is None:
                self.done.add(doc.key)
                return None
            return _Operation(doc, "delete", {"Id": linked.qbo_id, "SyncToken": linked.sync_token}, "")
        try:
            body = self.resolve(doc.payload)
            extra = self.resolve(doc.create_only) if linked is None else {}
        except Unresolved as waiting:
            self.failed[doc.key] = Failure(waiting.reason, pending=True)
            return None
        digest = payload_hash(body)
        if linked is not None and linked.payload_hash == digest:
            self.done.add(doc.key)
            self.counts["unchanged"] += 1
            return None
        if linked is None:
            return _Operation(doc, "create", {**body, **extra}, digest)
        update = {**body, "Id": linked.qbo_id, "SyncToken": linked.sync_token}
        if linked.details.get("doc_number_left_out"):
            update.pop("DocNumber", None)  # QBO numbered it: the Fusebill number is taken there
            doc.details["doc_number_left_out"] = linked.details["doc_number_left_out"]
        if doc.sparse:
            update["sparse"] = True
        return _Operation(doc, "update", update, digest)

    def send(self, operations: list[_Operation]) -> None:
        items = [{"bId": f"b{i}", "operation": op.operation, op.doc.qbo_type: op.body} for i, op in enumerate(operations)]
        batch_id = request_id(self.realm_id, "batch", *[self.intent(op) for op in operations])[:36]
        if len(operations) == 1:
            answers = {"b0": self.single(operations[0])}
        else:
            try:
                answers = self.api.batch(items, request_id=batch_id, wait=self.api.batch_slot_seconds())
            except Throttled as error:
                if error.limit != "qbo-batch":
                    raise
                # No batch came free within one slot's time (40 a minute) but the request budget
                # (500) is not spent: QBO's ceiling is both together, so these go one by one now
                # (the next send tries a batch again). Waiting longer leaves requests unused;
                # not waiting at all spends on singles what a batch would carry 30 to a request.
                self.counts["singles_after_batch_limit"] += len(operations)
                answers = self.singles(operations)
            except PermanentError as error:
                # QBO refused the batch as a whole (not one item in it): each item on its own, so one
                # customer's document never fails another's.
                log.info("QBO refused a batch (%s); sending its %d items one by one", error.code, len(operations))
                answers = self.singles(operations)
        saved: list[tuple[_Operation, dict[str, Any] | None]] = []
        faults: list[tuple[_Operation, dict[str, Any]]] = []
        for i, op in enumerate(operations):
            answer = answers.get(f"b{i}") or {"Fault": {"Error": [{"code": "", "Message": "QuickBooks sent no answer for this item"}]}}
            if answer.get("Fault"):
                faults.append((op, answer["Fault"]))
            elif op.operation != "delete" and not (answer.get(op.doc.qbo_type) or {}).get("Id"):
                faults.append((op, {"Error": [{"code": "", "Message": "QuickBooks answered without the document"}]}))
            else:
                saved.append((op, answer.get(op.doc.qbo_type)))
        # What QBO did is recorded before anything else is asked of it (a failing recovery must not
        # lose the links of the documents this batch made).
        self.commit(lambda session: self.store(session, saved))
        for op, fault in faults:
            recovered = self.recover(op, fault)
            if recovered is not None:
                self.commit(partial(self.store, saved=[(op, recovered.get(op.doc.qbo_type))]))

    def intent(self, op: _Operation, *extra: str) -> str:
        """The requestid of one operation: the same for the same intent, so a retry is a replay."""
        salt = str(self.salts.get(op.doc.key.record, 0))
        return request_id(self.realm_id, op.doc.key.marker, op.operation, op.digest, str(op.body.get("SyncToken", "")), salt, *extra)

    def singles(self, operations: list[_Operation]) -> dict[str, dict[str, Any]]:
        """Each operation on its own, SINGLE_THREADS at a time: a request's round trip, not QBO's
        limit, would otherwise bound the rate (our limiter still spaces them). The operations of
        one send are independent of each other (one dependency wave); the first error (a 429 the
        limiter could not avoid, a timeout) is raised once every request sent has ended."""
        if len(operations) == 1 or SINGLE_THREADS == 1:
            return {f"b{i}": self.single(op) for i, op in enumerate(operations)}
        with ThreadPoolExecutor(max_workers=min(SINGLE_THREADS, len(operations)), thread_name_prefix="qbo-single") as pool:
            answers = list(pool.map(self.single, operations))
        return {f"b{i}": answer for i, answer in enumerate(answers)}

    def single(self, op: _Operation, *extra: str) -> dict[str, Any]:
        """One operation outside a batch (a batch of one costs the same request and a batch slot)."""
        try:
            if op.operation == "create":
                return {op.doc.qbo_type: self.api.create(op.doc.qbo_type, op.body, self.intent(op, *extra))}
            if op.operation == "update":
                return {op.doc.qbo_type: self.api.update(op.doc.qbo_type, op.body, self.intent(op, *extra))}
            self.api.delete(op.doc.qbo_type, op.body["Id"], op.body["SyncToken"], self.intent(op, *extra))
            return {op.doc.qbo_type: None}
        except PermanentError as error:
            return {"Fault": {"Error": [{"code": error.code or "", "Message": error.message, "Detail": error.detail}]}}

    def recover(self, op: _Operation, fault: dict[str, Any]) -> dict[str, Any] | None:
        """One retry where QBO tells us how: a stale SyncToken (5010), a duplicate DocNumber (6140), or a
        customer's name taken (6240) by that same customer, made by a create whose answer was lost."""
        error = (fault.get("Error") or [{}])[0]
        code = str(error.get("code") or "")
        if op.operation == "delete" and code in ("610", "") and self.api.read(op.doc.qbo_type, op.body["Id"]) is None:
            return {op.doc.qbo_type: None}  # already gone from QBO (deleted there): the link goes too
        if code == STALE_TOKEN and op.operation in ("update", "delete"):
            current = self.api.read(op.doc.qbo_type, op.body["Id"])
            if current is not None:
                retry = _Operation(op.doc, op.operation, {**op.body, "SyncToken": str(current["SyncToken"])}, op.digest)
                answer = self.single(retry)
                if not answer.get("Fault"):
                    return answer
                error = (answer["Fault"].get("Error") or [{}])[0]
                code = str(error.get("code") or "")
        elif code == DUPLICATE_NAME and op.operation == "create" and op.doc.qbo_type == "Customer":
            # The name is taken: by this very customer when an earlier create's answer was lost (its
            # marker says so: link it, and the next sync brings it up to date), else by someone else.
            mine = self.find_customer(op)
            if mine is not None:
                op.digest = ""
                self.counts["relinked"] += 1
                return {"Customer": mine}
        elif code == DUPLICATE_DOC_NUMBER and "DocNumber" in op.body:
            body = {k: v for k, v in op.body.items() if k != "DocNumber"}
            retry = _Operation(op.doc, op.operation, body, op.digest)
            answer = self.single(retry, "without-docnumber")
            if not answer.get("Fault"):
                op.doc.details["doc_number_left_out"] = op.body["DocNumber"]
                self.counts["doc_number_left_out"] += 1
                log.info("%s: DocNumber %s already used in QuickBooks; QuickBooks numbered it", op.doc.key.marker, op.body["DocNumber"])
                return answer
            error = (answer["Fault"].get("Error") or [{}])[0]
            code = str(error.get("code") or "")
        message = str(error.get("Message") or "QuickBooks refused it")
        detail = str(error.get("Detail") or "")
        self.failed[op.doc.key] = Failure(f"QuickBooks refused it ({code}): {message}" + (f" — {detail}" if detail and detail != message else ""),
                                          code=code or None, hint=hint_for(code))
        self.counts["failed_writes"] += 1
        return None

    def find_customer(self, op: _Operation) -> dict[str, Any] | None:
        name = str(op.body.get("DisplayName") or "")
        if not name:
            return None
        rows = self.api.query_all("Customer", f"DisplayName = '{quote(name)}' AND Active IN (true, false)")
        return next((row for row in rows if link_store.key_of(link_store.marker_of(row.get("Notes"))) == op.doc.key), None)

    def store(self, session: Any, saved: list[tuple[_Operation, dict[str, Any] | None]]) -> None:
        for op, entity in saved:
            key = op.doc.key
            if op.operation == "delete":
                link_store.remove(session, self.environment_id, key)
                self.linked.pop(key, None)
                self.counts["deleted"] += 1
            else:
                if entity is None:
                    raise AssertionError(f"{key.marker}: QuickBooks' answer to a {op.operation} has no {op.doc.qbo_type}")
                details = dict(op.doc.details)
                if op.doc.qbo_type == "JournalEntry" and entity:
                    details["ar_line"] = str((entity.get("Line") or [{}])[0].get("Id", "0"))
                linked = Linked(op.doc.qbo_type, str(entity["Id"]), str(entity.get("SyncToken", "0")), op.digest, details)
                link_store.save(session, self.environment_id, self.realm_id, key, op.doc.customer_id, linked)
                self.linked[key] = linked
                self.counts["created" if op.operation == "create" else "updated"] += 1
            self.done.add(key)

    # ---------------------------------------------------------------- record states
    def outcomes(self, plans: list[CustomerPlan]) -> list[Outcome]:
        found = []
        for plan in plans:
            by_record: dict[Key, list[Doc]] = {}
            for doc in plan.docs:
                by_record.setdefault(doc.key.record, []).append(doc)
            for record, _docs in by_record.items():
                label = plan.labels.get(record, record.marker)
                failures = [f for k, f in self.failed.items() if k.record == record]
                hard = [f for f in failures if not f.pending]
                main = self.linked.get(record)
                if hard:
                    f = hard[0]
                    found.append(Outcome(record, plan.customer_id, label, STATE_FAILED, f.reason, f.hint, f.code, main.qbo_id if main else None))
                elif failures:
                    found.append(Outcome(record, plan.customer_id, label, STATE_PENDING, failures[0].reason, None, None, main.qbo_id if main else None))
                else:
                    found.append(Outcome(record, plan.customer_id, label, STATE_SYNCED, None, None, None, main.qbo_id if main else None))
            for verdict in plan.verdicts:
                found.append(Outcome(verdict.record, plan.customer_id, verdict.label, verdict.state, verdict.reason, verdict.hint or None, verdict.code))
        return found


@dataclass
class _Operation:
    doc: Doc
    operation: str  # create | update | delete
    body: dict[str, Any]
    digest: str
