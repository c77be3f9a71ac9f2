"""The suite's two pytest-xdist workers keep each group of tests together.

conftest.py marks every test with an `xdist_group` (the session world's
users share one group, every other module is its own). pytest-xdist's
`--dist loadgroup` honours the marks by appending `@group` to each node id
in the worker; pytest 9.2 stopped letting it (node ids became read-only),
and the groups silently fell apart: both workers built the session world and
a module's tests met a module-scoped server the other worker had started.
This test fails if that happens again.
"""

import pytest


def test_a_module_stays_on_one_worker(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not running under pytest-xdist --dist loadgroup")
    assert request.node.nodeid.endswith("@test_workers"), request.node.nodeid
