"""Wheel build hook: the contract suite gets its own copy of schemas/ (force-include maps a folder once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SuiteSchemas(BuildHookInterface):
    """Adds contract_tests/_schemas/<file> for every schema file, so an installed suite needs no checkout."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Runs before each wheel build; an editable install reads the checkout's schemas/ instead."""
        if version == "editable":
            return
        for path in sorted(Path(self.root, "schemas").glob("*.json")):
            build_data["force_include"][str(path)] = f"contract_tests/_schemas/{path.name}"
