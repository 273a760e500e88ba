-- What reconcile expects in Intacct: reference (uuid), posting date and amount of the
-- transactions in the given states dated in [date_from, date_to]. Only these three columns:
-- a window of 100,000 rows must not decode 100,000 payloads.
SELECT uuid, posting_date, amount
FROM divvy_transaction
WHERE state IN :states
  AND posting_date >= :date_from
  AND posting_date <= :date_to
ORDER BY posting_date, uuid
