"""The project's structure, read from dbt's manifest: the rules of dbt-project-evaluator.

Each rule names the models that break it. A deliberate exception is written
once, with its reason, in tests/structure_exceptions.yml; a finding without
one fails, and so does an exception that no longer matches anything (the
file says only what is true of the tree).

Layers come from the folders: `models/staging/<source>/base/` (base),
`models/staging/` (staging), `models/intermediate/`, `models/marts/`; Python
models live in `python_models/<layer>/`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mailroom import PROJECT_DIR, runner

EXCEPTIONS = PROJECT_DIR / "tests" / "structure_exceptions.yml"
# dbt-project-evaluator's default thresholds.
MAX_PARENTS = 7  # fct_too_many_joins: models and sources a model selects from
MAX_VIEW_CHAIN = 4  # fct_chained_views_dependencies
MAX_LEAF_CHILDREN = 3  # fct_model_fanout
PREFIXES = {
    "base": ("base_",),
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("fct_", "dim_", "rpt_", "bdg_", "sync_", "metricflow_"),
}


def layer(node: dict) -> str:
    parts = Path(node["original_file_path"]).parts
    if "staging" in parts:
        return "base" if "base" in parts else "staging"
    for name in ("intermediate", "marts"):
        if name in parts:
            return name
    return "other"


class Project:
    """The project's models, their parents and children, from the manifest."""

    def __init__(self, manifest: dict) -> None:
        self.nodes = manifest["nodes"]
        self.sources = manifest.get("sources", {})
        self.models = {
            uid: node
            for uid, node in self.nodes.items()
            if node["resource_type"] == "model" and node["package_name"] == "mailroom"
        }
        self.children: dict[str, set[str]] = defaultdict(set)
        for uid, node in self.nodes.items():
            for parent in node.get("depends_on", {}).get("nodes", []):
                self.children[parent].add(uid)

    def parents(self, uid: str) -> list[str]:
        return self.models[uid]["depends_on"]["nodes"]

    def parent_models(self, uid: str) -> Iterator[dict]:
        for parent in self.parents(uid):
            if parent in self.models:
                yield self.models[parent]

    def tests_of(self, uid: str) -> list[dict]:
        return [
            self.nodes[c]
            for c in self.children[uid]
            if c.startswith("test.") and self.nodes[c].get("attached_node") == uid
        ]


# --------------------------------------------------------------------------- rules
# Each rule yields (model, detail): detail names the parent or says the figure.


def source_outside_staging(p: Project) -> Iterator[tuple[str, str]]:
    """Only staging and base models select from sources."""
    for uid, node in p.models.items():
        if layer(node) not in ("base", "staging"):
            for parent in p.parents(uid):
                if parent.startswith("source."):
                    yield node["name"], parent.split(".", 2)[2]


def staging_reads_downstream(p: Project) -> Iterator[tuple[str, str]]:
    """Base models read sources only; staging models read sources and base models."""
    allowed = {"base": (), "staging": ("base",)}
    for uid, node in p.models.items():
        if layer(node) in allowed:
            for parent in p.parent_models(uid):
                if layer(parent) not in allowed[layer(node)]:
                    yield node["name"], parent["name"]


def base_read_outside_staging(p: Project) -> Iterator[tuple[str, str]]:
    """Base models are read by their staging models only."""
    for uid, node in p.models.items():
        if layer(node) not in ("base", "staging"):
            for parent in p.parent_models(uid):
                if layer(parent) == "base":
                    yield node["name"], parent["name"]


def intermediate_reads_marts(p: Project) -> Iterator[tuple[str, str]]:
    """Intermediate models build on staging and intermediate models, not on marts."""
    for uid, node in p.models.items():
        if layer(node) == "intermediate":
            for parent in p.parent_models(uid):
                if layer(parent) == "marts":
                    yield node["name"], parent["name"]


def too_many_parents(p: Project) -> Iterator[tuple[str, str]]:
    """A model selects from at most MAX_PARENTS models and sources (evaluator: too many joins)."""
    for uid, node in p.models.items():
        count = sum(1 for x in p.parents(uid) if x.startswith(("model.", "source.", "snapshot.")))
        if count > MAX_PARENTS:
            yield node["name"], f"{count} parents"


def view_chain(p: Project) -> Iterator[tuple[str, str]]:
    """At most MAX_VIEW_CHAIN views (or ephemerals) in a row."""
    depth: dict[str, int] = {}

    def chain(uid: str) -> int:
        if uid not in depth:
            node = p.models[uid]
            own = node["config"]["materialized"] in ("view", "ephemeral")
            above = max((chain(x) for x in p.parents(uid) if x in p.models), default=0)
            depth[uid] = above + 1 if own else 0
        return depth[uid]

    for uid, node in p.models.items():
        if chain(uid) > MAX_VIEW_CHAIN:
            yield node["name"], f"{chain(uid)} views"


