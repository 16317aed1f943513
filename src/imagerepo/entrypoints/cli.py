"""The `imagerepo` command: serve, worker, migrate, create-user, sweep."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Annotated, Any

import attrs
import typer
from dependency_injector import providers

from imagerepo.domain.errors import DomainError
from imagerepo.entrypoints.container import ConfigError, Container, Settings

cli = typer.Typer(help="imagerepo: a private image repository.", no_args_is_help=True, add_completion=False)


def _container(**changes: Any) -> Container:
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        typer.secho(f"configuration error: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        settings = attrs.evolve(settings, **changes)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    return container


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on [env IMAGEREPO_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port [env IMAGEREPO_PORT]")] = None,
    workers: Annotated[
        int | None, typer.Option(help="in-process analysis threads; 0 leaves analysis to `imagerepo worker`")
    ] = None,
) -> None:
    """Serve the web app and API (with in-process analysis workers by default)."""
    import uvicorn

    from imagerepo.entrypoints.app import create_app

    container = _container(host=host, port=port, workers=workers)
    s = container.settings()
    typer.echo(f"imagerepo serving on http://{s.host}:{s.port}  (data: {s.data_dir.resolve()})", err=True)
    uvicorn.run(
        create_app(container), host=s.host, port=s.port, proxy_headers=s.trust_proxy,
        forwarded_allow_ips="*" if s.trust_proxy else None, log_level=s.log_level.lower(),
        server_header=False, access_log=False,
    )


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="analysis threads in this process")] = 2,
) -> None:
    """Run analysis workers as their own process (several may run against one database)."""
    container = _container(workers=concurrency)
    container.init_resources()
    pool = container.worker()
    stop = threading.Event()

    def shutdown(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    pool.start()
    typer.echo(f"imagerepo worker: {concurrency} threads", err=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        pool.stop()
        container.shutdown_resources()


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema, then exit."""
    container = _container()
    container.init_resources()
    container.shutdown_resources()
    typer.echo("database is up to date")


@cli.command("create-user")
def create_user(
    username: str,
    password: Annotated[
        str | None, typer.Option(help="asked for when omitted", envvar="IMAGEREPO_NEW_PASSWORD")
    ] = None,
    quota: Annotated[int | None, typer.Option(help="images this user may hold (default: the deployment's)")] = None,
) -> None:
    """Create an account."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    container = _container(workers=0)
    container.init_resources()
    try:
        account = container.account_service().sign_up(username, password)
        if quota is not None:
            container.account_repository().set_quota_limit(account.id, quota)
    except DomainError as e:
        typer.secho(f"error: {e.message}", fg="red", err=True)
        for field, msgs in e.details.items():
            typer.secho(f"  {field}: {'; '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.shutdown_resources()
    typer.echo(f"created {account.username} ({account.id})")


@cli.command()
def sweep() -> None:
    """Finish interrupted uploads and deletions and remove orphan blobs, once."""
    container = _container(workers=0)
    container.init_resources()
    try:
        report = container.image_service().sweep()
        expired = container.account_service().purge_expired_sessions()
    finally:
        container.shutdown_resources()
    typer.echo(
        f"uploads rolled back: {report.uploads_rolled_back}, deletions finished: {report.deletions_finished}, "
        f"orphan blobs removed: {report.orphan_blobs_removed}, expired sessions removed: {expired}"
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
