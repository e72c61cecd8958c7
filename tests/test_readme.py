"""The README stays what a newcomer reads in ten minutes: short, with exactly the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_is_at_most_12000_bytes() -> None:
    """Detail belongs in docs/; the front page stays small."""
    assert len(README.read_bytes()) <= 12_000


def test_the_readme_gives_exactly_the_two_set_up_commands() -> None:
    """One command serves the service on embedded defaults, one runs every test."""
    text = README.read_text("utf-8")
    block = text.split("## Set up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/serve", "scripts/test"]


def test_every_doc_the_readme_links_exists() -> None:
    """No link to a page that moved."""
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text("utf-8"))
    assert links and all((README.parent / link).is_file() for link in links)
