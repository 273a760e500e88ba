-- Re-coding: Intacct holds the reversal (its answer, or found by a lookup). 'reversed' when a
-- replacement follows, 'done' when the new version is not postable (declined, deleted).
UPDATE recoding
SET status = :status, reversal_record_no = :reversal_record_no,
    reversal_date = :reversal_date, updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversing'
