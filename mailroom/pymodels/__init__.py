"""The helpers the dbt Python models import: one copy of every function they share.

The models under python_models/ are thin: they read their refs, call these
pure functions and return one frame. On DuckDB, dbt runs them in this process,
where the installed `mailroom` package is importable. On Snowflake they run as
Snowpark stored procedures, which import only what the procedure is given: a
zip of `mailroom/__init__.py` and this folder (`mailroom.pymodels.ship`),
staged and named in the models' `imports` config (the
`snowflake_python_imports` var).

So nothing here imports the rest of mailroom (the CLI, the loader, the
simulator), and the modules import only the standard library, numpy, pandas
and scipy at the top; xgboost and snowflake-ml only inside the functions that
need them. This file imports no module of its own, so that a model pays only
for what it imports (scipy only where `btyd` is imported).

- `bridge`: DuckDB relations and Snowpark DataFrames in, frames out.
- `propensity`: the feature matrix, scoring and reasons of the fitted
  propensity models, shared by training, scoring and monitoring.
- `btyd`: the buy-till-you-die models of customer value, and the
  propensity models' BTYD feature (btyd_purchase_probability).
- `ship`: the zip Snowflake imports.
"""
