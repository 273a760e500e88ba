-- One mapped posting line with the rule that produced each value.
INSERT INTO mapped_line (
    uuid, line_no, source_uuid, amount, gl_account_no, location_id, department_id, class_id,
    project_id, description, gl_account_rule, location_rule, department_rule, class_rule,
    project_rule, mapped_at
) VALUES (
    :uuid, :line_no, :source_uuid, :amount, :gl_account_no, :location_id, :department_id,
    :class_id, :project_id, :description, :gl_account_rule, :location_rule, :department_rule,
    :class_rule, :project_rule, :now
)
