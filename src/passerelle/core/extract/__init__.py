"""From HTML and text to what analysts read and what fingerprints are computed on."""
