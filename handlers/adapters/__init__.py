"""Adapters behind the ports in `handlers.ports`; only `handlers.app` chooses among them."""
