"""The project's YAML files have no repeated keys and no property dbt deprecates.

YAML lets a mapping repeat a key and keeps the last value: a second
`config:` of a model silently drops the first (its tags, its contract).
dbt does not complain, so this does.

dbt 1.11 wants `meta`, `tags` (of columns too) and a source's `loaded_at_field`
under `config:`; written as top-level properties, each is a
`PropertyMovedToConfigDeprecation` warning. dbt only checks this on some adapters
(Snowflake, BigQuery, Databricks, Redshift: `mailroom check-snowflake`), not on
DuckDB, so a plain `dbt parse` here would not notice one coming back; these
tests read the YAML instead (no dbt run).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from mailroom import PROJECT_DIR


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with a repeated key."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"repeated key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _tracked_yaml() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "*.yml", "*.yaml"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in out.stdout.splitlines() if line]


def test_no_yaml_file_repeats_a_key() -> None:
    files = _tracked_yaml()
    assert len(files) > 20
    problems = []
    for name in files:
        try:
            yaml.load((PROJECT_DIR / name).read_text(), Loader=_StrictLoader)
        except yaml.YAMLError as error:
            problems.append(f"{name}: {error}")
    assert not problems, "\n".join(problems)


def test_the_strict_loader_catches_a_repeated_key() -> None:
    text = "models:\n  - name: m\n    config: {tags: [training]}\n    config: {}\n"
    try:
        yaml.load(text, Loader=_StrictLoader)
    except yaml.constructor.ConstructorError as error:
        assert "repeated key 'config'" in str(error)
    else:
        raise AssertionError("a repeated key was accepted")


# The folders of dbt property files (model-paths, seed-, snapshot-, test- and analysis-paths).
_PROPERTY_DIRS = ("models", "python_models", "seeds", "snapshots", "tests/dbt", "analyses")

# Properties dbt 1.11 reads from `config:`; as top-level keys they are deprecated.
_COLUMN_CONFIG = {"meta", "tags"}
_SOURCE_CONFIG = {"meta", "tags", "loaded_at_field", "loaded_at_query", "freshness", "enabled"}
_NODE_CONFIG = {"meta", "tags", "docs", "enabled", "group", "access", "materialized"}


def _property_files() -> list[Path]:
    """Every YAML file of the dbt property folders, tracked or not yet."""
    return sorted(
        path
        for folder in _PROPERTY_DIRS
        for pattern in ("*.yml", "*.yaml")
        for path in (PROJECT_DIR / folder).rglob(pattern)
    )


def _misplaced_properties(doc: object) -> Iterator[str]:
    """`where: key` for every property written beside `config:` instead of in it."""
    if not isinstance(doc, dict):
        return

    def check(where: str, entry: object, keys: set[str]) -> Iterator[str]:
        if isinstance(entry, dict):
            for key in sorted(keys & set(entry)):
                yield f"{where}: {key}"

    def columns(where: str, entry: object) -> Iterator[str]:
        if isinstance(entry, dict):
            for j, column in enumerate(entry.get("columns") or []):
                yield from check(f"{where}.columns[{j}]", column, _COLUMN_CONFIG)

    for i, source in enumerate(doc.get("sources") or []):
        yield from check(f"sources[{i}]", source, _SOURCE_CONFIG)
        for j, table in enumerate((source or {}).get("tables") or []):
            yield from check(f"sources[{i}].tables[{j}]", table, _SOURCE_CONFIG)
            yield from columns(f"sources[{i}].tables[{j}]", table)
    for kind in ("models", "seeds", "snapshots", "analyses"):
        for i, node in enumerate(doc.get(kind) or []):
            yield from check(f"{kind}[{i}]", node, _NODE_CONFIG)
            yield from columns(f"{kind}[{i}]", node)
            for j, version in enumerate((node or {}).get("versions") or []):
                yield from columns(f"{kind}[{i}].versions[{j}]", version)


def _schema_deprecations(doc: object) -> Iterator[str]:
    """What dbt's own property schema flags as deprecated, as dbt 1.11 reads it.

    dbt warns for a key its JSON schema does not allow: a property moved to config,
    a custom key in an object or at the top level (`additionalProperties`), and a
    custom key in a `config:` (the same, under the `anyOf` of a config). Like dbt,
    it lets a metric's `type_params` be (dbt-core still reads them; the schema,
    shared with dbt Fusion, has no such key).
    """
    from dbt.jsonschemas.jsonschemas import CustomDraft7Validator, resources_schema

    def where(error) -> str:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        return path[1:] or "(top level)"

    def keys(error) -> list[str]:
        return [k.strip("'") for k in re.findall(r"'\S+'", error.message)]

    for error in CustomDraft7Validator(resources_schema()).iter_errors(doc):
        if error.validator == "additionalProperties":
            for key in keys(error):
                if key != "type_params":
                    yield f"{where(error)}: {key}"
        elif error.validator == "anyOf" and error.path and error.path[-1] == "config":
            for sub in error.context or []:
                if sub.validator == "additionalProperties":
                    for key in keys(sub):
                        yield f"{where(error)}: {key} (not a config)"


def test_no_property_dbt_wants_in_config_is_written_beside_it() -> None:
    """A column's `tags`/`meta`, a source's `meta`/`loaded_at_field`, ... go under `config:`."""
    files = _property_files()
    assert len(files) > 20
    problems = [
        f"{path.relative_to(PROJECT_DIR)}: {found} (move it under `config:`)"
        for path in files
        for found in _misplaced_properties(yaml.safe_load(path.read_text()))
    ]
    assert not problems, "\n".join(problems)


def test_no_yaml_file_has_a_property_dbt_deprecates() -> None:
    """No file breaks dbt's property schema where dbt 1.11 warns (on Snowflake, say)."""
    problems = [
        f"{path.relative_to(PROJECT_DIR)}: {found}"
        for path in _property_files()
        for found in _schema_deprecations(yaml.safe_load(path.read_text()))
    ]
    assert not problems, "\n".join(problems)


def test_the_property_checks_catch_a_property_beside_config() -> None:
    text = """
models:
  - name: m
    columns:
      - name: email
        tags: [pii]
      - name: phone
        config: {tags: [pii]}
sources:
  - name: s
    loaded_at_field: _loaded_at
    tables:
      - name: t
        meta: {primary_key: id}
        columns:
          - name: id
            meta: {required: true}
"""
    doc = yaml.safe_load(text)
    assert list(_misplaced_properties(doc)) == [
        "sources[0]: loaded_at_field",
        "sources[0].tables[0]: meta",
        "sources[0].tables[0].columns[0]: meta",
        "models[0].columns[0]: tags",
    ]
    assert sorted(_schema_deprecations(doc)) == sorted(_misplaced_properties(doc))


def test_duckdb_memory_limit_has_one_default() -> None:
    """profiles.yml's DuckDB memory_limit default is the one mailroom.warehouse uses."""
    from mailroom.warehouse import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_VAR

    text = (PROJECT_DIR / "profiles.yml").read_text()
    limits = [line.strip() for line in text.splitlines() if "memory_limit:" in line]
    assert len(limits) >= 2
    expected = (
        f"memory_limit: \"{{{{ env_var('{MEMORY_LIMIT_VAR}', '{DEFAULT_MEMORY_LIMIT}') }}}}\""
    )
    assert all(line == expected for line in limits), limits
    assert int(DEFAULT_MEMORY_LIMIT.rstrip("%")) <= 50  # room for the Python models and the OS
