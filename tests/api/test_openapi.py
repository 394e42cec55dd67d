"""The OpenAPI description documents every endpoint, its errors and examples."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.store

PUBLIC = {"/health", "/metrics"}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return dict(spec["components"]["schemas"][ref.rsplit("/", 1)[-1]])


def test_every_operation_is_documented(shared: Api) -> None:
    spec = shared.client.get("/openapi.json").json()
    assert shared.client.get("/docs").status_code == 200
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])
    operations = 0
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            operations += 1
            where = f"{method.upper()} {path}"
            assert op.get("description") or op.get("summary"), where
            assert op.get("tags"), where
            if path not in PUBLIC:
                assert {"401", "403", "422"} <= set(op["responses"]), where
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                schema = _resolve(spec, body["schema"])
                assert schema.get("examples") or schema.get("example"), where
    assert operations >= 45


def test_problem_schema_is_published(shared: Api) -> None:
    spec = shared.client.get("/openapi.json").json()
    problem = spec["components"]["schemas"]["Problem"]
    assert {"title", "status", "detail"} <= set(problem["properties"])
