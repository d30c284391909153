"""The only HTTP client that fetches the web (see `fetcher.SafeFetcher`)."""
