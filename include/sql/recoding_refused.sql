-- Re-coding: Intacct refused the replacement; the next run sends it as its next attempt (a new
-- control ID). The reversal stays done.
UPDATE recoding
SET attempts = attempts + 1, last_error = :last_error, updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversed'
