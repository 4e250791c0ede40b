"""The async shells: the only source of the sync ones (``scripts/generate_sync.py`` writes ``../_sync/``)."""
