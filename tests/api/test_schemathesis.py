"""Property-based check of the whole API against its own OpenAPI description (schemathesis).

Bounded: a few generated requests per operation, with the admin key, on the small test
graph. It looks for server errors and for responses that break the documented schema,
status codes or content types.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ADMIN_KEY, Api

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.store, pytest.mark.slow]

#: Generated requests per operation; with about 45 operations this stays under a minute.
EXAMPLES = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_api_matches_its_openapi(shared: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", shared.client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": ADMIN_KEY}, checks=CHECKS)

        try:
            check()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # schemathesis' FailureGroup is a BaseExceptionGroup
            failures.append(f"{operation.method.upper()} {operation.path}: {str(e)[:1500]}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
