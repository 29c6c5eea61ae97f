"""`funding_instructions`: each funding instruction's statuses as observed, from Account Management (reference §3.4).

One row per instruction, account and status: the recent-instructions query (QUERY_RECENT_INSTRUCTIONS, up to
30 days back) lists an account's deposits, withdrawals and transfers with their status now; those still
pending, and the rejected ones (for the reason), are polled by id. A status seen again on a later date
widens ``first_observed_date``..``last_observed_date`` (MERGE_SEEN), so an instruction's life reads as its
rows ordered by ``first_observed_date``: PENDING (or PENDING_VERIFICATION) first, then PROCESSED or
REJECTED. An internal transfer is listed by both accounts' queries (the history gives no direction):
one row per account. The view ``funding_current`` keeps each instruction's latest status.
"""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BIGINT, DATE, FLOAT, TEXT, TIMESTAMP, LoadStrategy, Reach, TableSpec, col

FUNDING_INSTRUCTIONS = TableSpec(
    name="funding_instructions",
    description="Funding instructions (deposits, withdrawals, internal transfers) per account and status, as observed.",
    source="POST /gw/api/v1/instructions/query (QUERY_RECENT_INSTRUCTIONS, polled by its instructionId), then "
           "GET /gw/api/v1/instructions/{instructionId} (or /client-instructions/{id}) for pending and rejected ones",
    columns=(
        col("instruction_id", BIGINT, "IBKR's instruction id (ibInstructionId; instructionId when polled).",
            nullable=False),
        col("account_id", TEXT, "The account whose recent-instructions query listed it (both sides of a transfer).",
            nullable=False),
        col("status", TEXT, "PENDING, PENDING_VERIFICATION, PROCESSED or REJECTED (status / instructionStatus).",
            nullable=False),
        col("first_observed_date", DATE, "The first trading date (New York) a fetch saw this status.", nullable=False),
        col("last_observed_date", DATE, "The latest trading date (New York) a fetch saw this status.", nullable=False),
        col("client_instruction_id", BIGINT, "The creator's clientInstructionId (not unique: IBKR answers 208 when "
            "one is reused)."),
        col("instruction_set_id", BIGINT, "The instruction set (instructionSetId): a bulk request's instructions "
            "share it."),
        col("instruction_type", TEXT, "DEPOSIT, WITHDRAWAL, INTERNAL_CASH_TRANSFER, ... (instructionType)."),
        col("amount", FLOAT, "Amount of the instruction, in its currency, unsigned (amount)."),
        col("currency", TEXT, "Currency of the amount (currency)."),
        col("requested_at", TIMESTAMP, "When the instruction was requested, UTC (requestDate, New York time with an "
            "hours offset)."),
        col("resolved_at", TIMESTAMP, "When IBKR processed or rejected it, UTC (processedTimestamp; polled "
            "instructions only)."),
        col("ib_reference_id", BIGINT, "IBKR's reference once processed (ibReferenceId; polled instructions only)."),
        col("reject_code", TEXT, "Why IBKR rejected it: error.errorCode (REJECTED rows only)."),
        col("reject_reason", TEXT, "Why IBKR rejected it: error.errorMessage (REJECTED rows only)."),
        RAW_EXTRA,
    ),
    natural_key=("instruction_id", "account_id", "status"),
    load=LoadStrategy.MERGE_SEEN,
    partition_column="last_observed_date",
    lake_partition="observed_date",
    slice_column="account_id",
    reach=Reach.CURRENT,  # the status is IBKR's answer about now
    first_seen_column="first_observed_date",
    last_seen_column="last_observed_date",
    analyst_columns=("instruction_type", "amount", "currency"),
    views=("funding_current",),
)
