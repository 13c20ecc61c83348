"""Ad-hoc pandas reports over the Parquet archive of every event.

    from reports import load_events, write_batch, run_report

`write_batch` (reports/archive.py) is what the worker calls; `load_events` (reports/load.py) is the
analyst's way in; `run_report` (reports/catalog.py) the canned reports. See docs/reports.md.
"""

from reports.archive import write_batch
from reports.catalog import REPORTS, run_report
from reports.errors import ArchiveNotFoundError, BadOptionError, EmptyRangeError, ReportsError
from reports.load import load_events, load_table
from reports.settings import ArchiveSettings

__all__ = [
    "REPORTS",
    "ArchiveNotFoundError",
    "ArchiveSettings",
    "BadOptionError",
    "EmptyRangeError",
    "ReportsError",
    "load_events",
    "load_table",
    "run_report",
    "write_batch",
]
