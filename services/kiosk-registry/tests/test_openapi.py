"""The API is fully described by its OpenAPI document: versioned paths, typed answers, errors."""

from jarvis_common.service import ServiceApp


def test_every_operation_is_versioned_typed_and_documents_its_errors(registry: ServiceApp) -> None:
    spec = registry.http.openapi()
    problems = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            if not path.startswith("/api/v1/"):
                problems.append(f"{where}: not under /api/v1")
            ok = [code for code in op["responses"] if code.startswith("2")]
            if not ok:
                problems.append(f"{where}: no success response")
            for code in ok:
                content = op["responses"][code].get("content", {})
                schema = content.get("application/json", {}).get("schema")
                if code != "204" and not schema:
                    problems.append(f"{where}: {code} has no schema")
            if "422" not in op["responses"] and op.get("parameters") is not None:
                problems.append(f"{where}: validation errors undocumented")
            if not any(code.startswith("4") for code in op["responses"]):
                problems.append(f"{where}: no error documented")
    assert problems == []
    assert spec["components"]["schemas"]["ErrorBody"]["properties"]["error"]
