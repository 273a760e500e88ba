-- Inside the map step's write transaction, after lock_for_mapping.sql: the lines the page's
-- re-mappable transactions hold now (same posting-order range), so that a transaction whose new
-- lines are the same as these keeps them (no delete, no insert) and only a transaction that
-- holds lines has them deleted. Columns in insert_mapped_line.sql's order, mapped_at aside. No
-- ORDER BY (it made the database sort the page's lines): the caller puts them in line order.
SELECT l.uuid, l.line_no, l.source_uuid, l.amount, l.gl_account_no, l.location_id,
       l.department_id, l.class_id, l.project_id, l.description, l.gl_account_rule,
       l.location_rule, l.department_rule, l.class_rule, l.project_rule
FROM divvy_transaction AS t
JOIN mapped_line AS l ON l.uuid = t.uuid
WHERE t.state IN ('ready', 'unmapped', 'failed')
  AND (t.posting_date, t.uuid) >= (:first_date, :first_uuid)
  AND (t.posting_date, t.uuid) <= (:last_date, :last_uuid)
