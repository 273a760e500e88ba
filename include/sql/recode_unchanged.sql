-- Re-coding: Divvy updated a posted transaction without changing what was posted (a note, a
-- receipt, its sync status): remember the version so later runs do not look at it again.
UPDATE divvy_transaction
SET updated_time = :updated_time, updated_at = :now
WHERE uuid = :uuid AND state = 'posted'
