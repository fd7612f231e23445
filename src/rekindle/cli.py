"""The `rekindle` command: serve, worker, migrate, restore, token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from rekindle.config import get_settings


@click.group()
def main() -> None:
    """Rekindle: restore old photographs."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Start a worker in the background (default: yes when the queue is embedded).",
)
def serve(host: str, port: int, worker: bool | None) -> None:
    """Run the API (and, on the embedded defaults, a worker): nothing else to start.

    SIGINT and SIGTERM both stop the API gracefully and then the worker (and its beat) this
    command started: SIGTERM to the worker, SIGKILL if it is still running after
    `SERVE_WORKER_STOP_SECONDS`."""
    import uvicorn

    from rekindle.logs import configure_logging
    from rekindle.migrate import upgrade
    from rekindle.server import server_config

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    prepare_process()
    prepare_data_dir(settings.data_dir)
    if settings.sqlalchemy_url.startswith("sqlite"):
        upgrade(settings.sqlalchemy_url)
        restrict_data_files(settings.data_dir)
    start_worker = settings.is_embedded_queue if worker is None else worker
    child = None
    if start_worker:
        child = subprocess.Popen([sys.executable, "-m", "rekindle", "worker", "--beat"])
    click.echo(f"Rekindle on http://{host}:{port}  (data: {settings.data_dir})", err=True)
    config = server_config(
        "rekindle.app:create_app",
        settings,
        host=host,
        port=port,
        factory=True,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        # Our handlers (JSON or text, secrets redacted) format uvicorn's lines too; the access
        # line is written by rekindle.api.middleware (with request id, without query strings).
        log_config=None,
        access_log=False,
    )
    # uvicorn handles SIGTERM itself (graceful shutdown), then restores the previous handler and
    # raises the signal again. With the default handler that second SIGTERM killed this process
    # before the `finally` below could stop the worker, which then ran on orphaned.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.Server(config).run()
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child is not None:
            stop_child(child, SERVE_WORKER_STOP_SECONDS)


SERVE_WORKER_STOP_SECONDS = 20
"""How long `serve` waits for its worker's warm shutdown (running tasks finish) before SIGKILL."""


class _Terminated(Exception):
    """Raised by the SIGTERM handler once uvicorn has shut down and re-raised the signal."""


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def stop_child(child: subprocess.Popen[bytes], grace_seconds: float) -> None:
    """SIGTERM `child` (a Celery worker: warm shutdown, its embedded beat included), then SIGKILL
    it if it has not exited within `grace_seconds`."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def prepare_process() -> None:
    """From now on this process (and the worker it starts) creates files 0600 and folders 0700:
    the SQLite databases, the queue, the local store's objects, the beat schedule. Also returns
    large freed buffers (decoded images) to the system at once (`heap`)."""
    from rekindle.heap import return_large_frees_to_os

    os.umask(0o077)
    return_large_frees_to_os()


def prepare_data_dir(path: Path) -> None:
    """Create the data folder readable by its owner only (0700): it holds the SQLite databases,
    the local store's files and `secrets/`. An existing folder is tightened too."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def restrict_data_files(path: Path) -> None:
    """Make the SQLite files in the data folder (databases, journals, WAL) owner-only (0600),
    including those an older version created 0644."""
    for file in path.glob("*.sqlite3*"):
        if file.is_file():
            os.chmod(file, 0o600)


