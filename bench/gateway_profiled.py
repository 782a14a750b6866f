"""The gateway, run as the service runner runs it, under cProfile: `python -m
bench.gateway_profiled <file.prof>`. SIGUSR2 forgets what was profiled so far (the benchmark sends
it when the sessions start streaming, so set-up is left out); SIGUSR1 writes the profile (uvicorn
re-raises SIGTERM after its shutdown, so nothing written at exit would survive)."""

from __future__ import annotations

import cProfile
import signal
import sys

from jarvis_common.runner import main

if __name__ == "__main__":
    profile_path = sys.argv[1]
    profiler = cProfile.Profile()

    def dump(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(profile_path)
        profiler.enable()

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGUSR2, lambda *_: profiler.clear())
    profiler.enable()
    main(["session-gateway"])
