-- Re-coding: posted transactions whose purchase day lies in this run's extract window but that
-- this run's extract did not land: deleted in Divvy (which sends no deletion event), or moved
-- out of the window. The recode step asks Divvy for each (GET by id: 404 means deleted), at
-- most the cap of them; it reads one more than the cap to tell a mass disappearance (an
-- incomplete extract) from a few deletions. Rows with a change open are resumed instead (except
-- a change waiting for a closed period, nothing of it sent: a deletion supersedes it), and a
-- deletion report_only already reported for the posted record is not looked up again.
SELECT t.uuid, t.updated_time, t.posting_date, t.original_posting_date, t.amount,
       t.intacct_record_no, t.control_id
FROM divvy_transaction t
WHERE t.state = 'posted'
  AND t.intacct_record_no IS NOT NULL
  AND COALESCE(t.original_posting_date, t.posting_date) BETWEEN :first_day AND :last_day
  AND NOT EXISTS (
      SELECT 1 FROM divvy_landing l WHERE l.run_id = :run_id AND l.uuid = t.uuid
  )
  AND NOT EXISTS (
      SELECT 1 FROM recoding r
      WHERE r.uuid = t.uuid
        AND ((r.status IN ('reversing', 'reversed')
              AND NOT (r.status = 'reversing'
                       AND SUBSTR(COALESCE(r.last_error, ''), 1, :prefix_length) = :hold_prefix))
             OR (r.status = 'reported' AND r.change = :deleted
                 AND r.original_record_no = t.intacct_record_no))
  )
ORDER BY t.uuid
LIMIT :limit
