"""The Airflow plugin of the sync: registers :class:`LocalDayTimetable` and the run-note
listener (:mod:`intacct_hook.run_notes`).

Airflow stores a DAG's timetable by its import path and reads it back only if a plugin
registered that class (``TimetableNotRegistered`` otherwise). The DAG processor (which stores
the DAG), the scheduler and the API server (which read it) load this plugin through the
``airflow.plugins`` entry point of the installed package (pyproject.toml);
``plugins/.airflowignore`` keeps a plugins-folder scan of this checkout from registering it
twice.

The class is imported from its package module, never defined here: Airflow imports the files of
the plugins folder under their bare file names, and the registered import path must be the one
the DAG file uses (``intacct_hook.timetables.LocalDayTimetable``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from intacct_hook import run_notes
from intacct_hook.timetables import LocalDayTimetable


class DivvyIntacctPlugin(AirflowPlugin):
    name = "divvy_intacct"
    timetables = [LocalDayTimetable]
    listeners = [run_notes]
