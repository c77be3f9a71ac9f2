"""The dashboard's sections: each reads its marts (aggregates only) and lays
out KPIs, charts and tables. A section whose tables are missing or empty says
so in a "no data" panel; it never stops the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mailroom.dashboard.page import (
    PALETTE,
    Column,
    Section,
    fmt_bool,
    fmt_date,
    fmt_float,
    fmt_int,
    fmt_money,
    fmt_pct,
    fmt_signed_pct,
    is_missing,
    kpi,
    kpis,
    no_data,
    note,
    pair,
    table,
)

Rows = list[dict[str, Any]]


class Reader:
    """Read-only queries on the warehouse, returning plain Python rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, currency: str = "EUR") -> None:
        self.con = con
        self.currency = currency
        self._relations = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }

    def has(self, *relations: str) -> bool:
        return all(r in self._relations for r in relations)

    def relations_like(self, schema: str, prefix: str, suffix: str) -> list[str]:
        return sorted(
            r for r in self._relations if r.startswith(f"{schema}.{prefix}") and r.endswith(suffix)
        )

    def rows(self, sql: str, params: list | None = None) -> Rows:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: list | None = None) -> dict[str, Any]:
        rows = self.rows(sql, params)
        return rows[0] if rows else {}

    def count(self, relation: str) -> int:
        return int(self.con.execute(f"select count(*) from {relation}").fetchone()[0])

    def money(self, value: Any) -> str:
        return fmt_money(value, self.currency)


def missing_panel(reader: Reader, key: str, *relations: str) -> str | None:
    """A no-data panel when one of the relations is absent or empty, else None."""
    absent = [r for r in relations if not reader.has(r)]
    if absent:
        return no_data(
            f"No data: {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not in "
            "this warehouse (run `mailroom build`).",
            key,
        )
    empty = [r for r in relations if reader.count(r) == 0]
    if empty:
        return no_data(f"No data: {', '.join(empty)} has no rows.", key)
    return None


def as_of_date(reader: Reader) -> dt.date | None:
    """The as-of date the marts describe (dim_customers), else the last order day."""
    if reader.has("marts.dim_customers"):
        value = reader.one("select max(as_of_date) as d from marts.dim_customers").get("d")
        if value is not None:
            return value
    if reader.has("marts.fct_orders"):
        value = reader.one("select cast(max(ordered_at) as date) as d from marts.fct_orders")
        return value.get("d")
    return None


def month_key(row: dict[str, Any]) -> str:
    return row["month"]


# --------------------------------------------------------------------------- overview


