-- What load builds a claimed batch's records from, read in the claim's own transaction: the
-- columns the Intacct record needs and the mapped lines, never the raw payload (stage and map
-- already read it; decoding it again per record was most of load's own time, issue 10).
SELECT t.uuid, t.posting_date, t.merchant, t.failed_attempts,
       l.line_no, l.source_uuid, l.amount, l.gl_account_no, l.location_id, l.department_id,
       l.class_id, l.project_id, l.description, l.gl_account_rule, l.location_rule,
       l.department_rule, l.class_rule, l.project_rule
FROM divvy_transaction t
JOIN mapped_line l ON l.uuid = t.uuid
WHERE t.uuid IN :uuids
  AND t.state = 'posting'
  AND t.claim_owner = :owner
ORDER BY t.posting_date, t.uuid, l.line_no
