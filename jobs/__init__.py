"""Background work on RQ: the worker entry point, the queues, and the jobs.

Jobs take ids (never objects), keep their state in the database, are safe to run twice, and record
a failure as a failure.
"""
