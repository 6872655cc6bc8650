"""`python -m emulators.fusebill --port 8701 [--state-file PATH] [--time-scale N] [--environment staging]
[--propagate-modified] [--max-page-index last_index|page_count] [--rate-reset-format naive|offset|alternate]`

Prints one line, `Fusebill emulator (<environment>): http://127.0.0.1:8701/v1`, then serves until
interrupted. Create an account with `POST /_emulator/accounts` and seed it with `POST /_emulator/seed`.
"""
from __future__ import annotations

from emulators.common.server import base_argument_parser, configure_logging, serve_forever
from emulators.fusebill import FusebillEmulatorConfig, create_app, rules

DEFAULT_PORT = 8701


def main(argv: list[str] | None = None) -> None:
    parser = base_argument_parser("Fusebill REST API v1 emulator", DEFAULT_PORT)
    parser.add_argument("--state-file", default=None, help="SQLite file that keeps accounts and records across restarts")
    parser.add_argument("--time-scale", type=float, default=1.0, help="divide rate-limit windows and webhook retry delays by this")
    parser.add_argument("--environment", default="staging", help="environment name shown in the banner (staging, production...)")
    parser.add_argument("--propagate-modified", action="store_true",
                        help="a customer's modifiedTimestamp also moves when its records change (default: off)")
    parser.add_argument("--max-page-index", choices=rules.MAX_PAGE_INDEX_MEANINGS, default=rules.DEFAULT_MAX_PAGE_INDEX,
                        help="what X-MaxPageIndex means")
    parser.add_argument("--rate-reset-format", choices=rules.RATE_RESET_FORMATS, default=rules.DEFAULT_RATE_RESET_FORMAT,
                        help="how X-Rate-Limit-Reset-* timestamps are written")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    config = FusebillEmulatorConfig(state_path=args.state_file, time_scale=args.time_scale, environment_name=args.environment,
                                    propagate_modified=args.propagate_modified, max_page_index=args.max_page_index,
                                    rate_reset_format=args.rate_reset_format)
    app = create_app(config)
    try:
        serve_forever(app, args.host, args.port, f"Fusebill emulator ({config.environment_name}): {{url}}/v1")
    finally:
        app.extensions["fusebill_emulator"].close()


if __name__ == "__main__":
    main()
