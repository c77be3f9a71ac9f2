"""Campaign results on the built 1,500-person world: counts, holdouts, machine opens, lift vs truth."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import using_warehouse
from typer.testing import CliRunner

from mailroom import campaign_score, runner
from mailroom.cli import app
from mailroom.generator.names import MPP_USER_AGENT

# Persons an event belongs to (erased people are already gone from fct_email_events).
MESSAGE_EVENTS = """
    select * from marts.fct_email_events
    where person_id is not null and campaign_id is not null and event_type <> 'holdout'
"""


@pytest.fixture(scope="module")
def results(built_world) -> pd.DataFrame:
    return built_world.df("select * from marts.fct_campaign_results order by campaign_id, variant")


def test_the_build_measured_every_campaign(built_world, results) -> None:
    assert built_world.build.success, built_world.build.error
    statuses = {
        n.unique_id: n.status
        for n in built_world.build.nodes
        if "measurement" in n.unique_id or "campaign" in n.unique_id
    }
    assert statuses and all(s in ("success", "pass") for s in statuses.values()), statuses
    # one row per campaign and variant the persons were sent, plus one per control group
    expected = built_world.df(f"""
        with firsts as (
            select campaign_id, person_id, coalesce(min(variant), 'default') as variant
            from ({MESSAGE_EVENTS}) group by 1, 2
        )
        select distinct campaign_id, variant from firsts
        union
        select distinct holdouts.campaign_id, 'holdout'
        from marts.fct_email_events as holdouts
        left join firsts
            on holdouts.campaign_id = firsts.campaign_id and holdouts.person_id = firsts.person_id
        where holdouts.event_type = 'holdout' and holdouts.person_id is not null
            and firsts.person_id is null
    """)
    got = set(zip(results["campaign_id"], results["variant"], strict=True))
    assert got == set(zip(expected["campaign_id"], expected["variant"], strict=True))
    assert results["is_holdout"].eq(results["variant"].eq("holdout")).all()
    # A/B campaigns have both variants; broadcasts have holdouts, the triggered flow none
    assert {"A", "B", "default", "holdout"} <= set(results["variant"])
    triggered = results[results["campaign_type"] == "triggered"]
    assert len(triggered) == 1 and triggered["conversion_lift"].isna().all()
    with_holdout = results.loc[results["is_holdout"], "campaign_id"].nunique()
    assert with_holdout >= 30, with_holdout


def test_counts_reconcile_with_email_events(built_world, results) -> None:
    events = built_world.df(f"""
        select
            campaign_id,
            count(*) filter (where event_type = 'send') as sends,
            count(*) filter (where event_type = 'delivered') as deliveries,
            count(*) filter (where event_type = 'bounce') as bounces,
            count(distinct person_id) filter (where event_type = 'open') as openers,
            count(distinct person_id) filter (where event_type = 'click') as clickers,
            count(distinct person_id) as recipients
        from ({MESSAGE_EVENTS})
        group by 1
    """).set_index("campaign_id")
    treated = (
        results[~results["is_holdout"]]
        .groupby("campaign_id")[
            ["sends", "deliveries", "bounces", "unique_opens", "unique_clicks", "recipients"]
        ]
        .sum()
    )
    treated.columns = ["sends", "deliveries", "bounces", "openers", "clickers", "recipients"]
    pd.testing.assert_frame_equal(
        treated.sort_index(), events[treated.columns].sort_index(), check_dtype=False
    )
    assert events["sends"].sum() > 3000
    # every attributed order is one row of the attribution model, counted once
    attributed = built_world.query(
        "select count(*), coalesce(sum(attributed_revenue), 0) "
        "from intermediate.int_measurement__order_attributions"
    )[0]
    assert results["attributed_orders"].sum() == attributed[0] > 0
    assert float(results["attributed_revenue"].sum()) == pytest.approx(float(attributed[1]))


def test_holdout_people_were_never_sent_that_campaign(built_world, results) -> None:
    sent_holdouts = built_world.query(f"""
        select count(*)
        from intermediate.int_measurement__campaign_recipients as recipients
        inner join ({MESSAGE_EVENTS}) as messages
            on recipients.campaign_id = messages.campaign_id
            and recipients.person_id = messages.person_id
        where recipients.is_holdout
    """)[0][0]
    assert sent_holdouts == 0
    # the ESP's control events carry no variant, and none of its subscribers got a message
    raw = built_world.query(
        "select count(*), count(variant) from raw.esp_email_events where event_type = 'holdout'"
    )[0]
    assert raw[0] > 100 and raw[1] == 0
    # about campaign_holdout_share of those who would have been sent were held out
    holdout = results.loc[results["is_holdout"], "recipients"].sum()
    treated = results.loc[
        ~results["is_holdout"]
        & results["campaign_id"].isin(results.loc[results["is_holdout"], "campaign_id"]),
        "recipients",
    ].sum()
    share = holdout / (holdout + treated)
    assert 0.08 < share < 0.12, share
    # the truth's control groups are the warehouse's (erased and unresolved people aside)
    truth = pd.read_parquet(built_world.truth / "campaign_effects.parquet")
    truth_holdout = truth.drop_duplicates("campaign_id")["holdout_recipients"].sum()
    assert holdout == pytest.approx(truth_holdout, rel=0.05)


def test_machine_opens_are_separated(built_world, results) -> None:
    # Independent of the SQL: the generator's machine opens carry the Apple MPP user agent.
    opens = built_world.df("""
        select events.campaign_id, events.person_id, staged.user_agent
        from marts.fct_email_events as events
        inner join staging.stg_esp__email_events as staged on events.event_id = staged.event_id
        where events.event_type = 'open' and events.person_id is not null
            and events.campaign_id is not null
    """)
    opens["machine"] = opens["user_agent"].eq(MPP_USER_AGENT)
    per = opens.groupby(["campaign_id", "person_id"])["machine"].agg(["any", "all"])
    expected = per.groupby("campaign_id").agg(
        machine=("any", "sum"), human=("all", lambda s: int((~s).sum())), openers=("any", "size")
    )
    treated = (
        results[~results["is_holdout"]]
        .groupby("campaign_id")[["machine_opens", "human_opens", "unique_opens"]]
        .sum()
    )
    joined = treated.join(expected, how="inner")
    assert len(joined) == expected.shape[0]
    assert (joined["machine_opens"] == joined["machine"]).all()
    assert (joined["unique_opens"] == joined["openers"]).all()
    # a person opens within 2 seconds of delivery only by rare chance: at most a few humans differ
    assert (joined["human"] - joined["human_opens"]).between(0, 2).all()
    assert (joined["human"] - joined["human_opens"]).sum() <= 3
    share = results["machine_open_events"].sum() / results["open_events"].sum()
    assert 0.2 < share < 0.6, share  # MPP users are 12% of people but open every delivery
    rated = results[results["open_rate"].notna()]
    assert len(rated) > 50 and (rated["human_open_rate"] <= rated["open_rate"]).all()


def test_measured_conversions_find_the_orders_campaigns_brought(built_world) -> None:
    """Every order an e-mail brought (truth) within the recipient's window converts them."""
    induced = pd.read_parquet(built_world.truth / "campaign_orders.parquet")
    induced = induced[induced["is_visible"] & induced["status"].eq("completed")]
    assert len(induced) > 15
    found = built_world.df("""
        select orders.order_id, recipients.campaign_id, recipients.is_converted,
            orders.ordered_at >= recipients.window_start_at
            and orders.ordered_at < recipients.window_end_at as in_window
        from marts.fct_orders as orders
        inner join intermediate.int_measurement__campaign_recipients as recipients
            on orders.person_id = recipients.person_id
    """)
    m = induced.merge(found, on=["order_id", "campaign_id"], how="left")
    # the order's person is the recipient's: identity resolution linked order and subscriber
    linked = m["is_converted"].notna()
    assert linked.mean() > 0.85, m[~linked]
    in_window = m[linked & m["in_window"].astype(bool)]
    assert len(in_window) > 0.6 * linked.sum()
    assert in_window["is_converted"].astype(bool).all()
    # orders after a click are attributed, almost always to the clicked campaign
    clicked = induced[induced["trigger"].eq("clicked")]
    attributed = built_world.df(
        "select order_id, campaign_id as attributed_campaign_id "
        "from intermediate.int_measurement__order_attributions"
    )
    c = clicked.merge(attributed, on="order_id", how="left")
    assert len(c) >= 5
    assert c["attributed_campaign_id"].notna().mean() > 0.8
    assert (c["attributed_campaign_id"] == c["campaign_id"]).mean() > 0.75