def overview(reader: Reader, as_of: dt.date | None) -> Section:
    s = Section(
        "overview",
        "Headline",
        "Customers, contactable audience, revenue and orders as of the as-of date. Revenue and "
        "orders count completed orders (not cancelled or refunded), in the reporting currency.",
    )
    cards = [kpi("as_of_date", "As of", as_of, fmt_date(as_of))]
    missing_customers = missing_panel(reader, "customers", "marts.dim_customers")
    if missing_customers is None:
        c = reader.one(
            """
            select
                count(*) as customers,
                count(*) filter (where is_email_contactable) as contactable,
                count(*) filter (where order_count > 0) as buyers
            from marts.dim_customers
            """
        )
        share = c["contactable"] / c["customers"] if c["customers"] else None
        cards += [
            kpi("customers", "Customers", c["customers"], fmt_int(c["customers"]), "persons"),
            kpi(
                "contactable",
                "Contactable audience",
                c["contactable"],
                fmt_int(c["contactable"]),
                f"{fmt_pct(share)} of customers may get marketing e-mail",
            ),
            kpi("buyers", "Buyers", c["buyers"], fmt_int(c["buyers"]), "with an order"),
        ]
    missing_orders = missing_panel(reader, "orders", "marts.fct_orders")
    if missing_orders is None:
        o = reader.one(
            """
            select
                sum(total_amount_reporting) filter (where is_completed) as revenue,
                count(*) filter (where is_completed) as orders,
                sum(total_amount_reporting) filter (
                    where is_completed and ordered_at >= ? and ordered_at < ?
                ) as revenue_90d,
                count(*) filter (
                    where is_completed and ordered_at >= ? and ordered_at < ?
                ) as orders_90d
            from marts.fct_orders
            """,
            window_params(as_of) * 2,
        )
        aov = float(o["revenue"]) / o["orders"] if o["orders"] else None
        cards += [
            kpi("revenue", "Revenue", o["revenue"], reader.money(o["revenue"]), "all time"),
            kpi("orders", "Orders", o["orders"], fmt_int(o["orders"]), "all time"),
            kpi("average_order_value", "Average order value", aov, reader.money(aov)),
            kpi(
                "revenue_90d",
                "Revenue, last 90 days",
                o["revenue_90d"],
                reader.money(o["revenue_90d"]),
                f"{fmt_int(o['orders_90d'])} orders",
            ),
        ]
    if reader.has("marts.fct_email_events"):
        e = reader.one(
            f"""
            select
                {email_counts_sql()}
            from marts.fct_email_events
            where event_at >= ? and event_at < ?
            """,
            window_params(as_of),
        )
        open_rate = e["unique_opens"] / e["deliveries"] if e["deliveries"] else None
        click_rate = e["unique_clicks"] / e["deliveries"] if e["deliveries"] else None
        cards += [
            kpi(
                "open_rate_90d",
                "Open rate, 90 days",
                open_rate,
                fmt_pct(open_rate),
                f"{fmt_int(e['deliveries'])} delivered",
            ),
            kpi("click_rate_90d", "Click rate, 90 days", click_rate, fmt_pct(click_rate)),
        ]
    s.add(kpis(cards))
    for panel in (missing_customers, missing_orders):
        if panel:
            s.add(panel)

    if missing_orders is None:
        months = reader.rows(
            """
            select
                strftime(date_trunc('month', ordered_at), '%Y-%m') as month,
                sum(total_amount_reporting) as revenue,
                count(*) as orders
            from marts.fct_orders
            where is_completed
            group by 1
            order by 1 desc
            limit 24
            """
        )[::-1]
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_bar(
            x=[m["month"] for m in months],
            y=[float(m["revenue"]) for m in months],
            name=f"revenue ({reader.currency})",
        )
        fig.add_scatter(
            x=[m["month"] for m in months],
            y=[m["orders"] for m in months],
            name="orders",
            mode="lines+markers",
            secondary_y=True,
        )
        fig.update_yaxes(title_text=f"revenue ({reader.currency})", secondary_y=False)
        fig.update_yaxes(title_text="orders", secondary_y=True, showgrid=False)
        s.subheading("Revenue and orders by month")
        s.add(
            pair(
                s.add_chart("revenue_by_month", fig),
                table(
                    months[::-1][:12],
                    [
                        Column("month", "month"),
                        Column("revenue", "revenue", reader.money, "monthly_revenue", True),
                        Column("orders", "orders", fmt_int, "monthly_orders", True),
                    ],
                    key=month_key,
                    caption="Last 12 months",
                    table_id="revenue_by_month",
                ),
            )
        )

    s.subheading("E-mail engagement by month")
    missing_email = missing_panel(reader, "email_engagement", "marts.fct_email_events")
    if missing_email:
        s.add(missing_email)
    else:
        months = reader.rows(
            f"""
            select
                strftime(date_trunc('month', event_at), '%Y-%m') as month,
                {email_counts_sql()}
            from marts.fct_email_events
            group by 1
            order by 1 desc
            limit 24
            """
        )[::-1]
        for m in months:
            m["open_rate"] = m["unique_opens"] / m["deliveries"] if m["deliveries"] else None
            m["click_rate"] = m["unique_clicks"] / m["deliveries"] if m["deliveries"] else None
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_bar(
            x=[m["month"] for m in months], y=[m["deliveries"] for m in months], name="delivered"
        )
        for name in ("open_rate", "click_rate"):
            fig.add_scatter(
                x=[m["month"] for m in months],
                y=[m[name] for m in months],
                name=name.replace("_", " "),
                mode="lines+markers",
                secondary_y=True,
            )
        fig.update_yaxes(tickformat=".0%", secondary_y=True, showgrid=False)
        fig.update_yaxes(title_text="delivered", secondary_y=False)
        s.add(
            pair(
                s.add_chart("email_by_month", fig),
                table(
                    months[::-1][:12],
                    [
                        Column("month", "month"),
                        Column("delivered", "deliveries", fmt_int, "monthly_deliveries", True),
                        Column("open rate", "open_rate", fmt_pct, "monthly_open_rate", True),
                        Column("click rate", "click_rate", fmt_pct, "monthly_click_rate", True),
                    ],
                    key=month_key,
                    caption="Last 12 months; unique opens and clicks over deliveries",
                    table_id="email_by_month",
                ),
            )
        )
    return s


def window_params(as_of: dt.date | None, days: int = 90) -> list[dt.datetime]:
    """[start, end) of the `days` days ending with the as-of date."""
    end_day = (as_of or dt.date.today()) + dt.timedelta(days=1)
    end = dt.datetime.combine(end_day, dt.time())
    return [end - dt.timedelta(days=days), end]


def email_counts_sql() -> str:
    """Deliveries, unique opens and unique clicks (first of each message)."""
    return """
        count(*) filter (where event_type = 'delivered' and is_first_of_type) as deliveries,
        count(*) filter (where event_type = 'open' and is_first_of_type) as unique_opens,
        count(*) filter (where event_type = 'click' and is_first_of_type) as unique_clicks
    """


# --------------------------------------------------------------------------- segments


