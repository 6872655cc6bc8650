"""Inbound webhooks (public: each request is authenticated by its unguessable URL and key)."""
