-- Re-dated transactions (closed periods, policy 'post_to_first_open_day') in the given states whose
-- purchase date or posted date lies in [date_from, date_to]: what reconcile reports as shifts. A
-- row re-staged since (posting_date back to its purchase date) is no shift.
SELECT uuid, original_posting_date, posting_date, amount, state
FROM divvy_transaction
WHERE original_posting_date IS NOT NULL
  AND posting_date <> original_posting_date
  AND state IN :states
  AND (
      (posting_date >= :date_from AND posting_date <= :date_to)
      OR (original_posting_date >= :date_from AND original_posting_date <= :date_to)
  )
ORDER BY posting_date, uuid
