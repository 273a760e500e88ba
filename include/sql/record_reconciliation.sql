-- One reconciliation result per run and posting date; a retried task overwrites its own row.
INSERT INTO reconciliation (
    run_id, posting_date, card_id, divvy_count, divvy_total, intacct_count, intacct_total,
    status, created_at
) VALUES (
    :run_id, :posting_date, :card_id, :divvy_count, :divvy_total, :intacct_count,
    :intacct_total, :status, :now
)
ON CONFLICT (run_id, posting_date) DO UPDATE SET
    card_id       = excluded.card_id,
    divvy_count   = excluded.divvy_count,
    divvy_total   = excluded.divvy_total,
    intacct_count = excluded.intacct_count,
    intacct_total = excluded.intacct_total,
    status        = excluded.status,
    created_at    = excluded.created_at
