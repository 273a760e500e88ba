-- Re-coding: a change that waited for a closed period (nothing sent) goes on: its reversal and
-- replacement dates as the books stand now, written before anything is sent, so a run stopped
-- after the reversal records the date it was sent on.
UPDATE recoding
SET reversal_date = :reversal_date, replacement_date = :replacement_date, last_error = NULL,
    updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversing'
