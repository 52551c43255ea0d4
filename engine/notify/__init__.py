"""Notifications: email (SMTP) and webhooks (HTTP POST of JSON) about jobs, per job definition,
and a daily summary of the last 24 hours of job history.

Each notifier tick (engine/notify/notifier.py) looks at the jobs of definitions that have
rules: a job that ended since the look-back with an event a rule asks for (completed,
exceptions, failed, canceled, missed), or a job waiting longer than a rule's threshold, is
claimed in the catalog (jobs.spec["notifications"], one compare-and-set transaction, so two
ticks never send twice), then delivered to each channel. A delivery failure is logged and
recorded beside the claim; it never changes the job.
"""
