-- Re-coding: the chain links of the given transactions, in order.
SELECT uuid, seq, divvy_updated_time, change, status, original_reference, original_record_no,
       original_date, original_amount, reversal_date, reversal_record_no, replacement_reference,
       replacement_date, purchase_date, replacement_amount, replacement_lines, transaction_type,
       merchant, replacement_record_no, replacement_control_id, attempts, last_error, run_id,
       detected_at, updated_at
FROM recoding
WHERE uuid IN :uuids
ORDER BY uuid, seq
