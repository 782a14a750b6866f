from churn_engine.bootstrap import SERVICE
from jarvis_common.runner import run


def main() -> None:
    run(SERVICE)


if __name__ == "__main__":
    main()
