"""The query parser on its own: the forms python-quickbooks and integrators send, and QBO's errors."""
from decimal import Decimal

import pytest

from emulators.qbo import query
from emulators.qbo.faults import QboFault


def test_python_quickbooks_all_and_where_forms_parse():
    # ListMixin.all() writes "ORDER BY", where() writes "ORDERBY" (qbo-api §1.3).
    parsed = query.parse("SELECT * FROM Customer ORDER BY DisplayName STARTPOSITION 101 MAXRESULTS 100")
    assert parsed.entity == "Customer"
    assert parsed.order == [("DisplayName", False)]
    assert (parsed.start_position, parsed.max_results) == (101, 100)

    parsed = query.parse("SELECT * FROM Invoice WHERE CustomerRef = '58' ORDERBY TxnDate DESC STARTPOSITION 1 MAXRESULTS 10")
    assert parsed.conditions[0].path == "CustomerRef"
    assert parsed.order == [("TxnDate", True)]


def test_item_queries_with_star_and_sku_parse():
    parsed = query.parse("SELECT *, Sku FROM Item")
    assert parsed.entity == "Item" and parsed.fields is None and not parsed.count


def test_count_query_and_keywords_in_any_case():
    parsed = query.parse("select count(*) from customer where Active = true")
    assert parsed.count and parsed.entity == "customer"
    assert parsed.conditions[0].values == [True]


def test_clauses_in_any_order():
    parsed = query.parse("SELECT * FROM Account MAXRESULTS 5 STARTPOSITION 3 WHERE AccountType = 'Bank'")
    assert (parsed.start_position, parsed.max_results) == (3, 5)
    assert parsed.conditions[0].values == ["Bank"]


def test_escaped_quote_in_string_literal():
    parsed = query.parse(r"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien & Sons'")
    assert parsed.conditions[0].values == ["O'Brien & Sons"]


def test_in_like_nested_paths_and_numbers():
    parsed = query.parse(
        "SELECT * FROM Invoice WHERE Id IN ('1', '2') AND DocNumber LIKE 'INV%' "
        "AND MetaData.LastUpdatedTime > '2024-01-01T00:00:00-08:00' AND TotalAmt >= 10.50"
    )
    ops = [(c.path, c.op) for c in parsed.conditions]
    assert ops == [("Id", "IN"), ("DocNumber", "LIKE"), ("MetaData.LastUpdatedTime", ">"), ("TotalAmt", ">=")]
    assert parsed.conditions[3].values == [Decimal("10.50")]


def test_selected_fields():
    parsed = query.parse("SELECT Id, DisplayName FROM Customer")
    assert parsed.fields == ["Id", "DisplayName"]


@pytest.mark.parametrize("text", [
    "SELECT * FROM",
    "SELECT FROM Customer",
    "SELECT * FROM Customer WHERE",
    "SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'",
    "SELECT * FROM Customer WHERE DisplayName != 'a'",
    "SELECT * FROM Customer WHERE DisplayName = 'unterminated",
    "SELECT * FROM Customer MAXRESULTS ten",
    "SELECT * FROM Customer WHERE (Active = true)",
    "",
])
def test_syntax_errors_are_4000(text):
    with pytest.raises(QboFault) as caught:
        query.parse(text)
    assert caught.value.code == "4000"
    assert caught.value.message == "Error parsing query"
    assert caught.value.detail.startswith("QueryParserError:")


def test_maxresults_above_1000_is_refused():
    with pytest.raises(QboFault) as caught:
        query.parse("SELECT * FROM Customer MAXRESULTS 1001")
    assert caught.value.code == "4001"
    assert "1001" in caught.value.detail


def test_comparisons_use_the_field_type():
    doc = {"TotalAmt": Decimal("100.00"), "Active": False, "DocNumber": "1001", "TxnDate": "2024-03-05",
           "CustomerRef": {"value": "58", "name": "Acme"}, "MetaData": {"LastUpdatedTime": "2024-03-05T10:00:00-08:00"},
           "DisplayName": "Acme Ltd"}

    def check(text: str) -> bool:
        return all(query.matches(doc, c) for c in query.parse(f"SELECT * FROM Invoice WHERE {text}").conditions)

    assert check("TotalAmt > '99.99'") and not check("TotalAmt > '100'")
    assert check("Active = false") and not check("Active = true")
    assert check("CustomerRef = '58'") and check("CustomerRef IN ('1', '58')")
    assert check("TxnDate >= '2024-03-01'") and not check("TxnDate < '2024-03-05'")
    assert check("MetaData.LastUpdatedTime > '2024-03-05T17:59:59Z'")
    assert not check("MetaData.LastUpdatedTime > '2024-03-05T18:00:00Z'")
    assert check("DisplayName LIKE 'acme%'") and not check("DisplayName LIKE '%Inc'")
    assert check("DocNumber > '999'")  # digit strings compare as numbers
