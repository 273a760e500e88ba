-- Posted transactions dated in [date_from, date_to] that are due to be asked about their receipts
-- (receipts may be added after posting, so attached ones are asked again): never asked, changed
-- in Divvy since the last check, last checked before recheck_before, or holding a receipt that
-- failed. Never asked first, then the least recently asked, so a window larger than a run's cap
-- is covered over successive runs; oldest first within each (they leave the window first).
SELECT t.uuid, t.posting_date, t.intacct_record_no, t.updated_time, c.checked_at
FROM divvy_transaction t
LEFT JOIN receipt_check c ON c.uuid = t.uuid
WHERE t.state = 'posted'
  AND t.intacct_record_no IS NOT NULL
  AND t.posting_date >= :date_from
  AND t.posting_date <= :date_to
  AND (
    c.uuid IS NULL
    OR COALESCE(c.updated_time, '') <> COALESCE(t.updated_time, '')
    OR c.checked_at <= :recheck_before
    OR EXISTS (
      SELECT 1 FROM receipt_attachment a WHERE a.uuid = t.uuid AND a.state = 'failed'
    )
  )
ORDER BY CASE WHEN c.checked_at IS NULL THEN 0 ELSE 1 END, c.checked_at, t.posting_date, t.uuid
