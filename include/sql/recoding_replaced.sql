-- Re-coding: Intacct holds the replacement; the link is complete, with the date and lines it was
-- sent with (the first open day and the closed-period note when its own date was closed).
UPDATE recoding
SET status = 'replaced', replacement_record_no = :record_no,
    replacement_control_id = :control_id, replacement_date = :replacement_date,
    replacement_lines = :replacement_lines, last_error = NULL, updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversed'
