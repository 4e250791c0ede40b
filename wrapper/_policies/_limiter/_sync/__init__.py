"""The limiter's waiting, sync, generated from ``../_async/`` by ``scripts/generate_sync.py``: do not edit by hand."""
