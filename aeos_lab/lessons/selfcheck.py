"""A notebook's self-check: the claims it asserts, and the "What we checked" table.

Each :meth:`Checks.claim` records one claim of the notebook's text with the number measured for
it and the rule it was held to (including why the tolerance is what it is), and raises
``AssertionError`` at once when the rule fails. Displaying the :class:`Checks` object (the last
line of the self-check) shows the table the learner reads; the assertions are what CI relies
on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Checks"]


@dataclass
class Checks:
    """The claims a notebook's self-check has asserted so far, in order."""

    title: str = "What we checked"
    rows: list[dict] = field(default_factory=list)

    def claim(self, section: str, claim: str, measured: str, rule: str, holds: bool) -> None:
        """Record ``claim`` (as worded in the text of ``section``), what was ``measured`` and the
        ``rule`` it must satisfy (with the reason for its tolerance); raise AssertionError
        naming all three unless ``holds``."""
        self.rows.append(
            {
                "section": section,
                "claim": claim,
                "measured": measured,
                "rule": rule,
                "held": "yes" if holds else "NO",
            }
        )
        if not holds:
            raise AssertionError(f"({section}) {claim}: measured {measured}; rule: {rule}")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["section", "claim", "measured", "rule", "held"])

    def _repr_html_(self) -> str:
        held = sum(row["held"] == "yes" for row in self.rows)
        table = self.frame().to_html(index=False, escape=True, border=0)
        return (
            f"<b>{self.title}</b>{table}"
            f"<div>{held} of {len(self.rows)} claims held on this machine.</div>"
        )

    def __repr__(self) -> str:
        return f"{self.title}:\n" + self.frame().to_string(index=False)
