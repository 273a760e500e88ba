-- Re-coding: an open change whose new version is dated in a closed period and that
-- closed_period_policy 'hold' or 'fail' keeps from Intacct for now (nothing sent): why, for the
-- log, the task's failure and the ledger. Each run resumes it and decides again.
UPDATE recoding
SET last_error = :last_error, updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status IN ('reversing', 'reversed')
