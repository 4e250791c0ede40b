"""A client library for accessing Together chat completions (wrapper's own spec)"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
