-- The sync ledger: one schema for SQLite and PostgreSQL.
--
-- Portable types only. Money is TEXT holding the exact decimal string ('53.03', '-12.50'):
-- SQLite's NUMERIC affinity would turn it into a binary float, so the ledger never stores or
-- sums money as a number; Python reads it back as Decimal. Dates are ISO TEXT ('2026-08-01',
-- posting dates in the configured time zone); timestamps are ISO-8601 TEXT in UTC with offset,
-- written by the application so both databases hold the same text.

CREATE TABLE IF NOT EXISTS divvy_transaction (
    uuid              TEXT PRIMARY KEY,          -- Divvy transaction uuid; Intacct reference no.
    transaction_type  TEXT NOT NULL,             -- CLEAR, AUTHORIZATION, DECLINE, OTHER
    amount            TEXT NOT NULL,             -- exact decimal dollars, negative = refund
    occurred_time     TEXT NOT NULL,
    posting_date      TEXT NOT NULL,             -- occurred_time as a date in the sync's zone
    updated_time      TEXT,
    merchant          TEXT,
    -- the states and how a transaction moves between them: intacct_hook/sync/states.py
    state             TEXT NOT NULL
        CHECK (state IN ('held', 'unmapped', 'ready', 'posting', 'posted', 'failed', 'skipped')),
    state_reason      TEXT,
    intacct_record_no TEXT,
    control_id        TEXT,
    last_error        TEXT,
    failed_attempts   INTEGER NOT NULL DEFAULT 0, -- definitive Intacct refusals so far
    claim_run_id      TEXT,                      -- the DAG run whose load holds a 'posting' row
    claim_owner       TEXT,                      -- that run and task attempt ('<run>#try<n>')
    claim_expires_at  TEXT,                      -- the lease: after it, another run may recover
    -- the purchase date of a transaction moved to the first open day of the books (policy
    -- post_to_first_open_day; posting_date is then the date sent to Intacct), else NULL
    original_posting_date TEXT,
    first_run_id      TEXT NOT NULL,
    last_run_id       TEXT NOT NULL,
    staged_at         TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    posted_at         TEXT
);

CREATE INDEX IF NOT EXISTS divvy_transaction_state_idx ON divvy_transaction (state);

CREATE INDEX IF NOT EXISTS divvy_transaction_posting_date_idx
    ON divvy_transaction (posting_date);

-- The load's claim walks the ready rows in posting order and stops after one batch: without
-- this index each claim read and sorted every ready row (a window's claims cost O(N^2)).
CREATE INDEX IF NOT EXISTS divvy_transaction_claim_order_idx
    ON divvy_transaction (state, posting_date, uuid);

-- The Divvy JSON of each transaction, as extracted (the text Ledger.land stored). Kept apart from
-- divvy_transaction so that the load's two writes per batch (the claim and the answers) rewrite
-- rows of a few hundred bytes instead of ~3 KB each (issue 10); only stage (to tell changed data
-- from unchanged) and map (for a row without map_input) read it, and reports that show a row.
-- A ledger created with the JSON in divvy_transaction.raw_payload is moved here by
-- Ledger.ensure_schema.
CREATE TABLE IF NOT EXISTS divvy_payload (
    uuid        TEXT PRIMARY KEY REFERENCES divvy_transaction (uuid) ON DELETE CASCADE,
    raw_payload TEXT NOT NULL,
    -- re-coding (sync/recoding.py): the last landed text of a posted row it examined
    examined_payload TEXT
);

-- The lines a transaction posts as, with the rule that produced each value.
CREATE TABLE IF NOT EXISTS mapped_line (
    uuid            TEXT NOT NULL REFERENCES divvy_transaction (uuid) ON DELETE CASCADE,
    line_no         INTEGER NOT NULL,
    source_uuid     TEXT NOT NULL,               -- the split child, or the transaction itself
    amount          TEXT NOT NULL,
    gl_account_no   TEXT,
    location_id     TEXT,
    department_id   TEXT,
    class_id        TEXT,
    project_id      TEXT,
    description     TEXT,
    gl_account_rule TEXT,                        -- e.g. custom field 'GL Account'
    location_rule   TEXT,                        -- e.g. card default location
    department_rule TEXT,
    class_rule      TEXT,
    project_rule    TEXT,
    mapped_at       TEXT NOT NULL,
    PRIMARY KEY (uuid, line_no)
);

-- What the map step reads of a staged transaction: its posting lines and the facts rules match
-- (intacct_hook/sync/map_inputs.py), a few hundred bytes written by the stage step with the row.
-- Kept apart from divvy_payload, which holds the whole Divvy JSON: the map step reads this
-- narrow table instead of decoding every payload. No row, or NULL: computed from the
-- payload (rows staged before this table existed, or not postable when staged).
CREATE TABLE IF NOT EXISTS map_input (
    uuid  TEXT PRIMARY KEY REFERENCES divvy_transaction (uuid) ON DELETE CASCADE,
    lines TEXT
);

CREATE TABLE IF NOT EXISTS reconciliation (
    run_id         TEXT NOT NULL,
    posting_date   TEXT NOT NULL,
    card_id        TEXT NOT NULL,
    divvy_count    INTEGER NOT NULL,
    divvy_total    TEXT NOT NULL,
    intacct_count  INTEGER NOT NULL,
    intacct_total  TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('matched', 'differs')),
    created_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, posting_date)
);

