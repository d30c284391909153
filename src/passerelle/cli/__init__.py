"""The `passerelle` command."""