def test_lift_intervals_cover_the_true_effect(built_world, results) -> None:
    """The 1,500-person world has little power (holdouts of a few dozen): coverage, not significance.

    The pooled 95% interval must hold the true pooled effect, and the variants'
    intervals must cover their true effect about as often as they claim. The
    significance of the lift is checked on the 50,000-person world by
    `mailroom score-campaigns` (bench/CAMPAIGNS.md).
    """
    score = campaign_score.score(results, built_world.truth)
    p = score.pooled
    assert p.campaigns >= 30 and p.holdout_recipients > 250
    assert score.true_pooled_conversion_lift > 0.004  # the world has an effect to find
    assert score.pooled_covers_truth, (p, score.true_pooled_conversion_lift)
    assert score.pooled_revenue_covers_truth, (p, score.true_pooled_revenue_per_recipient_lift)
    # the estimate is unbiased enough: within 2.5 standard errors of the truth
    assert abs(p.conversion_lift - score.true_pooled_conversion_lift) < 2.5 * p.conversion_lift_se
    assert score.variant_rows >= 40
    assert score.variant_rows_covered / score.variant_rows >= 0.85
    # the same pooled figure from the SQL analysis
    with using_warehouse(built_world.warehouse):
        columns, rows = runner.run_analysis("campaign_lift", target="dev")
    lift = pd.DataFrame(rows, columns=columns)
    pooled = lift[lift["scope"] == "all_campaigns"].iloc[0]
    assert pooled["conversion_lift"] == pytest.approx(p.conversion_lift, abs=1e-7)
    assert pooled["conversion_lift_ci_low"] == pytest.approx(p.conversion_lift_ci_low, abs=1e-7)
    assert pooled["revenue_per_recipient_lift_ci_high"] == pytest.approx(
        p.revenue_per_recipient_lift_ci_high, abs=1e-5
    )
    assert (lift["scope"] == "variant").sum() == (~results["is_holdout"]).sum()
    assert (lift["scope"] == "campaign").sum() == p.campaigns
    assert not lift.loc[lift["beats_holdout"], "conversion_lift_ci_low"].le(0).any()


