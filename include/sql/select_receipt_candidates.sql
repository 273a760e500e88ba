-- Posted transactions dated in [date_from, date_to]: the ones whose receipts the receipts step
-- asks Divvy about (receipts may be added after posting, so attached ones are asked again).
SELECT uuid, posting_date, intacct_record_no
FROM divvy_transaction
WHERE state = 'posted'
  AND intacct_record_no IS NOT NULL
  AND posting_date >= :date_from
  AND posting_date <= :date_to
ORDER BY posting_date, uuid
