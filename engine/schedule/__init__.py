"""Job definitions and the scheduler.

A job definition (definitions.py; the file: store.py, its format: validate.py) says what to
back up, where, when (a cron expression in a time zone), inside which start window, for how
long at most, what to do while the previous run still goes, how to retry, and whom to notify.
Each due occurrence becomes a QUEUED job in the job manager's queue (engine/manager), named
after the definition, with the occurrence, its window end and its max run time in
``jobs.spec["schedule"]`` (jobspec.py), so the scheduler's state is the catalog's. The
scheduler tick (scheduler.py) submits due occurrences, ends jobs that could not start in their
window as MISSED, and asks the manager to cancel runs past their max run time
(CANCELED_TIMED_OUT). Time comes from an injectable clock (engine/manager/clock.py).
"""
