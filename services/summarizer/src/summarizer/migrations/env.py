from jarvis_common.db.migrations import run_alembic_env
from summarizer.bootstrap import SERVICE

run_alembic_env(SERVICE)
