-- Re-coding: the links whose reversal or replacement is still to do (a run stopped between
-- them, or Intacct refused the replacement): resumed first by every run.
SELECT uuid, seq, divvy_updated_time, change, status, original_reference, original_record_no,
       original_date, original_amount, reversal_date, reversal_record_no, replacement_reference,
       replacement_date, purchase_date, replacement_amount, replacement_lines, transaction_type,
       merchant, replacement_record_no, replacement_control_id, attempts, last_error, run_id,
       detected_at, updated_at
FROM recoding
WHERE status IN ('reversing', 'reversed')
ORDER BY uuid, seq