def segments(reader: Reader) -> Section:
    s = Section(
        "segments",
        "Segments",
        "Rule-based segments (seeds/segments.csv) at the as-of date: members (a person can be in "
        "several), primary members (the highest-priority segment decides) and how people moved.",
    )
    missing = missing_panel(reader, "segments", "marts.dim_segments")
    if missing:
        s.add(missing)
        s.has_data = False
    else:
        contactable = "null"
        joins = ""
        if reader.has("marts.fct_segment_memberships", "marts.dim_customers"):
            contactable = "coalesce(contactable.contactable_members, 0)"
            joins = """
            left join (
                select
                    fct_segment_memberships.segment_id,
                    count(*) filter (where dim_customers.is_email_contactable) as contactable_members
                from marts.fct_segment_memberships
                inner join marts.dim_customers
                    on fct_segment_memberships.person_id = dim_customers.person_id
                group by 1
            ) as contactable
                on dim_segments.segment_id = contactable.segment_id
            """
        rows = reader.rows(
            f"""
            select
                dim_segments.segment_id,
                dim_segments.segment_name,
                dim_segments.priority,
                dim_segments.member_count,
                dim_segments.primary_member_count,
                dim_segments.member_share,
                {contactable} as contactable_members
            from marts.dim_segments
            {joins}
            order by dim_segments.priority, dim_segments.segment_id
            """
        )
        fig = go.Figure()
        names = [r["segment_name"] or r["segment_id"] for r in rows][::-1]
        fig.add_bar(
            y=names, x=[r["member_count"] for r in rows][::-1], name="members", orientation="h"
        )
        fig.add_bar(
            y=names,
            x=[r["primary_member_count"] for r in rows][::-1],
            name="primary members",
            orientation="h",
        )
        fig.update_layout(title="Segment sizes (priority order, top first)", barmode="group")
        s.add(
            pair(
                s.add_chart("segment_sizes", fig, height=420),
                table(
                    rows,
                    [
                        Column("segment", "segment_name"),
                        Column("members", "member_count", fmt_int, "segment_members", True),
                        Column(
                            "primary",
                            "primary_member_count",
                            fmt_int,
                            "segment_primary_members",
                            True,
                        ),
                        Column("share", "member_share", fmt_pct, "segment_share", True),
                        Column(
                            "contactable",
                            "contactable_members",
                            fmt_int,
                            "segment_contactable_members",
                            True,
                        ),
                    ],
                    key="segment_id",
                    table_id="segments",
                ),
            )
        )

    s.subheading("Transitions between primary segments (latest build)")
    missing = missing_panel(reader, "segment_transitions", "marts.fct_segment_transitions")
    if missing:
        s.add(missing)
        return s
    summary = reader.one(
        """
        select
            count(distinct transitioned_at) as builds,
            max(transitioned_at) as latest,
            count(*) filter (where transitioned_at = (
                select max(transitioned_at) from marts.fct_segment_transitions
            )) as latest_changes,
            count(*) filter (where is_primary_change and not is_first_state and transitioned_at = (
                select max(transitioned_at) from marts.fct_segment_transitions
            )) as latest_moves
        from marts.fct_segment_transitions
        """
    )
    moves = reader.rows(
        """
        select
            from_segment_id,
            to_segment_id,
            count(*) as persons
        from marts.fct_segment_transitions
        where
            is_primary_change
            and transitioned_at = (select max(transitioned_at) from marts.fct_segment_transitions)
        group by 1, 2
        order by 3 desc, 1, 2
        """
    )
    s.add(
        kpis(
            [
                kpi(
                    "transition_builds",
                    "Builds recorded",
                    summary["builds"],
                    fmt_int(summary["builds"]),
                    f"latest {fmt_date(summary['latest'])}",
                ),
                kpi(
                    "transition_changes_latest",
                    "Changed in latest build",
                    summary["latest_changes"],
                    fmt_int(summary["latest_changes"]),
                    "persons whose segments changed",
                ),
                kpi(
                    "transition_moves_latest",
                    "Moved primary segment",
                    summary["latest_moves"],
                    fmt_int(summary["latest_moves"]),
                    "between two segments (not first states)",
                ),
            ]
        )
    )
    if not moves:
        s.add(note("No primary segment changed in the latest build."))
        return s
    if summary["builds"] == 1:
        s.add(
            note(
                "One build recorded so far: every person enters from 'none'. Moves between "
                "segments appear from the next build on."
            )
        )
    froms = sorted({m["from_segment_id"] for m in moves})
    tos = sorted({m["to_segment_id"] for m in moves})
    counts = {(m["from_segment_id"], m["to_segment_id"]): m["persons"] for m in moves}
    fig = go.Figure(
        go.Heatmap(
            x=tos,
            y=froms,
            z=[[counts.get((f, t), 0) for t in tos] for f in froms],
            colorscale="Blues",
            hovertemplate="%{y} → %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Persons by primary segment before (rows) and after (columns)",
        xaxis_title="to",
        yaxis_title="from",
    )
    s.add(
        pair(
            s.add_chart("segment_transitions", fig, height=380),
            table(
                moves[:15],
                [
                    Column("from", "from_segment_id"),
                    Column("to", "to_segment_id"),
                    Column("persons", "persons", fmt_int, "segment_transitions", True),
                ],
                key=lambda r: f"{r['from_segment_id']}>{r['to_segment_id']}",
                caption="Largest moves of the latest build",
                table_id="segment_transitions",
            ),
        )
    )
    return s


# --------------------------------------------------------------------------- propensity


def propensity(reader: Reader) -> Section:
    s = Section(
        "propensity",
        "Propensity scores and model quality",
        "Champion scores of every person (purchase in the next 30 days, churn in the next 90), "
        "their tiers, each trained version against the recency x frequency baseline, and "
        "monitoring: population stability (PSI) and the realized ROC-AUC of past scores.",
    )
    missing = missing_panel(reader, "propensity_scores", "marts.fct_propensity_scores")
    if missing:
        s.add(missing)
    else:
        tiers = reader.rows(
            """
            select
                model_name,
                tier,
                count(*) as persons,
                avg(score) as mean_score,
                min(score) as min_score,
                max(score) as max_score
            from marts.fct_propensity_scores
            group by 1, 2
            order by 1, 4 desc
            """
        )
        bins = reader.rows(
            """
            select
                model_name,
                least(cast(floor(score * 20) as integer), 19) as score_bin,
                count(*) as persons
            from marts.fct_propensity_scores
            where score is not null
            group by 1, 2
            order by 1, 2
            """
        )
        fig = go.Figure()
        for model in sorted({b["model_name"] for b in bins}):
            model_bins = [b for b in bins if b["model_name"] == model]
            fig.add_bar(
                x=[(b["score_bin"] + 0.5) / 20 for b in model_bins],
                y=[b["persons"] for b in model_bins],
                width=0.05,
                name=model,
                opacity=0.75,
            )
        fig.update_layout(
            title="Score distribution (persons per 0.05 of score)",
            barmode="overlay",
            xaxis={"title": "score", "range": [0, 1]},
            yaxis_title="persons",
        )
        s.add(
            pair(
                s.add_chart("score_distribution", fig),
                table(
                    tiers,
                    [
                        Column("model", "model_name"),
                        Column("tier", "tier"),
                        Column("persons", "persons", fmt_int, "tier_persons", True),
                        Column("mean score", "mean_score", fmt_float, "tier_mean_score", True),
                        Column("min", "min_score", fmt_float, None, True),
                        Column("max", "max_score", fmt_float, None, True),
                    ],
                    key=lambda r: f"{r['model_name']}:{r['tier']}",
                    table_id="tiers",
                ),
            )
        )

    s.subheading("Model versions: validation ROC-AUC and PR-AUC against the baseline")
    missing = missing_panel(reader, "model_versions", "marts.dim_model_versions")
    if missing:
        s.add(missing)
    else:
        versions = reader.rows(
            """
            select
                model_name,
                model_version,
                algorithm,
                trained_at,
                validation_date,
                roc_auc,
                baseline_roc_auc,
                pr_auc,
                baseline_pr_auc,
                is_promoted,
                is_champion
            from marts.dim_model_versions
            order by model_name, trained_at, model_version
            """
        )
        s.add(
            note(
                "One point per trained version at its training run, one colour per algorithm; "
                "the star is the model's champion, the dash the recency x frequency baseline "
                "on the same validation rows."
            )
        )
        # full width: the chart has a row per model, the table many columns
        s.add(
            s.add_chart(
                "model_quality",
                model_quality_figure(versions),
                height=300 * max(1, len({v["model_name"] for v in versions})),
            ),
            table(
                versions,
                [
                    Column("model", "model_name"),
                    Column("version", "model_version"),
                    Column("algorithm", "algorithm"),
                    Column("validated on", "validation_date", fmt_date),
                    Column("ROC-AUC", "roc_auc", fmt_float, "model_roc_auc", True),
                    Column(
                        "baseline ROC-AUC",
                        "baseline_roc_auc",
                        fmt_float,
                        "model_baseline_roc_auc",
                        True,
                    ),
                    Column("PR-AUC", "pr_auc", fmt_float, "model_pr_auc", True),
                    Column(
                        "baseline PR-AUC",
                        "baseline_pr_auc",
                        fmt_float,
                        "model_baseline_pr_auc",
                        True,
                    ),
                    Column("promoted", "is_promoted", fmt_bool),
                    Column("champion", "is_champion", fmt_bool, "model_is_champion"),
                ],
                key="model_version",
                table_id="model_versions",
            ),
        )

    s.subheading("Monitoring")
    missing = missing_panel(reader, "model_monitoring", "marts.rpt_model_monitoring")
    if missing:
        s.add(missing)
        return s
    psi = reader.rows(
        """
        select
            model_name,
            subject,
            value,
            status,
            warn_threshold,
            fail_threshold
        from marts.rpt_model_monitoring
        where check_name = 'psi' and value is not null
        qualify row_number() over (
            partition by model_name order by (subject = 'score') desc, value desc, subject
        ) <= 12
        order by model_name, value desc
        """
    )
    status = reader.rows(
        """
        select
            model_name,
            max(value) filter (where subject = 'score') as score_psi,
            count(*) filter (where status = 'ok') as ok,
            count(*) filter (where status = 'warn') as warn,
            count(*) filter (where status = 'fail') as fail
        from marts.rpt_model_monitoring
        where check_name = 'psi'
        group by 1
        order by 1
        """
    )
    if psi:
        models = sorted({p["model_name"] for p in psi})
        fig = make_subplots(rows=1, cols=len(models), subplot_titles=models, horizontal_spacing=0.3)
        for i, model in enumerate(models, start=1):
            rows = [p for p in psi if p["model_name"] == model][::-1]
            fig.add_bar(
                y=[p["subject"] for p in rows],
                x=[p["value"] for p in rows],
                orientation="h",
                name=model,
                marker_color=[
                    "#dc2626"
                    if p["status"] == "fail"
                    else "#f59e0b"
                    if p["status"] == "warn"
                    else "#16a34a"
                    for p in rows
                ],
                showlegend=False,
                row=1,
                col=i,
            )
            warn = next((p["warn_threshold"] for p in rows if p["warn_threshold"]), None)
            fail = next((p["fail_threshold"] for p in rows if p["fail_threshold"]), None)
            for threshold, color, dash in ((warn, "#f59e0b", "dot"), (fail, "#dc2626", "dash")):
                if threshold is not None:
                    fig.add_vline(x=threshold, line_dash=dash, line_color=color, row=1, col=i)
        s.add(
            note(
                "Population stability of the score and of the most shifted features between "
                "the scoring version's validation population and today's: green ok, amber "
                "warn (dotted line), red fail (dashed line)."
            )
        )
        side = table(
            status,
            [
                Column("model", "model_name"),
                Column("score PSI", "score_psi", fmt_float, "score_psi", True),
                Column("ok", "ok", fmt_int, "psi_ok", True),
                Column("warn", "warn", fmt_int, "psi_warn", True),
                Column("fail", "fail", fmt_int, "psi_fail", True),
            ],
            key="model_name",
            caption="PSI checks by status",
            table_id="psi_status",
        )
        s.add(pair(s.add_chart("psi", fig, height=420), side))
    else:
        s.add(no_data("No PSI checks in marts.rpt_model_monitoring.", "psi"))

    realized = reader.rows(
        """
        select
            model_name,
            model_version,
            subject as scored_as_of,
            value as realized_roc_auc,
            reference_value as validation_roc_auc,
            current_rows,
            positives
        from marts.rpt_model_monitoring
        where check_name = 'realized_roc_auc'
        order by model_name, subject
        """
    )
    if not realized:
        s.add(
            no_data(
                "No realized ROC-AUC yet: no published score has a matured label window "
                "(scores are kept in fct_propensity_score_history until their outcome is known).",
                "realized_auc",
            )
        )
        return s
    fig = go.Figure()
    for model in sorted({r["model_name"] for r in realized}):
        rows = [r for r in realized if r["model_name"] == model]
        fig.add_scatter(
            x=[r["scored_as_of"] for r in rows],
            y=[r["realized_roc_auc"] for r in rows],
            name=f"{model} realized",
            mode="lines+markers",
        )
        fig.add_scatter(
            x=[r["scored_as_of"] for r in rows],
            y=[r["validation_roc_auc"] for r in rows],
            name=f"{model} at validation",
            mode="lines",
            line_dash="dot",
        )
    fig.update_layout(title="Realized ROC-AUC of published scores", yaxis_title="ROC-AUC")
    s.add(
        pair(
            s.add_chart("realized_auc", fig),
            table(
                realized,
                [
                    Column("model", "model_name"),
                    Column("scored as of", "scored_as_of"),
                    Column("realized", "realized_roc_auc", fmt_float, "realized_roc_auc", True),
                    Column("validation", "validation_roc_auc", fmt_float, None, True),
                    Column("persons", "current_rows", fmt_int, None, True),
                ],
                key=lambda r: f"{r['model_name']}:{r['scored_as_of']}",
                table_id="realized_auc",
            ),
        )
    )
    return s


def model_quality_figure(versions: Rows) -> go.Figure:
    """ROC-AUC and PR-AUC (columns) of each model (rows): one point per version at its
    training run, one line per algorithm, the baseline dotted, champions as stars."""
    models = sorted({v["model_name"] for v in versions}) or ["-"]
    fig = make_subplots(
        rows=len(models),
        cols=2,
        subplot_titles=[f"{m}: {name}" for m in models for name in ("ROC-AUC", "PR-AUC")],
        vertical_spacing=0.18,
    )
    algorithms = sorted({v["algorithm"] for v in versions})
    colors = {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(algorithms)}
    for row, model in enumerate(models, start=1):
        rows = [v for v in versions if v["model_name"] == model]
        runs = sorted({training_run(v) for v in rows})
        for col, metric in ((1, "roc_auc"), (2, "pr_auc")):
            for algorithm in algorithms:
                points = [v for v in rows if v["algorithm"] == algorithm]
                if not points:
                    continue
                fig.add_scatter(
                    x=[training_run(v) for v in points],
                    y=[v[metric] for v in points],
                    mode="lines+markers",
                    line={"color": colors[algorithm]},
                    marker={
                        "color": colors[algorithm],
                        "size": [15 if v["is_champion"] else 8 for v in points],
                        "symbol": ["star" if v["is_champion"] else "circle" for v in points],
                    },
                    text=[v["model_version"] for v in points],
                    hovertemplate="%{text}<br>%{y:.3f}<extra></extra>",
                    name=algorithm,
                    legendgroup=algorithm,
                    offsetgroup=algorithm,
                    showlegend=row == 1 and col == 1,
                    row=row,
                    col=col,
                )
            baseline = {}
            for v in rows:
                if not is_missing(v[f"baseline_{metric}"]):
                    baseline.setdefault(training_run(v), v[f"baseline_{metric}"])
            fig.add_scatter(
                x=list(baseline),
                y=list(baseline.values()),
                mode="lines+markers",
                line={"color": "#111827", "dash": "dot"},
                marker={"symbol": "line-ew-open", "size": 24, "color": "#111827"},
                name="baseline (same rows)",
                legendgroup="baseline",
                offsetgroup="~baseline",
                showlegend=row == 1 and col == 1,
                row=row,
                col=col,
            )
            fig.update_xaxes(
                type="category", categoryorder="array", categoryarray=runs, row=row, col=col
            )
            values = [
                float(v[m])
                for v in rows
                for m in (metric, f"baseline_{metric}")
                if not is_missing(v[m])
            ]
            if values:
                # AUCs sit near the top of [0, 1]: zoom on them
                low, high = min(values), max(values)
                pad = max(0.02, (high - low) * 0.25)
                fig.update_yaxes(
                    range=[max(0.0, low - pad), min(1.0, high + pad)], row=row, col=col
                )
    fig.update_layout(
        scattermode="group",
        scattergap=0.5,
    )
    return fig


def training_run(version: dict[str, Any]) -> str:
    trained = version["trained_at"]
    return trained.strftime("%Y-%m-%d %H:%M") if hasattr(trained, "strftime") else str(trained)


# --------------------------------------------------------------------------- audiences


def audiences(reader: Reader) -> Section:
    s = Section(
        "audiences",
        "Audiences",
        "Trigger and lifecycle audiences at the as-of date: members, the stable holdout (control "
        "group) and who is sent to the ESP (not holdout, contactable, under the frequency cap).",
    )
    missing = missing_panel(reader, "audiences", "marts.fct_audience_memberships")
    if missing:
        s.add(missing)
        s.has_data = False
        return s
    rows = reader.rows(
        """
        select
            audience_id,
            count(*) as members,
            count(*) filter (where is_holdout) as holdout,
            count(*) filter (where is_sendable) as sendable,
            count(*) filter (where exclusion_reason = 'not_contactable') as not_contactable,
            count(*) filter (where exclusion_reason = 'frequency_capped') as frequency_capped
        from marts.fct_audience_memberships
        group by 1
        order by 2 desc, 1
        """
    )
    fig = go.Figure()
    names = [r["audience_id"] for r in rows]
    for field, label in (
        ("sendable", "sendable"),
        ("holdout", "holdout"),
        ("not_contactable", "not contactable"),
        ("frequency_capped", "frequency capped"),
    ):
        fig.add_bar(x=names, y=[r[field] for r in rows], name=label)
    fig.update_layout(title="Audience members by outcome", barmode="stack", yaxis_title="persons")
    s.add(
        pair(
            s.add_chart("audience_sizes", fig),
            table(
                rows,
                [
                    Column("audience", "audience_id"),
                    Column("members", "members", fmt_int, "audience_members", True),
                    Column("holdout", "holdout", fmt_int, "audience_holdout", True),
                    Column("sendable", "sendable", fmt_int, "audience_sendable", True),
                    Column("uncontactable", "not_contactable", fmt_int, None, True),
                    Column("capped", "frequency_capped", fmt_int, None, True),
                ],
                key="audience_id",
                table_id="audiences",
            ),
        )
    )
    return s


# --------------------------------------------------------------------------- data quality


def data_quality(reader: Reader) -> Section:
    s = Section(
        "data_quality",
        "Data quality",
        "Every raw row is accounted for: raw = staged + quarantined + collapsed duplicates, per "
        "table. Quarantined rows keep their reason; identity resolution shows how records became "
        "persons.",
    )
    s.subheading("Source reconciliation")
    missing = missing_panel(reader, "reconciliation", "marts.rpt_source_reconciliation")
    if missing:
        s.add(missing)
    else:
        rows = reader.rows(
            """
            select
                source_name,
                source_table,
                raw_rows,
                staged_rows,
                quarantined_rows,
                collapsed_duplicates,
                is_balanced
            from marts.rpt_source_reconciliation
            order by source_name, source_table
            """
        )
        totals = {
            k: sum(int(r[k] or 0) for r in rows)
            for k in ("raw_rows", "staged_rows", "quarantined_rows", "collapsed_duplicates")
        }
        balanced = sum(1 for r in rows if r["is_balanced"])
        s.add(
            kpis(
                [
                    kpi("raw_rows", "Raw rows", totals["raw_rows"], fmt_int(totals["raw_rows"])),
                    kpi(
                        "staged_rows",
                        "Staged",
                        totals["staged_rows"],
                        fmt_int(totals["staged_rows"]),
                    ),
                    kpi(
                        "quarantined_rows",
                        "Quarantined",
                        totals["quarantined_rows"],
                        fmt_int(totals["quarantined_rows"]),
                    ),
                    kpi(
                        "collapsed_duplicates",
                        "Duplicates collapsed",
                        totals["collapsed_duplicates"],
                        fmt_int(totals["collapsed_duplicates"]),
                    ),
                    kpi(
                        "balanced_tables",
                        "Tables that balance",
                        balanced,
                        f"{balanced} of {len(rows)}",
                    ),
                ]
            )
        )
        fig = go.Figure()
        tables = [r["source_table"] for r in rows][::-1]
        for field, label in (
            ("staged_rows", "staged"),
            ("quarantined_rows", "quarantined"),
            ("collapsed_duplicates", "duplicates"),
        ):
            fig.add_bar(
                y=tables,
                x=[(r[field] or 0) / r["raw_rows"] if r["raw_rows"] else 0 for r in rows][::-1],
                customdata=[r[field] for r in rows][::-1],
                hovertemplate=f"%{{y}}: %{{customdata:,}} {label} (%{{x:.1%}})<extra></extra>",
                name=label,
                orientation="h",
            )
        fig.update_layout(
            title="Share of each raw table's rows", barmode="stack", xaxis_tickformat=".0%"
        )
        s.add(
            pair(
                s.add_chart("reconciliation", fig, height=400),
                table(
                    rows,
                    [
                        Column("table", "source_table"),
                        Column("raw", "raw_rows", fmt_int, "recon_raw_rows", True),
                        Column("staged", "staged_rows", fmt_int, "recon_staged_rows", True),
                        Column(
                            "quarantined",
                            "quarantined_rows",
                            fmt_int,
                            "recon_quarantined_rows",
                            True,
                        ),
                        Column(
                            "duplicates",
                            "collapsed_duplicates",
                            fmt_int,
                            "recon_collapsed_duplicates",
                            True,
                        ),
                        Column("balanced", "is_balanced", fmt_bool, "recon_is_balanced"),
                    ],
                    key="source_table",
                    table_id="reconciliation",
                ),
            )
        )

    s.subheading("Top quarantine reasons")
    quarantines = reader.relations_like("staging", "stg_", "__quarantined_rows")
    if not quarantines:
        s.add(
            no_data(
                "No data: no staging.stg_*__quarantined_rows model in this warehouse.",
                "quarantine_reasons",
            )
        )
    else:
        union = " union all ".join(
            f"select source_table, quarantine_reason from {q}" for q in quarantines
        )
        reasons = reader.rows(
            f"""
            select
                quarantine_reason,
                count(*) as quarantined_rows,
                string_agg(distinct source_table, ', ' order by source_table) as source_tables
            from ({union}) as quarantined
            group by 1
            order by 2 desc, 1
            limit 12
            """
        )
        if not reasons:
            s.add(note("No row was quarantined."))
        else:
            fig = go.Figure(
                go.Bar(
                    y=[r["quarantine_reason"] for r in reasons][::-1],
                    x=[r["quarantined_rows"] for r in reasons][::-1],
                    orientation="h",
                    name="quarantined rows",
                )
            )
            fig.update_layout(title="Quarantined rows by reason")
            s.add(
                pair(
                    s.add_chart("quarantine_reasons", fig),
                    table(
                        reasons,
                        [
                            Column("reason", "quarantine_reason"),
                            Column(
                                "rows", "quarantined_rows", fmt_int, "quarantine_reason_rows", True
                            ),
                            Column("tables", "source_tables", wrap=True),
                        ],
                        key="quarantine_reason",
                        table_id="quarantine_reasons",
                    ),
                )
            )

    s.subheading("Identity resolution")
    missing = missing_panel(reader, "identity", "marts.rpt_identity_quality")
    if missing:
        s.add(missing)
        return s
    figures = reader.rows(
        "select section, item, value from marts.rpt_identity_quality order by section, item"
    )
    by_section: dict[str, Rows] = {}
    for f in figures:
        by_section.setdefault(f["section"], []).append(f)
    records = sum(float(f["value"] or 0) for f in by_section.get("records", []))
    persons = next((f["value"] for f in by_section.get("persons", [])), None)
    largest = next((f["value"] for f in by_section.get("largest_cluster", [])), None)
    s.add(
        kpis(
            [
                kpi("identity_records", "Source records", records, fmt_int(records)),
                kpi("identity_persons", "Persons", persons, fmt_int(persons)),
                kpi(
                    "identity_records_per_person",
                    "Records per person",
                    records / float(persons) if persons else None,
                    fmt_float(records / float(persons), 2) if persons else "–",
                ),
                kpi(
                    "identity_largest_cluster",
                    "Largest person",
                    largest,
                    fmt_int(largest),
                    "source records",
                ),
            ]
        )
    )
    sizes = sorted(by_section.get("cluster_size", []), key=lambda f: bucket_order(f["item"]))
    shown = [
        f for f in figures if f["section"] in ("links_by_rule", "refused_by_reason", "records")
    ]
    chart_html = no_data("No cluster sizes in rpt_identity_quality.", "identity_clusters")
    if sizes:
        fig = go.Figure(
            go.Bar(
                x=[f["item"] for f in sizes],
                y=[f["value"] for f in sizes],
                name="persons",
            )
        )
        fig.update_layout(
            title="Persons by number of source records",
            xaxis={"title": "source records", "type": "category"},
            yaxis_title="persons",
        )
        chart_html = s.add_chart("identity_clusters", fig)
    s.add(
        pair(
            chart_html,
            table(
                shown,
                [
                    Column("figure", "section", lambda v: str(v).replace("_", " ")),
                    Column("item", "item"),
                    Column("value", "value", fmt_int, "identity", True),
                ],
                key=lambda r: f"{r['section']}:{r['item']}",
                table_id="identity",
            ),
        )
    )
    return s


def bucket_order(item: str) -> float:
    """'1', '2', '6-10', '21-50'... in numeric order."""
    head = str(item).split("-")[0].rstrip("+")
    try:
        return float(head)
    except ValueError:
        return float("inf")


# --------------------------------------------------------------------------- campaigns


CAMPAIGN_COLUMNS = (
    "campaign_id",
    "campaign_name",
    "campaign_type",
    "variant",
    "is_holdout",
    "first_sent_at",
    "recipients",
    "deliveries",
    "open_rate",
    "human_open_rate",
    "click_rate",
    "attributed_orders",
    "attributed_revenue",
    "conversion_rate",
    "revenue_per_recipient",
    "conversion_lift",
    "conversion_lift_ci_low",
    "conversion_lift_ci_high",
    "is_significant",
)


def group_label(row: dict[str, Any]) -> str:
    if row["is_holdout"]:
        return "holdout"
    return row["variant"] if not is_missing(row["variant"]) else "treated"


def campaign_key(row: dict[str, Any]) -> str:
    return f"{row['campaign_id']}:{group_label(row)}"


def campaigns(reader: Reader, limit: int = 12) -> Section:
    s = Section(
        "campaigns",
        "Campaign lift",
        "Each campaign's treated variants against its holdout (marts.fct_campaign_results): "
        "opens, clicks, attributed orders and revenue per recipient, and the conversion lift "
        "over the holdout with its confidence interval.",
    )
    if not reader.has("marts.fct_campaign_results"):
        s.add(
            no_data(
                "No campaign results in this warehouse (marts.fct_campaign_results is not built).",
                "campaigns",
            )
        )
        s.has_data = False
        return s
    if reader.count("marts.fct_campaign_results") == 0:
        s.add(
            no_data(
                "No campaign results in this warehouse (no campaign has been sent).", "campaigns"
            )
        )
        s.has_data = False
        return s
    recent = reader.rows(
        f"""
        with campaigns as (
            select campaign_id, max(first_sent_at) as first_sent_at
            from marts.fct_campaign_results
            group by 1
            order by 2 desc nulls last, 1
            limit {int(limit)}
        )
        select {", ".join(f"results.{c}" for c in CAMPAIGN_COLUMNS)}
        from marts.fct_campaign_results as results
        inner join campaigns
            on results.campaign_id = campaigns.campaign_id
        order by campaigns.first_sent_at desc nulls last, results.campaign_id,
            results.is_holdout, results.variant
        """
    )
    summary = reader.one(
        """
        select
            count(distinct campaign_id) as campaigns,
            count(distinct campaign_id) filter (where is_significant) as significant_campaigns,
            sum(attributed_revenue) filter (where not is_holdout) as attributed_revenue
        from marts.fct_campaign_results
        """
    )
    s.add(
        kpis(
            [
                kpi("campaigns", "Campaigns", summary["campaigns"], fmt_int(summary["campaigns"])),
                kpi(
                    "significant_campaigns",
                    "With a significant lift",
                    summary["significant_campaigns"],
                    fmt_int(summary["significant_campaigns"]),
                    "a treated group's interval excludes 0",
                ),
                kpi(
                    "campaign_attributed_revenue",
                    "Attributed revenue",
                    summary["attributed_revenue"],
                    reader.money(summary["attributed_revenue"]),
                    "treated recipients",
                ),
            ]
        )
    )
    for r in recent:
        r["group"] = group_label(r)
        r["lift_interval"] = (
            "–"
            if is_missing(r["conversion_lift_ci_low"])
            else f"{fmt_signed_pct(r['conversion_lift_ci_low'])} to "
            f"{fmt_signed_pct(r['conversion_lift_ci_high'])}"
        )
    names = {r["campaign_id"]: r["campaign_name"] or r["campaign_id"] for r in recent}
    order = list(dict.fromkeys(r["campaign_id"] for r in recent))
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["Conversion rate by group", "Conversion lift over holdout (95% CI)"],
    )
    for group in sorted({r["group"] for r in recent}, key=lambda g: (g == "holdout", g)):
        rows = {r["campaign_id"]: r for r in recent if r["group"] == group}
        fig.add_bar(
            x=[names[c] for c in order if c in rows],
            y=[rows[c]["conversion_rate"] for c in order if c in rows],
            name=group,
            row=1,
            col=1,
        )
    treated = [r for r in recent if not r["is_holdout"] and not is_missing(r["conversion_lift"])]
    if treated:
        fig.add_scatter(
            x=[f"{names[r['campaign_id']]} · {r['group']}" for r in treated],
            y=[r["conversion_lift"] for r in treated],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    (r["conversion_lift_ci_high"] - r["conversion_lift"])
                    if not is_missing(r["conversion_lift_ci_high"])
                    else 0
                    for r in treated
                ],
                "arrayminus": [
                    (r["conversion_lift"] - r["conversion_lift_ci_low"])
                    if not is_missing(r["conversion_lift_ci_low"])
                    else 0
                    for r in treated
                ],
            },
            mode="markers",
            marker={
                "size": 10,
                "color": ["#16a34a" if r["is_significant"] else "#6b7280" for r in treated],
            },
            name="lift",
            showlegend=False,
            row=1,
            col=2,
        )
        fig.add_hline(y=0, line_color="#9ca3af", row=1, col=2)
    fig.update_yaxes(tickformat=".1%")
    fig.update_layout(barmode="group")
    s.add(
        note(
            f"The {len(order)} most recent campaigns; green lifts are significant "
            "(their interval excludes no lift)."
        ),
        s.add_chart("campaign_lift", fig, height=420),
    )
    s.add(
        table(
            recent,
            [
                Column("campaign", "campaign_name", wrap=True),
                Column("type", "campaign_type"),
                Column("group", "group"),
                Column("first sent", "first_sent_at", fmt_date),
                Column("recipients", "recipients", fmt_int, "campaign_recipients", True),
                Column("open rate", "open_rate", fmt_pct, "campaign_open_rate", True),
                Column("human", "human_open_rate", fmt_pct, None, True),
                Column("click rate", "click_rate", fmt_pct, "campaign_click_rate", True),
                Column("conversion", "conversion_rate", fmt_pct, "campaign_conversion_rate", True),
                Column(
                    "revenue/recip.",
                    "revenue_per_recipient",
                    lambda v: fmt_money(v, reader.currency, 2),
                    "campaign_revenue_per_recipient",
                    True,
                ),
                Column("lift", "conversion_lift", fmt_signed_pct, "campaign_conversion_lift", True),
                Column("95% CI", "lift_interval"),
                Column("signif.", "is_significant", fmt_bool, "campaign_is_significant"),
            ],
            key=campaign_key,
            caption="Lift and its 95% interval as marts.fct_campaign_results reports them "
            "(each treated group against the campaign's holdout; none on the holdout row).",
            table_id="campaigns",
        )
    )
    return s


SECTION_BUILDERS: dict[str, Callable[..., Section]] = {
    "segments": segments,
    "propensity": propensity,
    "audiences": audiences,
    "campaigns": campaigns,
    "data_quality": data_quality,
}
