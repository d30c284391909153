"""Crawl-scale scanning on Spark (optional extra `spark`): the same pipeline, on a cluster."""
