from gateway_world import make_gateway  # noqa: F401  (the fixture)
