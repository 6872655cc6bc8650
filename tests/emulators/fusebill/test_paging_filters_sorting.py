"""0-based paging with Fusebill's headers, every `query=` form, and sorting."""
from __future__ import annotations

from datetime import timedelta

from emulators.sampledata.money import format_timestamp


def _ids(response):
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_pages_are_zero_based_and_headers_describe_them(fusebill, seeded):
    first = fusebill.get(seeded.key, "/customers", pageSize=25, pageNumber=0)
    second = fusebill.get(seeded.key, "/customers", pageSize=25, pageNumber=1)
    last = fusebill.get(seeded.key, "/customers", pageSize=25, pageNumber=2)
    assert first.headers["X-Count"] == "60" and first.headers["X-MaxCount"] == "60"
    assert (first.headers["X-CurrentPage"], first.headers["X-PageSize"], first.headers["X-MaxPageIndex"]) == ("0", "25", "2")
    assert (first.headers["X-PreviousPage"], first.headers["X-NextPage"]) == ("-1", "1")
    assert (second.headers["X-PreviousPage"], second.headers["X-NextPage"]) == ("0", "2")
    assert (last.headers["X-NextPage"], len(last.json())) == ("-1", 10)
    all_ids = _ids(first) + _ids(second) + _ids(last)
    assert all_ids == sorted(all_ids) and len(set(all_ids)) == 60
    assert first.headers["X-SortOrder"] == "Ascending" and first.headers["X-SortExpression"] == "id"


def test_default_page_size_is_small_and_a_page_past_the_end_is_empty(fusebill, seeded):
    default = fusebill.get(seeded.key, "/customers")
    assert len(default.json()) == 20 and default.headers["X-PageSize"] == "20"
    beyond = fusebill.get(seeded.key, "/customers", pageSize=50, pageNumber=5)
    assert beyond.status_code == 200 and beyond.json() == []


def test_x_count_counts_matches_and_x_maxcount_the_collection(fusebill, seeded):
    response = fusebill.get(seeded.key, "/customers", query="status:Active", pageSize=5)
    active = len(seeded.active_customer_ids())
    assert response.headers["X-Count"] == str(active) and response.headers["X-MaxCount"] == "60"
    assert response.headers["X-MaxPageIndex"] == str((active + 4) // 5 - 1)


def test_an_empty_result_has_max_page_index_zero(fusebill, seeded):
    response = fusebill.get(seeded.key, "/customers", query="companyName:No such company")
    assert response.json() == [] and response.headers["X-MaxPageIndex"] == "0" and response.headers["X-NextPage"] == "-1"


def test_exact_wildcard_and_empty_string_filters(fusebill, seeded):
    customers = [b.customer for b in seeded.dataset.customers]
    target = next(c for c in customers if c.last_name and c.company_name)
    exact = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query=f"lastName:{target.last_name.upper()}"))
    assert exact == [c.id for c in customers if c.last_name and c.last_name.casefold() == target.last_name.casefold()]
    prefix = target.company_name[:3]
    starts = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query=f"companyName:{prefix}*"))
    assert starts == [c.id for c in customers if c.company_name and c.company_name.lower().startswith(prefix.lower())]
    inner = target.company_name[2:5]
    contains = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query=f"companyName:*{inner}*"))
    assert contains == [c.id for c in customers if c.company_name and inner.lower() in c.company_name.lower()]
    empty = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query="companyName:[empty]"))
    assert empty == [c.id for c in customers if not c.company_name] and empty


def test_several_pairs_joined_by_semicolon_must_all_hold(fusebill, seeded):
    customers = [b.customer for b in seeded.dataset.customers]
    # CurrencyId is the documented currency filter (CAD = 2, emulator numbering [U]); `currency` is not.
    both = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query="status:Active;CurrencyId:2"))
    assert both == [c.id for c in customers if c.status == "Active" and c.currency == "CAD"] and both


def test_enum_and_id_sets(fusebill, seeded):
    customers = [b.customer for b in seeded.dataset.customers]
    statuses = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query="status:Draft,Cancelled"))
    assert statuses == [c.id for c in customers if c.status in ("Draft", "Cancelled")] and statuses
    # `id` is no documented filter; sets of ids work on documented id fields such as customerId.
    invoices = [inv for b in seeded.dataset.customers for inv in b.invoices]
    chosen = sorted({invoices[3].customer_id, invoices[40].customer_id, invoices[-1].customer_id})
    by_customers = _ids(fusebill.get(seeded.key, "/Invoices", pageSize=1000, query="customerId:" + ",".join(map(str, chosen))))
    assert by_customers == [i.id for i in sorted(invoices, key=lambda i: i.id) if i.customer_id in chosen] and by_customers


