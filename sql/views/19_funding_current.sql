-- Each funding instruction's current state per account: the status observed latest (funding_instructions
-- keeps one row per instruction, account and status; a PROCESSED or REJECTED row outranks a PENDING one
-- seen on the same date, since IBKR's lifecycle only moves PENDING -> PROCESSED or REJECTED).
--   instruction_id, account_id, instruction_type, amount, currency: as in funding_instructions.
--   status:         the latest status observed (PENDING, PENDING_VERIFICATION, PROCESSED or REJECTED).
--   is_final:       true once PROCESSED or REJECTED.
--   status_since:   the first trading date that status was observed.
--   last_observed:  the latest trading date any fetch saw the instruction.
--   requested_at, resolved_at, reject_code, reject_reason: as in funding_instructions (resolved_at, the
--                   reason: once final and polled).
CREATE OR REPLACE VIEW funding_current AS
SELECT
    instruction_id,
    account_id,
    instruction_type,
    amount,
    currency,
    status,
    status IN ('PROCESSED', 'REJECTED') AS is_final,
    first_observed_date AS status_since,
    last_observed_date AS last_observed,
    requested_at,
    resolved_at,
    reject_code,
    reject_reason,
    client_instruction_id,
    instruction_set_id
FROM funding_instructions
QUALIFY row_number() OVER (
    PARTITION BY instruction_id, account_id
    ORDER BY last_observed_date DESC, (status IN ('PROCESSED', 'REJECTED')) DESC, first_observed_date DESC
) = 1;