def fanout(p: Project) -> Iterator[tuple[str, str]]:
    """A model feeds at most MAX_LEAF_CHILDREN models that nothing reads (evaluator: fanout)."""
    for uid, node in p.models.items():
        leaves = [
            c
            for c in p.children[uid]
            if c in p.models and not any(x in p.models for x in p.children[c])
        ]
        if len(leaves) > MAX_LEAF_CHILDREN:
            yield node["name"], f"{len(leaves)} leaf children"


def no_primary_key(p: Project) -> Iterator[tuple[str, str]]:
    """Every model has a key: a column unique (test) and not null (test or contract
    constraint), or a tested unique combination of columns."""
    for uid, node in p.models.items():
        tests = [t for t in p.tests_of(uid) if t.get("test_metadata")]
        names = {(t["test_metadata"]["name"], t.get("column_name")) for t in tests}
        unique = {col for name, col in names if name == "unique"}
        not_null = {col for name, col in names if name == "not_null"} | {
            col
            for col, spec in node["columns"].items()
            if any(c["type"] in ("not_null", "primary_key") for c in spec.get("constraints", []))
        }
        combination = any("unique_combination" in name for name, _ in names)
        if not (unique & not_null or combination):
            yield node["name"], "no key test"


def undocumented(p: Project) -> Iterator[tuple[str, str]]:
    """Every model and every one of its columns has a description."""
    for node in p.models.values():
        if not (node.get("description") or "").strip():
            yield node["name"], "model"
        for col, spec in node["columns"].items():
            if not (spec.get("description") or "").strip():
                yield node["name"], col


def naming(p: Project) -> Iterator[tuple[str, str]]:
    """A model's name starts with its layer's prefix."""
    for node in p.models.values():
        prefixes = PREFIXES.get(layer(node))
        if prefixes is None or not node["name"].startswith(prefixes):
            yield node["name"], layer(node)


def language_folder(p: Project) -> Iterator[tuple[str, str]]:
    """python_models/ holds the Python models, models/ the SQL ones."""
    for node in p.models.values():
        in_python_folder = node["original_file_path"].startswith("python_models/")
        if in_python_folder != (node["language"] == "python"):
            yield node["name"], node["original_file_path"]


RULES = [
    source_outside_staging,
    staging_reads_downstream,
    base_read_outside_staging,
    intermediate_reads_marts,
    too_many_parents,
    view_chain,
    fanout,
    no_primary_key,
    undocumented,
    naming,
    language_folder,
]


def findings(p: Project) -> dict[str, set[tuple[str, str]]]:
    return {rule.__name__: set(rule(p)) for rule in RULES}


def load_exceptions(path: Path = EXCEPTIONS) -> list[dict]:
    entries = yaml.safe_load(path.read_text()) or []
    for entry in entries:
        assert set(entry) <= {"rule", "models", "parents", "reason"}, entry
        assert entry["rule"] in {r.__name__ for r in RULES}, entry["rule"]
        assert len(str(entry.get("reason", "")).split()) >= 8, f"say why: {entry}"
    return entries


def excused(rule: str, finding: tuple[str, str], entries: list[dict]) -> dict | None:
    model, detail = finding
    for entry in entries:
        if (
            entry["rule"] == rule
            and model in entry["models"]
            and ("parents" not in entry or detail in entry["parents"])
        ):
            return entry
    return None


def unexcused_and_stale(
    found: dict[str, set[tuple[str, str]]], entries: list[dict]
) -> tuple[list[str], list[str]]:
    used: set[tuple[int, str]] = set()
    unexcused = []
    for rule, items in found.items():
        for item in sorted(items):
            entry = excused(rule, item, entries)
            if entry is None:
                unexcused.append(f"{rule}: {item[0]} ({item[1]})")
                continue
            index = entries.index(entry)
            used.add((index, item[0]))
            if "parents" in entry:
                used.add((index, f"parent:{item[1]}"))
    stale = []
    for index, entry in enumerate(entries):
        for model in entry["models"]:
            if (index, model) not in used:
                stale.append(f"{entry['rule']}: {model}")
        for parent in entry.get("parents", []):
            if (index, f"parent:{parent}") not in used:
                stale.append(f"{entry['rule']}: parent {parent}")
    return unexcused, stale


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def project(built_world) -> Project:
    return Project(json.loads((runner.target_dir() / "manifest.json").read_text()))


def test_the_tree_follows_the_structure_rules(project: Project) -> None:
    found = findings(project)
    assert len(project.models) >= 100
    unexcused, stale = unexcused_and_stale(found, load_exceptions())
    assert not unexcused, "\n".join(["not in tests/structure_exceptions.yml:", *unexcused])
    assert not stale, "\n".join(["exceptions that match nothing:", *stale])


