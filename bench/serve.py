"""`python -m bench.serve qbo|fusebill --time-scale S [--limits off]`: one emulator in its own process.

The benchmark runs each emulator in a process of its own (not in the driver's threads), so the
driver's polling never competes with them for one interpreter lock, and their CPU can be measured
apart from the workers'. The first line printed is the base URL. `--limits off` (QBO only) lifts
the emulator's throttles with the testing module's RELAXED_LIMITS, for the worker-cost run; the
Fusebill emulator's limits are per account (`rate_limits` on account creation).
"""
from __future__ import annotations

import argparse
import logging

from emulators.common.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("which", choices=("qbo", "fusebill"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--limits", choices=("on", "off"), default="on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.which == "qbo":
        from emulators.qbo import QboEmulatorConfig, create_app
        from emulators.qbo.testing import RELAXED_LIMITS

        relaxed = RELAXED_LIMITS if args.limits == "off" else {}
        serve_forever(create_app(QboEmulatorConfig(time_scale=args.time_scale, **relaxed)), "127.0.0.1", args.port, "{url}")
    else:
        from emulators.fusebill import FusebillEmulatorConfig, create_app

        app = create_app(FusebillEmulatorConfig(time_scale=args.time_scale))
        try:
            serve_forever(app, "127.0.0.1", args.port, "{url}")
        finally:
            app.extensions["fusebill_emulator"].close()


if __name__ == "__main__":
    main()
