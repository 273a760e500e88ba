-- Re-coding: transactions Divvy declined after posting (reversed, link 'done') and then charged
-- again. Stage made them ready under the plain uuid, and the load's look-up found the reversed
-- original (or its reversal) by that reference and recorded it as posted: a posted row whose
-- RECORDNO is a record of its own chain. The recode step posts the charge as the next version.
SELECT t.uuid, t.posting_date, t.original_posting_date, t.amount, t.intacct_record_no,
       t.updated_time, t.transaction_type, t.merchant
FROM divvy_transaction t
WHERE t.state = 'posted'
  AND EXISTS (
      SELECT 1 FROM recoding r
      WHERE r.uuid = t.uuid AND r.status IN ('replaced', 'done')
        AND t.intacct_record_no IN (r.original_record_no, r.reversal_record_no)
  )
  AND NOT EXISTS (
      SELECT 1 FROM recoding o
      WHERE o.uuid = t.uuid AND o.status IN ('reversing', 'reversed')
  )
ORDER BY t.uuid
