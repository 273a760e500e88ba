-- Re-coding after posting (intacct_hook/sync/recoding.py, README "Re-coding after posting"):
-- one row per change Divvy made to a transaction after it was posted. Each row is one link of
-- the chain original -> reversal -> replacement; the replacement of row n is the original of
-- row n + 1. Run by ensure_schema() after schema.sql, so an older ledger gains it in place.

CREATE TABLE IF NOT EXISTS recoding (
    uuid                  TEXT NOT NULL,         -- the Divvy transaction
    seq                   INTEGER NOT NULL,      -- 1 for its first change after posting, 2...
    divvy_updated_time    TEXT NOT NULL,         -- the Divvy version (updatedTime) it acts on
    change                TEXT NOT NULL,         -- what changed, as people read it
    status                TEXT NOT NULL CHECK (
        status IN ('reported', 'reversing', 'reversed', 'replaced', 'done')
    ),
    -- what Intacct held before the change (the original of this link)
    original_reference    TEXT NOT NULL,         -- RECORDID: the uuid, or '<uuid>:v<n>'
    original_record_no    TEXT NOT NULL,
    original_date         TEXT NOT NULL,
    original_amount       TEXT NOT NULL,
    -- the reversal of that record (reverse_cctransaction)
    reversal_date         TEXT,
    reversal_record_no    TEXT,
    -- the new version: posted when it is postable, else none (declined: reversed only)
    replacement_reference TEXT,
    replacement_date      TEXT,                  -- the date sent (moved past a closed period)
    purchase_date         TEXT,                  -- the new version's purchase date
    replacement_amount    TEXT,
    replacement_lines     TEXT,                  -- JSON: the mapped lines to post
    transaction_type      TEXT,
    merchant              TEXT,
    replacement_record_no TEXT,
    replacement_control_id TEXT,
    attempts              INTEGER NOT NULL DEFAULT 0, -- refusals of the replacement so far
    last_error            TEXT,
    run_id                TEXT NOT NULL,         -- the run that found the change
    detected_at           TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    PRIMARY KEY (uuid, seq)
);

-- Open links (a reversal or a replacement still to do) are few; each run resumes them first.
CREATE INDEX IF NOT EXISTS recoding_status_idx ON recoding (status);
