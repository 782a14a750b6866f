"""Reliable messaging: the transactional outbox, the idempotent consumer, retries and DLQ."""
