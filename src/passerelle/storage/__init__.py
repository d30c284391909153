"""Preserved content, encrypted at rest (see `content_store`)."""
