from jarvis_common.runner import run
from kiosk_registry.bootstrap import SERVICE


def main() -> None:
    run(SERVICE)


if __name__ == "__main__":
    main()
