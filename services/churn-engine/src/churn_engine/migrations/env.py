from jarvis_common.db.migrations import run_alembic_env

from churn_engine.bootstrap import SERVICE

run_alembic_env(SERVICE)
