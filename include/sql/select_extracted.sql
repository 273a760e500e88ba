-- The postable transactions one run's extract read, dated in [date_from, date_to].
SELECT uuid, posting_date, amount
FROM extract_manifest
WHERE run_id = :run_id
  AND posting_date >= :date_from
  AND posting_date <= :date_to
ORDER BY posting_date, uuid
