"""BuildProgress: dbt's events in, a line per tenth of the build and one per stage out."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from rich.console import Console

from mailroom.build_progress import BuildProgress
from mailroom.stages import path_stage


def event(name: str, **data) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def finished(resource_type, path, name, status="success", start="", end=""):
    info = SimpleNamespace(
        resource_type=resource_type,
        node_path=path,
        node_name=name,
        node_status=status,
        node_started_at=start,
        node_finished_at=end,
    )
    return event("NodeFinished", node_info=info)


def test_a_line_per_tenth_and_one_per_stage() -> None:
    out = io.StringIO()
    progress = BuildProgress(Console(file=out, width=120), live=False)
    progress(event("LogStartLine", total=20, index=1))
    nodes = [finished("seed", "countries.csv", "countries")]
    nodes += [
        finished(
            "model",
            "staging/shop/base_shop__orders.sql",
            "base_shop__orders",
            start="2026-12-07T10:00:00",
            end="2026-12-07T10:00:04",
        ),
        finished(
            "model",
            "staging/web/base_web__events.sql",
            "base_web__events",
            start="2026-12-07T10:00:02",
            end="2026-12-07T10:00:06",
        ),
    ]
    nodes += [finished("test", "not_null.sql", "not_null")] * 5
    nodes += [finished("model", "intermediate/identity/int_identity__records.sql", "x")] * 2
    nodes += [finished("unit_test", "", "case")] * 4
    nodes += [finished("model", "marts/propensity/fct_propensity_scores.py", "y", "error")]
    nodes += [finished("test", "t.sql", "t")] * 5
    for msg in nodes:
        progress(msg)
    progress.finish()
    lines = out.getvalue().splitlines()
    milestones = [line for line in lines if "%" in line]
    assert len(milestones) == 9  # 10%, 20% ... 90%; the last line says done
    assert re.match(r"  \[ 2/20\]  10%  staging  \d+ s", milestones[0]), milestones[0]
    assert "identity" in milestones[5] and "scoring" in milestones[-1]
    done = [line for line in lines if "done" in line]
    assert re.fullmatch(r"  \[20/20\] done, 1 failed in \d+ s", done[0]), done
    stages = [line.split() for line in lines[lines.index(done[0]) + 1 :]]
    assert [s[0] for s in stages] == ["staging", "identity", "scoring"]
    assert stages[0][1:] == ["3", "models", "6.0", "s"]  # 0-4 s and 2-6 s overlap


def test_stages_come_from_the_folders() -> None:
    assert path_stage("staging/shop/base_shop__orders.sql") == "staging"
    assert path_stage("intermediate/identity/int_identity__records.sql") == "identity"
    assert path_stage("marts/activation/fct_content_selections.sql") == "activation"
    assert path_stage("marts/reporting/rpt_identity_quality.sql", "rpt_identity_quality") == (
        "identity"
    )
    assert path_stage("marts/reporting/rpt_campaigns.sql", "rpt_campaigns") is None