CREATE TABLE IF NOT EXISTS reconciliation_difference (
    run_id            TEXT NOT NULL,
    posting_date      TEXT NOT NULL,
    diff_no           INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (
        kind IN ('missing_in_intacct', 'extra_in_intacct', 'amount_differs', 'date_differs')
    ),
    divvy_uuid        TEXT,
    intacct_record_no TEXT,
    divvy_amount      TEXT,
    intacct_amount    TEXT,
    detail            TEXT,
    PRIMARY KEY (run_id, posting_date, diff_no),
    FOREIGN KEY (run_id, posting_date)
        REFERENCES reconciliation (run_id, posting_date) ON DELETE CASCADE
);

-- Raw landing: what the extract step of one run fetched. It belongs to that run: its stage step
-- reads it, its reconcile step counts what Divvy held from it, and only then is it deleted (or,
-- for a run that never finished, once it is older than the retention). Tasks may run on
-- different workers, so the hand-off goes through the ledger, not through local files or
-- (large) XComs. Re-running extract overwrites its own rows.
CREATE TABLE IF NOT EXISTS divvy_landing (
    run_id       TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    payload      TEXT NOT NULL,                  -- {"transaction": …, "children": […]}
    extracted_at TEXT NOT NULL,
    transaction_type TEXT,                       -- Divvy's transactionType, for the counts
    staged       TEXT,                           -- what extract decided for stage (steps.py)
    PRIMARY KEY (run_id, uuid)
);

CREATE INDEX IF NOT EXISTS divvy_landing_extracted_at_idx ON divvy_landing (extracted_at);

-- What each run's extract read from Divvy that the posting rules mean to post, by uuid: the
-- Divvy side of that run's reconcile. It is kept apart from the landing (which its run deletes
-- once reconciled) so that data lost anywhere between extract and load is still counted, and
-- it is deleted only by age.
CREATE TABLE IF NOT EXISTS extract_manifest (
    run_id       TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    posting_date TEXT NOT NULL,
    amount       TEXT NOT NULL,
    extracted_at TEXT NOT NULL,
    PRIMARY KEY (run_id, uuid)
);

CREATE INDEX IF NOT EXISTS extract_manifest_extracted_at_idx ON extract_manifest (extracted_at);

-- Receipts attached in Intacct (issue 11, part 4): one row per Divvy receipt of a posted
-- transaction. 'attached': in the supporting document supdoc_id, which the transaction's
-- supdocid names; 'rejected': over the size limit or of a type not allowed (message says
-- which; not tried again); 'failed': the download or Intacct failed (tried again next run).
CREATE TABLE IF NOT EXISTS receipt_attachment (
    uuid          TEXT NOT NULL,                 -- the Divvy transaction (divvy_transaction.uuid)
    receipt_uuid  TEXT NOT NULL,                 -- the Divvy receipt
    filename      TEXT,
    supdoc_id     TEXT,                          -- the Intacct supporting document holding it
    state         TEXT NOT NULL CHECK (state IN ('attached', 'rejected', 'failed')),
    message       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL,
    attached_at   TEXT,
    PRIMARY KEY (uuid, receipt_uuid)
);

-- When the receipts step last asked Divvy about a posted transaction, and the Divvy version
-- (divvy_transaction.updated_time) it saw then: an unchanged transaction is not asked again
-- until receipts_recheck_days have passed (sync/receipts.py).
CREATE TABLE IF NOT EXISTS receipt_check (
    uuid          TEXT PRIMARY KEY,              -- the Divvy transaction (divvy_transaction.uuid)
    checked_at    TEXT NOT NULL,
    updated_time  TEXT                           -- divvy_transaction.updated_time at the check
);
