"""Shared test helpers: fakes, in-process clients, servers and fixtures data. Never a test module."""
