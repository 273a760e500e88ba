-- Re-coding: Intacct holds the replacement; the link is complete.
UPDATE recoding
SET status = 'replaced', replacement_record_no = :record_no,
    replacement_control_id = :control_id, last_error = NULL, updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversed'
