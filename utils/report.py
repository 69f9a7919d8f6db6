"""What a notebook prints for its reader: plain-text tables and the one headline metric.

:func:`headline` prints ``Headline: <label> = <value>``, the line ``python -m utils run-notebooks``
puts in its summary table. :func:`format_table` and :func:`format_value` show numbers the same
way everywhere (0.8645 for fractions, 1,234 for counts, ``-`` for missing values).
"""

from __future__ import annotations

import numpy as np

#: The prefix of the headline line that ``run-notebooks`` looks for in a notebook's output.
HEADLINE_PREFIX = "Headline: "


def headline(label: str, value) -> None:
    """Print a notebook's headline metric, e.g. ``headline("test accuracy", 0.859)``.

    The line reads ``Headline: test accuracy = 0.8590``. Returns nothing, so that as a cell's last
    line it adds no ``Out[]`` echo.
    """
    print(f"{HEADLINE_PREFIX}{label} = {format_value(value)}")


def format_value(value) -> str:
    """How tables and headlines show a value: ``-`` for None, 0.8645 for fractions, 1,234 for counts."""
    if value is None:
        return "-"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:,.0f}"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return str(value)


def format_table(rows, headers) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[format_value(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], (int, float, np.number)) for row in rows) for i in range(len(headers))]

    def line(row):
        return "  ".join(value.rjust(w) if num else value.ljust(w)
                         for value, w, num in zip(row, widths, numeric, strict=True))

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]])
