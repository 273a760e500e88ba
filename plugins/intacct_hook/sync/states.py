"""The ledger's states and the one description of how a transaction moves between them.

``LedgerState`` is a ``str`` enum: its members compare equal to, and are stored as, the plain
words the ledger has always held (``'ready'``…), so the SQL and existing databases are unchanged.

Who moves a transaction, and the ledger method (SQL file in ``include/sql/``) that does it::

    stage:  (new) -> ready | held | skipped          Ledger.stage (stage_transaction)
            re-staging re-decides every state except PROTECTED (posting, posted), which it
            never touches; a row whose Divvy data is unchanged and whose decision stands
            ('ready' covers unmapped and failed) keeps the map step's verdict
    map:    ready | unmapped | failed -> ready | unmapped
                                                     Ledger.save_mapping (update_mapping_state)
    load:   ready | failed -> posted                 Ledger.adopt_posted: Intacct already holds
                                                     it on this card (looked up before anything
                                                     is sent, sync/already_posted.py)
            ready | failed -> held                   Ledger.hold_posted_elsewhere: it holds it on
                                                     another card (the reason names card and
                                                     record); staged again, held again each run
            ready   -> posting                       Ledger.claim_for_posting: atomic, committed
                                                     before the request is sent; rows with
                                                     mapped lines only
            posting -> posted                        Ledger.mark_posted (RECORDNO, control ID)
            posting -> failed                        Ledger.mark_failed: Intacct refused it, or
                                                     it could not be built (not counted as sent)
            posting -> ready                         Ledger.release_claim: a lookup proved it is
                                                     not in Intacct
    closed periods (closed_period_policy; sync/closed_periods.py, run by the load):
            ready   -> held                          before the claim, dated in a closed period
                                                     ('hold'; reason starts 'Closed period:')
            held    -> ready                         before the claim, that period reopened (or
                                                     its date cannot be read: tried again)
            ready   -> ready (posting_date moved)    before the claim ('post_to_first_open_day';
                                                     purchase date in original_posting_date),
                                                     and back once the period reopens
            failed  -> held | ready (re-dated)       right after Intacct refused it as a closed
                                                     period; a re-dated one is sent again
    recode (recode_policy; sync/recoding.py, the task after load):
            posted  -> posted (replaced)             Divvy changed it after posting: reversed,
                                                     the new version posted as '<uuid>:v<n>'
                                                     (recode_transaction; chain in 'recoding')
            posted  -> skipped                       Divvy declined it after posting: reversed
                                                     (recode_reversed_transaction)

``held`` is not re-mapped: staging re-evaluates it each time the extract returns it (while it
is within the lookback, or after Divvy updates it). A ``failed`` row is re-mapped to ``ready``
by the next run and re-sent as its next attempt (a new control ID).

The README, ``docs/architecture.md`` and the SQL comments point here rather than restate it.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    """Where a Divvy transaction stands in the ledger (column ``divvy_transaction.state``)."""

    READY = "ready"  # to post: decided and coded (or waiting for the map step)
    HELD = "held"  # waits for Divvy: incomplete, Divvy's own sync pending, foreign, bad data
    SKIPPED = "skipped"  # never posted: authorizations, declines, reversals, already synced
    UNMAPPED = "unmapped"  # no valid Intacct coding yet
    POSTING = "posting"  # claimed by a load; the request is sent or about to be
    POSTED = "posted"  # Intacct holds it (RECORDNO known)
    FAILED = "failed"  # Intacct refused it, or it could not be built into a request

    def __repr__(self) -> str:
        # Messages quote states (and tuples of them) as the plain words the ledger stores.
        return repr(self.value)


S = LedgerState

#: Every state, in the order reports list them.
STATES: tuple[LedgerState, ...] = (
    S.HELD, S.UNMAPPED, S.READY, S.POSTING, S.POSTED, S.FAILED, S.SKIPPED,
)  # fmt: skip
#: The states staging may give a transaction (one per posting-rules action).
STAGE_STATES: tuple[LedgerState, ...] = (S.READY, S.HELD, S.SKIPPED)
STATE_FOR_ACTION = {"post": S.READY, "hold": S.HELD, "skip": S.SKIPPED}
#: The map step's verdicts, and the states it (re)evaluates.
MAP_STATES: tuple[LedgerState, ...] = (S.READY, S.UNMAPPED)
REMAPPABLE_STATES: tuple[LedgerState, ...] = (S.READY, S.UNMAPPED, S.FAILED)
#: States only the load moves a transaction out of: staging and mapping leave them alone.
PROTECTED_STATES: tuple[LedgerState, ...] = (S.POSTING, S.POSTED)
#: Everything the sync means to post: what Divvy and Intacct should agree on.
EXPECTED_IN_INTACCT: tuple[LedgerState, ...] = (S.READY, S.POSTING, S.POSTED, S.FAILED)
#: A preview posted nothing, so its ready transactions are not expected in Intacct yet.
EXPECTED_AFTER_PREVIEW: tuple[LedgerState, ...] = (S.POSTING, S.POSTED, S.FAILED)
#: States a person may need to act on (or wait for): the reconcile log lists them with why.
WAITING_STATES: tuple[LedgerState, ...] = (S.HELD, S.UNMAPPED, S.FAILED)

del S
