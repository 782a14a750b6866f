from jarvis_common.db.migrations import run_alembic_env
from session_gateway.bootstrap import SERVICE

run_alembic_env(SERVICE)
