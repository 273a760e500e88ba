"""Operator extra link: open the last record the load step posted, in Intacct."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

# Intacct has no documented deep link for one credit card transaction; its reads return a
# RECORD_URL field for records (public SDK field lists), which the load step pushes when Intacct
# gives one. Without it the link stays empty rather than guessing.
RECORD_URL_XCOM_KEY = "intacct_record_url"


class IntacctRecordsLink(BaseOperatorLink):
    """'Intacct record' on the load task: the last credit card transaction it posted."""

    name = "Intacct record"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(ti_key=ti_key, key=RECORD_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