def _own_modified(customer):
    """A generated customer's own last change (the emulator does not propagate child changes)."""
    return customer.activated or customer.created


def test_timestamp_ranges_include_the_lower_bound_and_exclude_the_upper(fusebill, seeded):
    customers = sorted((b.customer for b in seeded.dataset.customers), key=_own_modified)
    pivot = _own_modified(customers[30])
    text = format_timestamp(pivot)
    since = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query=f"modifiedTimestamp:{text}|"))
    until = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query=f"modifiedTimestamp:|{text}"))
    assert set(since) == {c.id for c in customers if _own_modified(c) >= pivot}
    assert set(until) == {c.id for c in customers if _own_modified(c) < pivot}
    window = _ids(fusebill.get(
        seeded.key, "/customers", pageSize=100,
        query=f"modifiedTimestamp:{text}|{format_timestamp(pivot + timedelta(days=30))}",
    ))
    assert set(window) == {c.id for c in customers if pivot <= _own_modified(c) < pivot + timedelta(days=30)}
    # Clients send several spellings of the same instant.
    z_form = _ids(fusebill.get(seeded.key, "/customers", pageSize=100, query=f"modifiedTimestamp:{text}.000Z|"))
    assert set(z_form) == set(since)


def test_a_bare_date_means_midnight_utc(fusebill, seeded):
    invoices = [inv for b in seeded.dataset.customers for inv in b.invoices]
    day = sorted(invoices, key=lambda i: i.posted)[len(invoices) // 2].posted.date()
    response = fusebill.get(seeded.key, "/Invoices", pageSize=1000, query=f"postedTimestamp:{day.isoformat()}|")
    assert set(_ids(response)) == {i.id for i in invoices if i.posted.date() >= day}


def test_invoice_filters_by_customer_and_numeric_range(fusebill, seeded):
    invoices = [inv for b in seeded.dataset.customers for inv in b.invoices]
    customer_id = invoices[0].customer_id
    by_customer = _ids(fusebill.get(seeded.key, "/Invoices", pageSize=1000, query=f"customerId:{customer_id}"))
    assert by_customer == [i.id for i in invoices if i.customer_id == customer_id]
    mid = _ids(fusebill.get(seeded.key, "/invoiceSummaries", pageSize=1000, query="invoiceAmount:100.00|200.00"))
    assert set(mid) == {i.id for i in invoices if 100 <= i.invoice_amount < 200} and mid


def test_invoice_summaries_filter_on_derived_status(fusebill, seeded):
    written_off = {w.invoice_id for b in seeded.dataset.customers for w in b.write_offs}
    response = _ids(fusebill.get(seeded.key, "/invoiceSummaries", pageSize=1000, query="invoiceStatus:WrittenOff"))
    assert set(response) <= written_off and response


def test_payment_activities_filter_by_status_and_type(fusebill, seeded):
    activities = [a for b in seeded.dataset.customers for a in b.payment_activities]
    failed = _ids(fusebill.get(seeded.key, "/PaymentActivities/GetByAccountID", pageSize=1000, query="status:Failed"))
    assert failed == [a.id for a in activities if a.status == "Failed"] and failed
    collect = _ids(fusebill.get(seeded.key, "/PaymentActivities/GetByAccountID", pageSize=1000,
                                query="status:Successful;transactionType:Collect"))
    assert collect == [a.id for a in activities if a.status == "Successful" and a.transaction_type == "Collect"]


def test_sorting_by_any_field_both_ways(fusebill, seeded):
    invoices = [inv for b in seeded.dataset.customers for inv in b.invoices]
    ascending = fusebill.get(seeded.key, "/Invoices", pageSize=1000, sortOrder="Ascending", sortExpression="postedTimestamp")
    posted = [i["postedTimestamp"] for i in ascending.json()]
    assert posted == sorted(posted) and len(posted) == len(invoices)
    assert ascending.headers["X-SortExpression"] == "postedTimestamp"
    # invoiceAmount is a documented filter (hence sort field) of invoice summaries, not of /Invoices.
    descending = fusebill.get(seeded.key, "/invoiceSummaries", pageSize=1000, sortOrder="descending", sortExpression="InvoiceAmount")
    amounts = [i["invoiceAmount"] for i in descending.json()]
    assert amounts == sorted(amounts, reverse=True) and descending.headers["X-SortOrder"] == "Descending"
    by_name = fusebill.get(seeded.key, "/customers", pageSize=100, sortExpression="companyName").json()
    names = [c["companyName"] for c in by_name]
    assert names[: names.count(None)] == [None] * names.count(None)  # nulls first
    present = [n for n in names if n is not None]
    assert present == sorted(present)
