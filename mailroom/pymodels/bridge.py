"""The one bridge between the warehouse and pandas in the dbt Python models.

On DuckDB `dbt.ref()` gives a DuckDB relation and the model's frame is
written back as it is; on Snowflake it gives a Snowpark DataFrame (unquoted
names in upper case) and the frame is written through the Snowpark session.
"""

from __future__ import annotations

import pandas as pd


def to_pandas(relation, columns: list[str] | None = None) -> pd.DataFrame:
    """A DuckDB relation or a Snowpark DataFrame as pandas, columns lower-cased.

    `columns` (unquoted names) are selected in the warehouse when the relation
    can (DuckDB, Snowpark), so only they travel; in pandas otherwise.
    """
    if columns and hasattr(relation, "select"):
        relation = relation.select(*columns)
    frame = relation.to_pandas() if hasattr(relation, "to_pandas") else relation.df()
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame[columns] if columns else frame


def for_warehouse(frame: pd.DataFrame, session) -> pd.DataFrame:
    """Column names as the warehouse folds unquoted ones: upper case on Snowflake.

    A pandas frame returned to Snowpark keeps its names as quoted identifiers,
    so lower-case names would be unreachable from unquoted SQL downstream.
    """
    if session is not None and hasattr(session, "create_dataframe"):
        frame = frame.rename(columns=str.upper)
    return frame
