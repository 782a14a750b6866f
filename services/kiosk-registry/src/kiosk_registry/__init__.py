"""kiosk-registry: System of record for tenants and the kiosk fleet; the read side dashboards query."""
