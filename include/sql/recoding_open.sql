-- Re-coding: a change found after posting. Committed before anything is sent to Intacct, so a
-- run stopped after the reversal finds it 'reversing' and looks the reversal up, never reverses
-- twice. 'reported' (recode_policy report_only) is final. 'reversed' opens a link whose reversal
-- Intacct already holds: a declined transaction charged again (select_reinstated).
INSERT INTO recoding (
    uuid, seq, divvy_updated_time, change, status, original_reference, original_record_no,
    original_date, original_amount, reversal_date, reversal_record_no, replacement_reference,
    replacement_date, purchase_date, replacement_amount, replacement_lines, transaction_type,
    merchant, run_id, detected_at, updated_at
) VALUES (
    :uuid, :seq, :divvy_updated_time, :change, :status, :original_reference,
    :original_record_no, :original_date, :original_amount, :reversal_date, :reversal_record_no,
    :replacement_reference, :replacement_date, :purchase_date, :replacement_amount,
    :replacement_lines, :transaction_type, :merchant, :run_id, :now, :now
)
