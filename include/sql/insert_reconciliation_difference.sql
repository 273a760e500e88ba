-- One row-level difference between Divvy and Intacct for a run and posting date.
INSERT INTO reconciliation_difference (
    run_id, posting_date, diff_no, kind, divvy_uuid, intacct_record_no, divvy_amount,
    intacct_amount, detail
) VALUES (
    :run_id, :posting_date, :diff_no, :kind, :divvy_uuid, :intacct_record_no, :divvy_amount,
    :intacct_amount, :detail
)
