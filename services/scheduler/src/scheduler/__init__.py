"""scheduler: Publishes schedule.tick for the platform's periodic jobs."""
