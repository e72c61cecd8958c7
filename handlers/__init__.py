"""Stripe billing endpoints as plain request -> response functions.

Importing this package does no I/O and imports no third-party SDK; `handlers.app.create_app()` builds
the service.
"""
