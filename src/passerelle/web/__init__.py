"""The console (Jinja2 + htmx), the API under /api/v1, and the public pages."""
