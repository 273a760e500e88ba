-- Re-coding: Intacct refused the replacement as a closed period and closed_period_policy
-- 'post_to_first_open_day' re-dates it to the first open day Intacct named; the refused attempt
-- counts (the next control ID), and the next attempt is sent on that day.
UPDATE recoding
SET replacement_date = :replacement_date, attempts = attempts + 1, last_error = :last_error,
    updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversed'
