"""The project's YAML files have no repeated keys.

YAML lets a mapping repeat a key and keeps the last value: a second
`config:` of a model silently drops the first (its tags, its contract).
dbt does not complain, so this does.
"""

from __future__ import annotations

import subprocess

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
