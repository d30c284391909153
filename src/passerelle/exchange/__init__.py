"""Formats shared with the outside: bank files (CSV, python-threatexchange), later feeds,
STIX/TAXII and MISP. Read leniently but explicitly; written strictly."""
