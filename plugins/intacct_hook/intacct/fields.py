"""Intacct names the public sources do not pin down (docs/architecture.md, "Emulator choices").

The hook reads these names and preflight says which ones it looked for when a fact cannot be
read, so the two never disagree. A guess missing from a real Intacct must never stop the sync:
preflight reports what it could not verify and goes on.
"""

from __future__ import annotations

import re

#: CREDITCARD fields that may hold the card's offset (liability) GL account number, in order.
CARD_OFFSET_ACCOUNT_FIELDS = ("LIABACCTNO", "OFFSETACCOUNTNO", "GLACCOUNTNO", "LIABILITYACCOUNTNO")
#: Field names that look like they hold a GL account: preflight looks for the Divvy GL Account's
#: number in any of them, whatever the real offset field is called.
ACCOUNT_LIKE_FIELD = re.compile(r"ACCT|ACCOUNT|OFFSET|GL")
#: CREDITCARD fields that may hold the card's default location ID, in order.
CARD_LOCATION_FIELDS = ("LOCATION", "LOCATIONID", "DEFAULTLOCATION")
#: The object and field of the books-closed date (invented: the sources name none).
BOOKS_CLOSED_OBJECT = "BOOKSCLOSED"
BOOKS_CLOSED_FIELD = "CLOSEDTHROUGH"
