"""Match indices per signal type: exact look-up, PDQ (FAISS binary), near-duplicate text (LSH)."""
