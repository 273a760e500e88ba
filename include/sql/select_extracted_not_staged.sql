-- The postable transactions one run's extract read, dated in [date_from, date_to], that the
-- ledger does not hold at all (lost between extract and stage). An anti-join, so reconcile
-- holds only the lost ones, not the whole window's manifest.
SELECT m.uuid, m.posting_date, m.amount
FROM extract_manifest m
WHERE m.run_id = :run_id
  AND m.posting_date >= :date_from
  AND m.posting_date <= :date_to
  AND NOT EXISTS (SELECT 1 FROM divvy_transaction t WHERE t.uuid = m.uuid)
ORDER BY m.posting_date, m.uuid
