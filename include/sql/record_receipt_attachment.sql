-- One receipt's outcome. 'attached' keeps the first attached_at; a failure counts an attempt.
INSERT INTO receipt_attachment
    (uuid, receipt_uuid, filename, supdoc_id, state, message, attempts, updated_at, attached_at)
VALUES
    (:uuid, :receipt_uuid, :filename, :supdoc_id, :state, :message,
     CASE WHEN :state = 'failed' THEN 1 ELSE 0 END, :now,
     CASE WHEN :state = 'attached' THEN :now END)
ON CONFLICT (uuid, receipt_uuid) DO UPDATE SET
    filename = excluded.filename,
    supdoc_id = excluded.supdoc_id,
    state = excluded.state,
    message = excluded.message,
    attempts = receipt_attachment.attempts + excluded.attempts,
    updated_at = excluded.updated_at,
    attached_at = CASE
        WHEN excluded.state = 'attached'
            THEN COALESCE(receipt_attachment.attached_at, excluded.attached_at)
    END