@main.command()
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Threads (default WORKER_CONCURRENCY: remote engines wait on the network).",
)
@click.option(
    "--pool",
    default="threads",
    show_default=True,
    type=click.Choice(["threads", "prefork", "solo"]),
)
@click.option(
    "--beat/--no-beat",
    default=False,
    help="Also run the periodic stuck-attempt sweep (on one worker is enough).",
)
def worker(concurrency: int | None, pool: str, beat: bool) -> None:
    """Run a Celery worker for restorations."""
    from rekindle.imaging.decode import register_heif
    from rekindle.runtime import Runtime
    from rekindle.startup import ConfigurationError, check_worker
    from rekindle.worker import celery_app

    settings = get_settings()
    prepare_process()
    register_heif()
    try:
        check_worker(settings, Runtime(settings).store, sweep=beat)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    argv = [
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--loglevel={settings.log_level}",
        "--queues=rekindle",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        prepare_data_dir(settings.data_dir)
        argv += ["--beat", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    celery_app.worker_main(argv)


@main.command()
def migrate() -> None:
    """Upgrade the database (SQLite or PostgreSQL) to the newest schema."""
    from rekindle.migrate import upgrade

    upgrade(get_settings().sqlalchemy_url)
    click.echo("database is up to date")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file (one input, image extension) or folder.",
)
@click.option("--engine", default=None, help="Engine name (default REKINDLE_ENGINE).")
@click.option("--denoise", default=0.5, show_default=True, type=click.FloatRange(0.0, 1.0))
@click.option("--colorize", is_flag=True, help="Colourise monochrome photos (AI engines).")
@click.option("--prompt", default=None, help="Extra instruction for AI engines.")
@click.option(
    "--mask",
    default=None,
    type=click.Path(path_type=Path),
    help="Damage mask image (white = damaged), any size: scaled to the photo (classic).",
)
@click.option(
    "--split", is_flag=True, help="Each input is a scan of several prints: restore every print."
)
def restore(
    inputs: tuple[Path, ...],
    output: Path,
    engine: str | None,
    denoise: float,
    colorize: bool,
    prompt: str | None,
    mask: Path | None,
    split: bool,
) -> None:
    """Restore image files directly, without a server."""
    from rekindle.restoration.local import restore_files

    settings = get_settings()
    failures = restore_files(
        list(inputs),
        output,
        settings,
        engine=engine or settings.rekindle_engine,
        denoise=denoise,
        colorize=colorize,
        prompt=prompt,
        mask=mask,
        split=split,
        report=lambda line: click.echo(line, err=True),
    )
    if failures:
        sys.exit(1)


@main.command()
@click.argument("scans", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Folder.")
@click.option(
    "--border/--no-border", default=True, show_default=True, help="Keep prints' white borders."
)
def split(scans: tuple[Path, ...], output: Path, border: bool) -> None:
    """Split scans of several prints into one straightened JPEG per print: OUTPUT/{stem}-{n}.jpg."""
    from rekindle.restoration.local import split_files

    failures = split_files(
        list(scans), output, border=border, report=lambda line: click.echo(line, err=True)
    )
    if failures:
        sys.exit(1)


@main.group()
def token() -> None:
    """Bearer tokens from the local issuer."""


@token.command("create")
@click.option("--user", "user_id", required=True, help="The user id (token subject).")
@click.option("--email", default=None)
@click.option("--ttl", default=None, type=int, help="Lifetime in seconds.")
def token_create(user_id: str, email: str | None, ttl: int | None) -> None:
    """Print a bearer token for USER from the local issuer."""
    from rekindle.auth.tokens import TokenVerifier

    settings = get_settings()
    verifier = TokenVerifier(settings)
    if verifier.mode != "local":
        raise click.ClickException(
            "an identity provider is configured (AUTH_JWKS_URL/AUTH_HS256_SECRET): "
            "its tokens are used, not local ones"
        )
    click.echo(verifier.issue_local(user_id, email, ttl or settings.local_token_ttl_seconds))


@main.group()
def users() -> None:
    """Local accounts (email + password), used while no identity provider is configured."""


@users.command("create")
@click.argument("email")
@click.option(
    "--password",
    default=None,
    help="The password (default: asked for, hidden). Judged by zxcvbn: at least 8 characters, and not easy to guess.",
)
def users_create(email: str, password: str | None) -> None:
    """Create a local account for EMAIL that signs in on the built-in page; prints its id."""
    from rekindle.auth.local_accounts import create_local_user
    from rekindle.auth.tokens import TokenVerifier
    from rekindle.db import make_engine, make_sessionmaker, session_scope
    from rekindle.errors import AppError
    from rekindle.migrate import upgrade

    settings = get_settings()
    if TokenVerifier(settings).mode != "local":
        raise click.ClickException(
            "an identity provider is configured: people sign in through it, not with local accounts"
        )
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if settings.sqlalchemy_url.startswith("sqlite"):
        upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            user = create_local_user(session, email, password, settings)
            user_id, user_email = user.id, user.email
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
    click.echo(user_id)
    click.echo(f"created local account {user_email}", err=True)


@main.group(name="credits")
def credits_group() -> None:
    """Credit balances (operator tools; see docs/credits.md)."""


@credits_group.command("grant")
@click.option("--user", "user_id", required=True, help="The user id (token subject).")
@click.option("--amount", required=True, type=click.IntRange(min=1), help="Credits to add.")
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@click.option(
    "--reference",
    default=None,
    help="Idempotency key: a second grant with the same reference changes nothing "
    "(default: a new `admin:{uuid}`).",
)
def credits_grant(user_id: str, amount: int, reason: str, reference: str | None) -> None:
    """Add AMOUNT credits to USER's balance (a `grant` ledger row)."""
    from rekindle.credits.ledger import operator_grant
    from rekindle.db import make_engine, make_sessionmaker, session_scope
    from rekindle.errors import AppError

    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            entry = operator_grant(session, user_id, amount, reason=reason, reference=reference)
            summary = (entry.reference, entry.balance_after) if entry else None
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
    if summary is None:
        click.echo(f"reference {reference} was already applied; nothing changed", err=True)
        return
    click.echo(f"granted {amount} credits to {user_id}: balance {summary[1]} ({summary[0]})")


if __name__ == "__main__":
    main()
