"""`python -m emulators.qbo --port 8700 [--state-file PATH] [--time-scale X]`."""
from __future__ import annotations

from emulators.common.server import base_argument_parser, configure_logging, serve_forever

from . import QboEmulatorConfig, create_app


def main(argv: list[str] | None = None) -> None:
    parser = base_argument_parser("Intuit OAuth + QuickBooks Online Accounting API emulator", 8700)
    parser.add_argument("--state-file", default=None, help="SQLite file that keeps the state across restarts (default: in memory)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="run the rate-limit windows this many times faster")
    parser.add_argument("--base-url", default=None, help="public URL to advertise when behind a proxy")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    config = QboEmulatorConfig(state_path=args.state_file, time_scale=args.time_scale, base_url=args.base_url)
    serve_forever(create_app(config), args.host, args.port, "QBO emulator: {url}")


if __name__ == "__main__":
    main()
