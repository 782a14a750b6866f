"""The dev runner: embedded PostgreSQL and Kafka-compatible broker, then every service."""