def test_the_reconciliation_counts_every_raw_table(project: Project) -> None:
    """macro raw_tables, the one list both reconciliation models read, is the contract's tables."""
    contract = {
        f"{node['source_name']}.{node['name']}"
        for node in project.sources.values()
        if node["package_name"] == "mailroom"
    }
    counted = project.parents("model.mailroom.stg_raw__row_counts")
    assert {p.split(".", 2)[2] for p in counted if p.startswith("source.")} == contract
    reconciled = project.parents("model.mailroom.rpt_source_reconciliation")
    assert len([p for p in reconciled if ".base_" in p]) == len(contract)
    assert len([p for p in reconciled if p.endswith("__quarantined_rows")]) == len(
        {name.split(".")[0] for name in contract}
    )


def test_each_yaml_file_is_named_once() -> None:
    """dbt reads every YAML file; a name used twice is a file found by the wrong path."""
    names = Counter(
        path.name
        for folder in ("models", "python_models", "seeds", "snapshots")
        for path in (PROJECT_DIR / folder).rglob("*.yml")
    )
    assert not [name for name, count in names.items() if count > 1]


def _model(name: str, path: str, parents=(), materialized="table", language="sql", **extra):
    return {
        "resource_type": "model",
        "package_name": "mailroom",
        "name": name,
        "original_file_path": path,
        "language": language,
        "config": {"materialized": materialized},
        "description": extra.get("description", "A model."),
        "columns": extra.get("columns", {"id": {"description": "key", "constraints": []}}),
        "depends_on": {"nodes": [f"model.p.{x}" if "." not in x else x for x in parents]},
    }


def _manifest(*models: dict, tests: tuple[dict, ...] = ()) -> dict:
    nodes = {f"model.p.{m['name']}": m for m in models}
    for i, test in enumerate(tests):
        nodes[f"test.p.t{i}"] = test
    return {"nodes": nodes}


def _key_tests(model: str) -> tuple[dict, ...]:
    return tuple(
        {
            "resource_type": "test",
            "package_name": "mailroom",
            "attached_node": f"model.p.{model}",
            "column_name": "id",
            "test_metadata": {"name": name},
            "depends_on": {"nodes": [f"model.p.{model}"]},
        }
        for name in ("unique", "not_null")
    )


def test_each_rule_finds_what_it_describes() -> None:
    """The rules on a hand-made manifest: every rule fires once, on its planted case."""
    views = [
        _model(f"int_v{i}", "models/intermediate/x/v.sql", [f"int_v{i - 1}"] if i else [], "view")
        for i in range(5)
    ]
    models = [
        _model("base_a", "models/staging/a/base/base_a.sql", ["source.p.a.t"]),
        _model("stg_a", "models/staging/a/stg_a.sql", ["base_a"]),
        _model("stg_b", "models/staging/a/stg_b.sql", ["int_v0"]),
        _model("fct_a", "models/marts/a/fct_a.sql", ["stg_a", "base_a", "source.p.a.t"]),
        _model("int_m", "models/intermediate/x/int_m.sql", ["fct_a"]),
        _model(
            "rpt_wide",
            "models/marts/a/rpt_wide.sql",
            [*(f"int_v{i}" for i in range(5)), "stg_a", "fct_a", "int_m"],
        ),
        _model("dim_x", "python_models/marts/a/dim_x.sql"),
        _model("orders", "models/marts/a/orders.sql", description=""),
        *views,
    ]
    fan = [_model(f"fct_leaf{i}", "models/marts/a/leaf.sql", ["stg_a"]) for i in range(4)]
    keyed = [m["name"] for m in [*models, *fan] if m["name"] != "fct_a"]
    tests = tuple(t for name in keyed for t in _key_tests(name))
    project = Project(_manifest(*models, *fan, tests=tests))
    found = findings(project)
    assert found["source_outside_staging"] == {("fct_a", "a.t")}
    assert found["staging_reads_downstream"] == {("stg_b", "int_v0")}
    assert found["base_read_outside_staging"] == {("fct_a", "base_a")}
    assert found["intermediate_reads_marts"] == {("int_m", "fct_a")}
    assert found["too_many_parents"] == {("rpt_wide", "8 parents")}
    assert found["view_chain"] == {("int_v4", "5 views")}
    assert ("stg_a", "5 leaf children") in found["fanout"]
    assert found["no_primary_key"] == {("fct_a", "no key test")}
    assert found["undocumented"] == {("orders", "model")}
    assert found["naming"] == {("orders", "marts")}
    assert found["language_folder"] == {("dim_x", "python_models/marts/a/dim_x.sql")}
    # an exception excuses its own finding only, and one that matches nothing is stale
    entries = [
        {"rule": "naming", "models": ["orders"], "reason": "x " * 8},
        {"rule": "naming", "models": ["gone"], "reason": "x " * 8},
        {"rule": "intermediate_reads_marts", "models": ["int_m"], "parents": ["fct_b"]},
    ]
    unexcused, stale = unexcused_and_stale(found, entries)
    assert "naming: orders (marts)" not in unexcused
    assert "intermediate_reads_marts: int_m (fct_a)" in unexcused
    assert stale == [
        "naming: gone",
        "intermediate_reads_marts: int_m",
        "intermediate_reads_marts: parent fct_b",
    ]
