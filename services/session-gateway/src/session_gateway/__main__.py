from jarvis_common.runner import run
from session_gateway.bootstrap import SERVICE


def main() -> None:
    run(SERVICE)


if __name__ == "__main__":
    main()
