"""Development only: the mail sink `make run` starts, and the /dev/mail page that shows what it caught.

The blueprint is registered only when PORTAL_ENV=development (elsewhere /dev/mail is a 404).
"""
