"""`flex_conversion_rates`: Flex ConversionRate rows: IBKR's daily FX rates used in the statements.

Key: (report_date, from_currency, to_currency). The rates belong to no account: a statement of each
account repeats them, and the parser keeps the first.
"""

from __future__ import annotations

from ibkr_pipelines.schemas.flex_common import FLEX_SOURCE, REPORT_DATE, flex_table, flex_trailer
from ibkr_pipelines.schemas.spec import FLOAT, TEXT, col

FLEX_CONVERSION_RATES = flex_table(
    slice_column=None,
    name="flex_conversion_rates",
    description="IBKR's FX conversion rates per report date, from Flex statements.",
    source=FLEX_SOURCE + ": ConversionRates/ConversionRate",
    columns=(
        REPORT_DATE,
        col("from_currency", TEXT, "Currency converted from (fromCurrency).", nullable=False),
        col("to_currency", TEXT, "Currency converted to, usually the base currency (toCurrency).", nullable=False),
        col("rate", FLOAT, "Units of to_currency per unit of from_currency (rate)."),
        *flex_trailer(),
    ),
    natural_key=("report_date", "from_currency", "to_currency"),
    analyst_columns=("rate",),
)
