from churn_engine.bootstrap import SERVICE
from jarvis_common.db.migrations import run_alembic_env

run_alembic_env(SERVICE)
