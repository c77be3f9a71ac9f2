"""The one bridge between the warehouse and pandas in the dbt Python models.

On DuckDB `dbt.ref()` gives a DuckDB relation and the model's frame is
written back as it is; on Snowflake it gives a Snowpark DataFrame (unquoted
names in upper case) and the frame is written through the Snowpark session.
"""

from __future__ import annotations

import warnings

import pandas as pd

# Warnings snowflake-ml raises on every local pandas call, none of which matters
# here: its scaler fits sklearn on a bare array and then transforms a named frame,
# it infers a model signature from the first 100 rows, and it notes nulls.
SNOWFLAKE_ML_NOISE = ("X has feature names", "The sample input has", "Null value detected")


def quiet_snowflake_ml() -> None:
    """Ignore SNOWFLAKE_ML_NOISE, and FutureWarnings from snowflake-ml, in this process.

    For the whole process, not in a `warnings.catch_warnings()` block: that
    block is not thread-safe, and dbt runs two models at once, so one model's
    block ending put back the filters the other's had just added. The filters
    name these messages only. A `catch_warnings` block elsewhere (the
    customer-value model and mailroom.pymodels.btyd still have them) can still
    drop them for a moment while it ends: such a warning is noise, never a failure.
    """
    for message in SNOWFLAKE_ML_NOISE:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"snowflake\.ml")


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
