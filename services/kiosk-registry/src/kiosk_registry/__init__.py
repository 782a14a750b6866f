"""kiosk-registry: the system of record for tenants and the fleet; what dashboards query."""
