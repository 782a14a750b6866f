"""The registry's REST API, `/api/v1`: one router per family of resources."""
