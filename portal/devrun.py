"""`make run`: the whole product on one machine, on embedded defaults, with demo data.

Starts, as child processes, whatever is not configured to be elsewhere:
- a private Redis (when REDIS_URL is unset), installing `redis-server` with apt if it is missing;
- the Intuit OAuth + QBO emulator (when no Intuit client id is configured);
- two Fusebill emulators, staging and production (when FUSEBILL_*_URL are unset), the staging one
  loaded with representative sample data;
- a local SMTP sink (when no SMTP server is configured), whose caught mails /dev/mail shows;
then migrates the database, seeds the demo account and users, and starts the portal (gunicorn) and
one RQ worker (with the scheduler). Ctrl-C stops everything it started.

This module is the one place besides portal.settings that reads the process environment: it has to,
to hand the children the configuration it chose for them.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from portal.settings import Settings, SettingsError

REDIS_PORT = 6399
QBO_PORT = 8700
FUSEBILL_STAGING_PORT = 8701
FUSEBILL_PRODUCTION_PORT = 8702
DEMO_FUSEBILL_CUSTOMERS = 60
DEMO_FUSEBILL_SEED = 20261125


class StartupError(RuntimeError):
    pass


@dataclass
class Supervisor:
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
        stdout = open(log, "ab") if log else None  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.STDOUT if stdout else None)
        self.children.append((name, process))
        return process

    def stop_all(self) -> None:
        for _name, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for _name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                return name, code
        return None


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _require_port(host: str, port: int, what: str, setting: str) -> None:
    if not _port_free(host, port):
        raise StartupError(f"port {port} on {host} is already in use, so {what} cannot start there. "
                           f"Stop whatever uses it, or set {setting}.")


def _wait_http(url: str, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise StartupError(f"{what} did not answer at {url} within {seconds:.0f} s")


def _wait_port(host: str, port: int, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise StartupError(f"{what} did not start on {host}:{port}")


def _post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _ensure_redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary:
        return binary
    if os.geteuid() != 0:
        raise StartupError("redis-server is not installed. Install it (sudo apt-get install -y redis-server) or set REDIS_URL.")
    print("installing redis-server with apt-get …", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    binary = shutil.which("redis-server")
    if not binary:
        raise StartupError("redis-server could not be installed; set REDIS_URL to a running Redis")
    return binary


def _seed_demo_emulators(env: dict[str, str], instance: Path) -> dict[str, str]:
    """First start only: a Fusebill staging account full of sample data, and QBO sandbox companies."""
    state_file = instance / "demo-emulators.json"
    if state_file.is_file():
        return json.loads(state_file.read_text())
    demo: dict[str, str] = {}
    staging = env.get("FUSEBILL_STAGING_URL", "")
    if staging.startswith(f"http://127.0.0.1:{FUSEBILL_STAGING_PORT}"):
        root = staging.rsplit("/v1", 1)[0]
        print(f"loading {DEMO_FUSEBILL_CUSTOMERS} sample customers into the Fusebill staging emulator …", flush=True)
        key = _post_json(root + "/_emulator/accounts", {"name": "Northwind Subscriptions (staging)", "account_type": "sandbox"})["api_key"]
        _post_json(root + "/_emulator/seed", {"api_key": key, "customers": DEMO_FUSEBILL_CUSTOMERS, "seed": DEMO_FUSEBILL_SEED})
        demo["fusebill_staging_api_key"] = key
    production = env.get("FUSEBILL_PRODUCTION_URL", "")
    if production.startswith(f"http://127.0.0.1:{FUSEBILL_PRODUCTION_PORT}"):
        root = production.rsplit("/v1", 1)[0]
        key = _post_json(root + "/_emulator/accounts", {"name": "Northwind Subscriptions (production)", "account_type": "live"})["api_key"]
        _post_json(root + "/_emulator/seed", {"api_key": key, "customers": DEMO_FUSEBILL_CUSTOMERS, "seed": DEMO_FUSEBILL_SEED + 1})
        demo["fusebill_production_api_key"] = key
    qbo = env.get("QBO_EMULATOR_URL", "")
    if qbo.startswith(f"http://127.0.0.1:{QBO_PORT}"):
        _post_json(qbo + "/_emulator/companies", {"name": "Northwind Sandbox Company (US)", "country": "US", "home_currency": "USD"})
        _post_json(qbo + "/_emulator/companies",
                   {"name": "Northwind Sandbox Company (Canada)", "country": "CA", "home_currency": "CAD", "tax": "codes", "multicurrency": True})
        _post_json(qbo + "/_emulator/companies", {"name": "Northwind Production Company", "country": "US", "home_currency": "USD", "multicurrency": True})
    state_file.write_text(json.dumps(demo))
    return demo


def _register_demo_webhooks(app, settings: Settings, emulated: set[str], registered: set[str]) -> None:
    """`make run` only: point the local Fusebill emulators' webhooks at the portal, once an
    environment has its Fusebill key saved — what an admin does by hand in real Fusebill (the
    Environments page shows the URL and key). Registrations live in the emulator's state file, so a
    restart finds them and registers nothing twice."""
    from sqlalchemy import select

    from portal.extensions import database, service_context
    from portal.models import Environment
    from portal.services.webhooks import webhook_secrets

    with app.app_context():
        ctx = service_context()
        with database().session_scope() as session:
            todo = []
            for environment in session.scalars(select(Environment).where(Environment.fusebill_api_key_ciphertext.is_not(None))):
                api_url = settings.fusebill_url(environment.kind)
                if api_url not in emulated:
                    continue
                secret = webhook_secrets(session, ctx, environment)
                if secret is None:  # never: it is made when missing
                    continue
                url = secret.url(settings.base_url)
                if url not in registered:
                    todo.append((api_url.removesuffix("/v1"), ctx.vault.decrypt(environment.fusebill_api_key_ciphertext), url, secret.key))
        database().dispose()
    for root, api_key, url, key in todo:
        try:
            with urllib.request.urlopen(f"{root}/_emulator/webhooks?api_key={urllib.parse.quote(api_key)}", timeout=10) as response:
                known = {hook["url"] for hook in json.loads(response.read())["webhooks"]}
            if url not in known:
                _post_json(root + "/_emulator/webhooks", {"api_key": api_key, "url": url, "key": key})
                print(f"  Fusebill emulator webhooks now go to {url.split('/webhooks/')[0]}/webhooks/fusebill/… (changes reach QuickBooks in seconds)",
                      flush=True)
            registered.add(url)
        except (OSError, ValueError, KeyError) as error:  # an emulator not ready, or a key it does not know: try again later
            print(f"  could not register the demo webhook yet: {error}", file=sys.stderr, flush=True)


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    instance = settings.instance_path
    instance.mkdir(parents=True, exist_ok=True)
    logs = instance / "logs"
    logs.mkdir(exist_ok=True)
    env = dict(os.environ)
    python = sys.executable
    supervisor = Supervisor()

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Also when started from a shell that ignores SIGINT for background jobs: Ctrl-C must stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mail_sink = None
    try:
        started: list[str] = []
        if not os.environ.get("REDIS_URL"):
            binary = _ensure_redis_server()
            _require_port("127.0.0.1", REDIS_PORT, "the demo Redis", "REDIS_URL")
            (instance / "redis").mkdir(exist_ok=True)
            supervisor.start("redis", [binary, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--dir", str(instance / "redis"),
                                       "--save", "60 1", "--appendonly", "no"], env, logs / "redis.log")
            _wait_port("127.0.0.1", REDIS_PORT, "redis-server")
            env["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
            started.append(f"{'Redis':<21}redis://127.0.0.1:{REDIS_PORT}/0 (private, data in {instance / 'redis'})")

        if not settings.uses_real_intuit:
            qbo_url = urlparse(settings.qbo_emulator_url)
            _require_port(qbo_url.hostname or "127.0.0.1", qbo_url.port or QBO_PORT, "the QuickBooks emulator", "QBO_EMULATOR_URL")
            supervisor.start("qbo-emulator", [python, "-m", "emulators.qbo", "--host", qbo_url.hostname or "127.0.0.1",
                                              "--port", str(qbo_url.port or QBO_PORT), "--state-file", str(instance / "qbo-emulator.db")],
                             env, logs / "qbo-emulator.log")
            _wait_http(settings.qbo_emulator_url + "/.well-known/openid_configuration", "the QuickBooks emulator")
            # The emulator speaks plain http on loopback; requests-oauthlib refuses that unless told.
            env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
            env["QBO_EMULATOR_URL"] = settings.qbo_emulator_url
            started.append(f"{'QBO emulator':<21}{settings.qbo_emulator_url}  (Intuit OAuth + QuickBooks Online API)")

        for name, variable, port in (("staging", "FUSEBILL_STAGING_URL", FUSEBILL_STAGING_PORT),
                                     ("production", "FUSEBILL_PRODUCTION_URL", FUSEBILL_PRODUCTION_PORT)):
            if os.environ.get(variable):
                continue
            _require_port("127.0.0.1", port, f"the Fusebill {name} emulator", variable)
            supervisor.start(f"fusebill-{name}", [python, "-m", "emulators.fusebill", "--port", str(port), "--environment", name,
                                                  "--state-file", str(instance / f"fusebill-{name}.db")], env, logs / f"fusebill-{name}.log")
            env[variable] = f"http://127.0.0.1:{port}/v1"
            _wait_http(f"http://127.0.0.1:{port}/v1/customers", f"the Fusebill {name} emulator")
            started.append(f"{'Fusebill ' + name:<21}{env[variable]}  (emulator)")

        if settings.smtp is None and settings.env == "development":
            # Notifications go through real SMTP to a sink in this process; the portal shows them at /dev/mail.
            from portal.devmail.sink import mail_folder, start_sink

            mail_sink = start_sink(mail_folder(instance))
            env["SMTP_URL"] = f"smtp://127.0.0.1:{mail_sink.port}"
            started.append(f"{'Mail sink':<21}{env['SMTP_URL']}  (caught mails: {settings.base_url}/dev/mail)")

        run_settings = Settings.from_env(env)
        from portal import create_app
        from portal.cli import DEMO_ADMIN, DEMO_SUPPORT, seed_demo
        from portal.extensions import database
        from portal.migrate import upgrade

        app = create_app(run_settings)
        with app.app_context():
            with database().engine.connect() as connection:
                upgrade(connection=connection)
                connection.commit()
            with database().session_scope() as session:
                seed_demo(session)
            database().dispose()
        demo = _seed_demo_emulators(env, instance)

        base = urlparse(run_settings.base_url)
        host, port = base.hostname or "127.0.0.1", base.port or 5000
        _require_port(host, port, "the portal", "PORTAL_BASE_URL")
        supervisor.start("portal", [python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", "2", "--threads", "4",
                                    # its control socket inside ./instance/, never another gunicorn's
                                    "--control-socket", str(instance / "gunicorn.ctl"),
                                    "--access-logfile", str(logs / "portal-access.log"), "wsgi:app"], env, logs / "portal.log")
        supervisor.start("worker", [python, "-m", "jobs.worker"], env, logs / "worker.log")
        _wait_http(run_settings.base_url + "/healthz", "the portal")

        print("\n  Fusebill → QuickBooks Online portal is running\n")
        print(f"  {'Open':<21}{run_settings.base_url}")
        print(f"  {'Account admin':<21}{DEMO_ADMIN['email']}  /  {DEMO_ADMIN['password']}")
        print(f"  {'Support staff':<21}{DEMO_SUPPORT['email']}  /  {DEMO_SUPPORT['password']}")
        if demo.get("fusebill_staging_api_key"):
            print(f"  Fusebill staging API key (sandbox environment):    {demo['fusebill_staging_api_key']}")
        if demo.get("fusebill_production_api_key"):
            print(f"  Fusebill production API key (production environment): {demo['fusebill_production_api_key']}")
        for line in started:
            print(f"  {line}")
        print(f"  {'Worker':<21}one RQ worker with the scheduler · logs in {logs}")
        print("\n  The demo account starts with the integration disabled: sign in as the admin, request it,")
        print("  then sign in as support and enable it. Back as the admin, walk the set-up (connect the QuickBooks")
        print("  emulator's sandbox company, choose ledgers, paste the Fusebill staging API key above, save the")
        print("  settings) and press Sync now: the worker syncs the sample customers and the run page shows")
        print("  its progress. Once a Fusebill key is saved, the Fusebill emulator's webhooks are pointed at the")
        print("  portal (a change made in the emulator reaches QuickBooks in seconds). Ctrl-C stops everything.\n", flush=True)

        emulated = {env[variable] for variable, default_port in (("FUSEBILL_STAGING_URL", FUSEBILL_STAGING_PORT),
                                                                 ("FUSEBILL_PRODUCTION_URL", FUSEBILL_PRODUCTION_PORT))
                    if env.get(variable) == f"http://127.0.0.1:{default_port}/v1" and not os.environ.get(variable)}
        registered: set[str] = set()
        next_check = 0.0
        while True:
            if emulated and time.monotonic() >= next_check:
                _register_demo_webhooks(app, run_settings, emulated, registered)
                next_check = time.monotonic() + 3
            exited = supervisor.first_exited()
            if exited:
                name, code = exited
                print(f"{name} stopped (exit code {code}); see {logs} — stopping everything", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
        return 0
    except StartupError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()
        if mail_sink is not None:
            mail_sink.stop()


if __name__ == "__main__":
    sys.exit(main())
