"""What the lesson tests read out of a chart: the data a learner sees plotted."""

import pandas as pd


def dataset_with(chart, column: str) -> pd.DataFrame:
    """The one dataset of ``chart``'s spec that has ``column``."""
    found = [
        pd.DataFrame(rows)
        for rows in chart.to_dict()["datasets"].values()
        if rows and column in rows[0]
    ]
    assert len(found) == 1, column
    return found[0]
