"""An Intacct hook that can only read: what every task of the preview DAG talks to Intacct with.

The preview's load step never asks for a write; this hook makes sure that stays true whatever
the code above it does. Every request passes through ``_execute_request`` (functions) and
``_post`` (bytes): a function that is not a read (``intacct.request.READ_FUNCTIONS``; anything
unknown counts as a write) is refused there, before a byte leaves, and the posting methods
refuse at once with a message that says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import requests
from airflow.sdk.exceptions import AirflowFailException

from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.intacct import request as rq
from intacct_hook.intacct.response import Response


class IntacctWriteRefused(AirflowFailException):
    """A preview tried to write to Intacct (fails the task at once: retrying cannot help)."""


class ReadOnlyIntacctHook(IntacctHook):
    """:class:`IntacctHook` that reads and refuses every write before anything is sent."""

    def _refuse(self, what: str) -> NoReturn:
        raise IntacctWriteRefused(
            f"preview: refused to send {what} to Intacct. The preview DAG writes nothing to "
            "Intacct; nothing was sent. Run divvy_intacct_sync to post."
        )

    def record_cctransactions(self, txns: Sequence[Any], **kwargs: Any) -> NoReturn:
        self._refuse(f"{len(txns)} credit card transaction(s) (record_cctransaction)")

    def reverse_cctransaction(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("a reversal (reverse_cctransaction)")

    def _execute_request(self, functions: Sequence[rq.Function], **kwargs: Any) -> Response:
        writes = sorted({f.name for f in functions if f.is_write})
        if writes:
            self._refuse(", ".join(writes))
        return super()._execute_request(functions, **kwargs)

    def _post(self, url: str, body: bytes, *, write: bool) -> tuple[requests.Response, bytes]:
        if write:
            self._refuse("a write request")
        return super()._post(url, body, write=write)
