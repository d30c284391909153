"""Passerelle: find terrorist content on the public web, have a human decide, refer, share."""

__version__ = "0.1.0"
