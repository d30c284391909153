"""Use cases, each in one transaction with its audit events: the only writers of the database."""
