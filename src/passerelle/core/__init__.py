"""The pure domain of Passerelle: no web, no database, no CLI, no settings."""
