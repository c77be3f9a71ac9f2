"""The stages of a build (staging, identity, features, training, scoring,
activation): which stage a dbt node belongs to, and how long each took.

One home for the mapping: `mailroom bench` reports time per stage with it, and
`mailroom build` shows its progress by stage with it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

STAGES = ("staging", "identity", "features", "training", "scoring", "activation", "other")
# models/<layer>/<folder>/... -> stage
FOLDER_STAGES = {
    "staging": "staging",
    "identity": "identity",
    "privacy": "identity",
    "customers": "features",
    "segments": "features",
    "commerce": "features",
    "engagement": "features",
    "propensity": "scoring",
    "activation": "activation",
    "sync": "activation",
    "measurement": "activation",
    "serving": "activation",
}
NAME_STAGES = {
    "rpt_source_reconciliation": "staging",
    "rpt_identity_quality": "identity",
    "segment_history": "features",
}


def node_stage(node: dict, nodes: dict) -> str:
    """The pipeline stage of a manifest node (tests: the stage of the model they test)."""
    if node["resource_type"] in ("test", "unit_test"):
        parents = [nodes[p] for p in node.get("depends_on", {}).get("nodes", []) if p in nodes]
        models = [p for p in parents if p["resource_type"] in ("model", "snapshot", "seed")]
        return node_stage(models[0], nodes) if models else "other"
    if "training" in node.get("tags", []):
        return "training"
    if node["resource_type"] == "seed":
        return "staging"
    parts = Path(node.get("original_file_path", "")).parts
    return path_stage(str(Path(*parts[1:])) if len(parts) > 1 else "", node["name"]) or "other"


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the (start, end) intervals."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def span(started_at: str | None, finished_at: str | None) -> tuple[float, float] | None:
    """(start, end) in epoch seconds from dbt's ISO timestamps (run results and
    live events); None when either is missing or unreadable."""
    try:
        return (
            dt.datetime.fromisoformat(started_at.rstrip("Z")).timestamp(),
            dt.datetime.fromisoformat(finished_at.rstrip("Z")).timestamp(),
        )
    except (AttributeError, TypeError, ValueError):
        return None


def stage_times(run_results: dict, manifest: dict) -> dict[str, dict[str, float]]:
    """Per stage: wall seconds (union of node intervals), node seconds (summed) and nodes."""
    nodes = {**manifest["nodes"], **manifest.get("unit_tests", {})}
    spans: dict[str, list[tuple[float, float]]] = {}
    busy: dict[str, float] = {}
    count: dict[str, int] = {}
    for result in run_results["results"]:
        node = nodes.get(result["unique_id"])
        if node is None:
            continue
        stage = node_stage(node, nodes)
        times = [
            t for t in (span(x.get("started_at"), x.get("completed_at"))
                        for x in result.get("timing", [])) if t
        ]  # fmt: skip
        if times:
            spans.setdefault(stage, []).append((min(t[0] for t in times), max(t[1] for t in times)))
        busy[stage] = busy.get(stage, 0.0) + float(result.get("execution_time") or 0.0)
        count[stage] = count.get(stage, 0) + 1
    return {
        stage: {
            "wall_seconds": round(union_seconds(spans.get(stage, [])), 1),
            "node_seconds": round(busy.get(stage, 0.0), 1),
            "nodes": count.get(stage, 0),
        }
        for stage in STAGES
        if stage in count
    }


def path_stage(node_path: str, name: str = "") -> str | None:
    """The stage of a model, seed or snapshot from its path under its project
    folder (`staging/shop/base_shop__orders.sql`); None when the path says
    nothing (dbt's live events carry the path, not the tags)."""
    if name in NAME_STAGES:
        return NAME_STAGES[name]
    for part in Path(node_path).parts[:-1]:
        if part in FOLDER_STAGES:
            return FOLDER_STAGES[part]
    return None