def test_variant_interval_matches_newcombe_by_hand(results) -> None:
    """Newcombe's hybrid score interval recomputed from the counts for every variant row."""
    z = campaign_score.z_value(0.95)

    def wilson(x: float, n: float) -> tuple[float, float]:
        p, d = x / n, 1 + z * z / n
        c, h = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
        return c - h, c + h

    holdouts = results[results["is_holdout"]].set_index("campaign_id")
    rows = results[results["conversion_lift"].notna()]
    assert len(rows) > 0
    for r in rows.itertuples():
        h = holdouts.loc[r.campaign_id]
        p1, p0 = r.converted_recipients / r.recipients, h.converted_recipients / h.recipients
        l1, u1 = wilson(r.converted_recipients, r.recipients)
        l0, u0 = wilson(h.converted_recipients, h.recipients)
        low = p1 - p0 - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
        high = p1 - p0 + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
        assert r.conversion_lift_ci_low == pytest.approx(low, abs=2e-8)
        assert r.conversion_lift_ci_high == pytest.approx(high, abs=2e-8)
        assert r.is_significant == (low > 0 or high < 0)


def test_score_campaigns_command(built_world, tmp_path) -> None:
    report = tmp_path / "CAMPAIGNS.md"
    with using_warehouse(built_world.warehouse):
        result = CliRunner().invoke(
            app,
            ["score-campaigns", "--truth-dir", str(built_world.truth), "--report", str(report)],
        )
    assert result.exit_code == 0, result.output
    text = report.read_text()
    assert "conversion lift" in text and "Machine opens" in text
