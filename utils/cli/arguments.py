"""What several commands parse the same way: counts of at least 1, and ``--set NAME=VALUE`` settings."""

from __future__ import annotations

import argparse
import ast


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_assignments(pairs) -> dict[str, object]:
    """``["EPOCHS=3", "BACKBONE=mobilenet_v1_025"]`` -> ``{"EPOCHS": 3, "BACKBONE": "mobilenet_v1_025"}``.

    Values are Python literals (``3``, ``0.5``, ``None``, ``"text"``, ``[1, 2]``); anything else is taken as a
    string, so quoting plain words is optional.
    """
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"--set {pair!r}: write NAME=VALUE, e.g. --set EPOCHS=3")
        try:
            settings[name] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[name] = value
    return settings
