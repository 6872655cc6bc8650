"""`python -m emulators.fusebill --port 8701 [--state-file PATH] [--time-scale N] [--environment staging]`

Prints one line, `Fusebill emulator (<environment>): http://127.0.0.1:8701/v1`, then serves until
interrupted. Create an account with `POST /_emulator/accounts` and seed it with `POST /_emulator/seed`.
"""
from __future__ import annotations

from emulators.common.server import base_argument_parser, configure_logging, serve_forever
from emulators.fusebill import FusebillEmulatorConfig, create_app

DEFAULT_PORT = 8701


def main(argv: list[str] | None = None) -> None:
    parser = base_argument_parser("Fusebill REST API v1 emulator", DEFAULT_PORT)
    parser.add_argument("--state-file", default=None, help="SQLite file that keeps accounts and records across restarts")
    parser.add_argument("--time-scale", type=float, default=1.0, help="divide rate-limit windows and webhook retry delays by this")
    parser.add_argument("--environment", default="staging", help="environment name shown in the banner (staging, production...)")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    config = FusebillEmulatorConfig(state_path=args.state_file, time_scale=args.time_scale, environment_name=args.environment)
    app = create_app(config)
    try:
        serve_forever(app, args.host, args.port, f"Fusebill emulator ({config.environment_name}): {{url}}/v1")
    finally:
        app.extensions["fusebill_emulator"].close()


if __name__ == "__main__":
    main()
