"""churn-engine: Member activity, churn risk scores and churn alerts."""
