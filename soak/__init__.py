"""The soak: randomized, seeded fault schedules driven through the sync steps (issue 7).

Each schedule generates a few Divvy CLEARs (a refund and a split among them) over one to three
days, plans the daily runs (sometimes a manual re-run or a backfill) and one to four faults:

* Intacct: 429, 5xx, 524 and dropped connections before and after commit, session expiry;
* Divvy: 429, 5xx, a body cut off mid-way;
* the worker: killed between claiming and marking (before or after the request left), two
  loads of different runs racing on one ledger, a run's landing purged between its extract and
  stage, the ledger file lost between runs, a definitive refusal (books closed) that makes the
  next attempt go out as ``divvy-<uuid>#2``.

It runs the steps (``intacct_hook.sync.steps``, the code the operators call) with the real hooks
against the local gateway and Divvy API, repeats every failed run without faults until it
succeeds (at most five times), then checks, from the generated data and Intacct alone, that
every CLEAR the posting rules post is in Intacct exactly once, to the cent and on its date; that
the ledger says ``posted`` with the same RECORDNO; and that the last run reconciled every day.

Command line: ``python -m soak --schedules 1000 --seed 1`` (``make soak``); replay one schedule
with ``python -m soak --seed 1 --only 17``. In the suite:
``tests/integration/soak/test_soak.py`` (marker ``soak``), 200 schedules or
``DIVVY_INTACCT_SOAK_SCHEDULES``.

Importing this package imports nothing else: call ``soak._env.prepare()`` before the modules
that import Airflow (``soak.harness``, ``soak.run``).
"""
