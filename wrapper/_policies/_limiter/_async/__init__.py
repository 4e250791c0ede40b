"""The limiter's waiting, async: the only source of ``../_sync/`` (``scripts/generate_sync.py``)."""
