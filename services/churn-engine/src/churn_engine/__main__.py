"""`churn-engine` runs the service; `churn-engine train …` and `churn-engine score-csv …` are the
model commands (also `python -m churn_engine …`). See docs/churn.md."""

from __future__ import annotations

import sys

from churn_engine.bootstrap import SERVICE
from jarvis_common.runner import run


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in {"train", "score-csv"}:
        from churn_engine.commands import main as command

        sys.exit(command(sys.argv[1:]))
    run(SERVICE)


if __name__ == "__main__":
    main()
