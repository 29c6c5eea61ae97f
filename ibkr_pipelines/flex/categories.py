"""A cash transaction's ``type`` as one of a few categories the views sum by.

IBKR's type texts vary ("Deposits/Withdrawals" in a recording, "Deposits & Withdrawals" in the
reference), so they are compared without case, spaces and punctuation. The short codes (DIV, PIL,
WHT, ...) are a guess at older layouts. A type not listed is ``other``; the text stays in ``type``.
"""

from __future__ import annotations

import re

_CATEGORIES = {
    "dividend": ("dividends", "dividend", "div"),
    "payment_in_lieu": ("paymentinlieuofdividends", "paymentinlieuofdividend", "pil"),
    "withholding_tax": ("withholdingtax", "871mwithholding", "wht", "frtax"),
    "interest": ("brokerinterestpaid", "brokerinterestreceived", "bondinterestpaid", "bondinterestreceived",
                 "bondinterest", "brokerinterest", "binp", "binr", "bint"),
    "fee": ("otherfees", "fees", "fee", "brokerfees"),
    "advisor_fee": ("advisorfees", "advisorfee"),
    "commission_adjustment": ("commissionadjustments", "commissionadjustment", "cadj"),
    "deposit_withdrawal": ("depositswithdrawals", "depositwithdrawal", "deposits", "withdrawals", "dep", "wit"),
}
_BY_SQUASHED = {text: category for category, texts in _CATEGORIES.items() for text in texts}
_NOT_LETTERS = re.compile(r"[^a-z0-9]")


def cash_category(cash_type: str | None) -> str:
    """The category of a CashTransaction ``type`` (dividend, withholding_tax, interest, fee, ...), else ``other``."""
    if not cash_type:
        return "other"
    return _BY_SQUASHED.get(_NOT_LETTERS.sub("", cash_type.lower()), "other")
