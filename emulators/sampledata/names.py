"""Name, product and payment-method catalogues the generator draws from.

The lists mix plain ASCII with accented, non-Latin and apostrophe names on purpose: customer names
end up as QBO DisplayNames, where unicode, `:` and length limits are real failure modes.
Fusebill caps first/middle/last/company names at 50 characters (fusebill-api.md §3.1), so the
"very long" names below sit exactly at that limit instead of beyond it.
"""
from __future__ import annotations

from decimal import Decimal

FIRST_NAMES = (
    "James", "Mary", "Olivia", "Liam", "Emma", "Noah", "Ava", "William", "Sophia", "Lucas",
    "Charlotte", "Benjamin", "Amelia", "Henry", "Harper", "Jack", "Evelyn", "Daniel", "Grace", "Samuel",
    "Chloé", "Zoë", "José", "Łukasz", "Søren", "Björn", "Amélie", "François", "Siobhán", "Mateo",
    "Yuki", "Priya", "Wei", "Fatima", "Jürgen", "Renée", "Inès", "Ömer", "Anaïs", "Nguyễn",
)
LAST_NAMES = (
    "Smith", "Johnson", "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Brown", "Wilson", "Martin",
    "Taylor", "Anderson", "Thomas", "Lee", "Walker", "Young", "King", "Wright", "Scott", "Green",
    "Müller", "Schmidt", "O'Brien", "García", "Dubois", "Lefèvre", "Kowalski", "Nakamura", "Patel", "Chen",
    "Østergaard", "Van der Merwe", "Smith-Jones", "D'Angelo", "Şahin", "Żurawski", "Ó Briain", "李", "Ferreira", "Lindqvist",
)
COMPANY_STEMS = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent",
    "Blue Sky", "Maple Leaf", "Polar", "Cascade", "Lakeside", "Summit", "Pinecrest", "Harbour", "Aurora", "Nordlicht",
    "Brasserie Dupont", "Café René", "Müller & Söhne", "Ziggurat", "東京テック", "Łódź Software", "Crème Brûlée Bakery",
    "Fjällräven Consulting", "O'Connor & Sons", "Zürich Analytics",
)
COMPANY_SUFFIXES = (
    "Ltd", "Inc.", "LLC", "GmbH", "Corp.", "Co.", "Limited", "Ltée", "S.A.R.L.", "Technologies", "Consulting", "Group",
)
# Company names with a colon: QBO uses ":" as the sub-customer separator, so DisplayNames must not
# contain one (accounting-mapping.md, Customer row).
COLON_COMPANY_NAMES = (
    "Acme: North America", "Globex: Billing Dept.", "Re: Solutions", "Initech: EMEA", "Café René: Montréal",
)
# Exactly 50 characters each (Fusebill's maximum): "First Last (FB-123456)" is then over QBO's
# 100-character DisplayName limit and has to be cut.
LONG_FIRST_NAME = "Anna-Maria Josephine Alexandra Theodora Wilhelmina"
LONG_LAST_NAME = "Featherstonehaugh-Cholmondeley-Marjoribanks-Foulis"
LONG_COMPANY_NAME = "Consolidated Holdings & Trading Company of Toronto"
assert len(LONG_FIRST_NAME) == len(LONG_LAST_NAME) == len(LONG_COMPANY_NAME) == 50

# (product code, name, unit price, taxable). Prices are nominal in every currency; JPY scales by 100.
PRODUCTS = (
    ("PLAN-STARTER", "Starter plan", Decimal("29.00"), True),
    ("PLAN-PRO", "Pro plan", Decimal("99.00"), True),
    ("PLAN-BUSINESS", "Business plan", Decimal("249.50"), True),
    ("PLAN-ENTERPRISE", "Enterprise plan", Decimal("1499.00"), True),
)
ADD_ONS = (
    ("SEAT", "Additional seat", Decimal("12.50"), True),
    ("STORAGE-100", "Extra storage (100 GB)", Decimal("9.99"), True),
    ("SUPPORT-PREMIUM", "Premium support", Decimal("149.00"), True),
    ("SETUP", "One-time setup fee", Decimal("250.00"), True),
    ("SMS", "SMS messages", Decimal("0.0125"), True),
    ("API-CALLS", "API usage (per 1,000 calls)", Decimal("0.35"), True),
    ("TRAINING", "Training session", Decimal("33.33"), True),
    ("EXEMPT-SERVICES", "Tax-exempt professional services", Decimal("75.00"), False),
)
QUANTITY_PRODUCTS = {"SMS": (200, 5000), "API-CALLS": (10, 900), "SEAT": (1, 12)}

PAYMENT_METHODS = (
    ("Automatic", "CreditCard (Visa ending in 1111)"),
    ("Automatic", "CreditCard (MasterCard ending in 4444)"),
    ("Automatic", "CreditCard (AmericanExpress ending in 0005)"),
    ("Automatic", "ACH (Checking ending in 6789)"),
    ("SelfServicePortal", "CreditCard (Visa ending in 4242)"),
    ("Manual", "Check"),
    ("Manual", "DirectDeposit"),
    ("Manual", "Cash"),
    ("Manual", "Paypal"),
)
PAYMENT_REFERENCES = (
    None, None, None, "CHK-10234", "CHK-55871", "EFT 2024-118", "Wire transfer ref 2024-ACME-0001234567",
)
CREDIT_REFERENCES = (
    "Goodwill credit", "Service outage compensation", "Loyalty discount", "Billing correction", None,
)
