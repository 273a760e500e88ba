-- The mapped lines of the given transactions, in posting order.
SELECT uuid, line_no, source_uuid, amount, gl_account_no, location_id, department_id, class_id,
       project_id, description, gl_account_rule, location_rule, department_rule, class_rule,
       project_rule
FROM mapped_line
WHERE uuid IN :uuids
ORDER BY uuid, line_no
