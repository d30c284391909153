"""Outgoing mail (notices to hosting providers) through a configured SMTP server."""
