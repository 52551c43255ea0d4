"""Jobs: two axes never mixed (shared/JOB-STATUS.md).

A job's lifecycle state says where it is now (``JobState``); each run of it ends with a
completion status (``CompletionStatus``). ``states.ALLOWED`` is the one transition table and
``states.check_transition`` the one place that enforces it; ``vocabulary`` shows either axis
in the words of the products administrators come from.
"""
