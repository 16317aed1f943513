"""The `imagerepo` command: serve, worker, migrate, users, import/export, reanalyze, backfill-metadata,
demo, sweep."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, NoReturn

import attrs
import typer
from dependency_injector import providers
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from imagerepo.domain.errors import DomainError, ServiceUnavailable
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.logs import configure_logging
from imagerepo.entrypoints.presenters import export_record, rfc3339
from imagerepo.entrypoints.settings import ConfigError, Settings, unknown_variables

log = logging.getLogger("imagerepo.cli")

cli = typer.Typer(help="imagerepo: a private image repository.", no_args_is_help=True, add_completion=False)


def _report_config_error(e: ConfigError) -> None:
    typer.secho(f"configuration error: {e}", fg="red", err=True)


def _config_error(e: ConfigError) -> NoReturn:
    _report_config_error(e)
    raise typer.Exit(2) from None


def _check_data_dir(data_dir: Path) -> None:
    """One clear line, not a database driver's traceback, when the data dir cannot be written."""
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = ""
    if not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable (a read-only disk or another user's folder?)"
    if problem:
        typer.secho(f"error: IMAGEREPO_DATA_DIR={data_dir}: {problem}; the database, encrypted files, keys and "
                    "temporary uploads are kept there", fg="red", err=True)
        raise typer.Exit(2)


def _container(**changes: Any) -> Container:
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        _config_error(e)
    for name, likely in unknown_variables().items():
        hint = f" (did you mean {likely}?)" if likely else ""
        typer.secho(f"warning: {name} is not an imagerepo setting and is ignored{hint}", fg="yellow", err=True)
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        settings = attrs.evolve(settings, **changes)
    _check_data_dir(settings.data_dir)
    configure_logging(settings.log_level)
    container = Container()
    container.settings.override(providers.Object(settings))
    return container


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on [env IMAGEREPO_HOST]")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="port [env IMAGEREPO_PORT]")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="in-process analysis threads; 0 leaves analysis to `imagerepo worker`"),
    ] = None,
) -> None:
    """Serve the web app and API (with in-process analysis workers by default)."""
    import uvicorn

    from imagerepo.entrypoints.http.app import create_app

    container = _container(host=host, port=port, workers=workers)
    s = container.settings()
    try:
        container.blob_store()  # the bucket and its region are checked before listening
    except ConfigError as e:
        _config_error(e)
    except ServiceUnavailable as e:
        typer.secho(f"cannot start: {e.message}", fg="red", err=True)
        raise typer.Exit(1) from None
    if s.demo:
        _seed_demo(_container(workers=0), analyze=False)
    typer.echo(f"imagerepo serving on http://{s.host}:{s.port}  (data: {s.data_dir.resolve()})", err=True)
    app = create_app(container)
    log.debug("database %s, blob store %s, analyzer %s, %d analysis threads, %d trusted proxy networks",
              "postgresql" if s.uses_postgres else "sqlite", "s3" if s.uses_s3 else "encrypted files",
              s.analyzer, s.workers, len(s.trusted_proxies))
    uvicorn.run(
        # Forwarded headers are read by the app (client_address.py), from trusted proxies only.
        app, host=s.host, port=s.port, proxy_headers=False, log_level=s.log_level.lower(),
        server_header=False, access_log=False,
    )


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="analysis threads in this process")] = 2,
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
    quota: Annotated[
        int | None, typer.Option(min=0, help="images this user may hold (default: the deployment's)")
    ] = None,
) -> None:
    """Create an account."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    container = _container(workers=0)
    container.init_resources()
    try:
        accounts = container.account_service()
        account = accounts.sign_up(username, password)
        if quota is not None:
            account = accounts.set_quota(account, quota)
    except DomainError as e:
        typer.secho(f"error: {e.message}", fg="red", err=True)
        for field, msgs in e.details.items():
            typer.secho(f"  {field}: {'; '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.shutdown_resources()
    typer.echo(f"created {account.username} ({account.id})")


@cli.command("delete-user")
def delete_user(
    username: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Delete an account with every image, face and token it holds (what its owner's Delete account does)."""
    container = _container(workers=0)
    container.init_resources()
    try:
        account = _account(container, username)
        if not yes:
            typer.confirm(f"Delete {account.username} and every image, face and token of it, for good?", abort=True)
        closed = container.closing_service().close(account, account.username)
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()
    typer.echo(f"deleted {account.username}: {closed.images} image(s), {closed.faces} face(s)")


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


# ------------------------------------------------------------------------------ operator tools


def _fail(e: DomainError) -> NoReturn:
    typer.secho(f"error: {e.message}", fg="red", err=True)
    raise typer.Exit(1) from None


def _account(container: Container, username: str) -> Any:
    try:
        return container.account_service().get_by_username(username)
    except DomainError:
        typer.secho(f"error: no user named {username!r} (see `imagerepo users`)", fg="red", err=True)
        raise typer.Exit(1) from None



def _out() -> Console:
    """stdout; wide enough when piped that ids and paths are not cut short."""
    return Console() if sys.stdout.isatty() else Console(width=200)

class _RateColumn(ProgressColumn):
    """Files per second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- files/s" if speed is None else f"{speed:.1f} files/s", style="progress.data.speed")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _drain(container: Container, console: Console, label: str) -> Counter[str]:
    """Run pending analyses in this process, with a progress bar; returns outcomes by status."""
    service = container.analysis_service()
    pending = service.pending()
    if pending == 0:
        return Counter()
    with _progress(console) as progress:
        task = progress.add_task(label, total=pending)
        return service.drain(on_job=lambda outcome: progress.advance(task))


@cli.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="folder to import, recursively", exists=True, file_okay=False,
                                              dir_okay=True, readable=True, resolve_path=True)],
    user: Annotated[str, typer.Option("--user", "-u", help="the account that will own the images")],
    analyze: Annotated[bool, typer.Option(help="run the analyses in this process when done")] = False,
) -> None:
    """Upload every image under DIRECTORY for a user.

    Non-images are skipped with a reason; identical bytes are stored once; an interrupted run
    (Ctrl-C, a crash, a kill) resumes where it stopped when run again.
    """
    from imagerepo.entrypoints.bulk_import import (
        FAILED,
        IMPORTED,
        SKIPPED,
        STORED,
        Journal,
        import_tree,
        journal_path,
        walk,
    )

    container = _container(workers=0)
    container.init_resources()
    console = Console(stderr=True)
    out = _out()
    interrupted = False
    try:
        account = _account(container, user)
        settings = container.settings()
        journal = Journal(journal_path(settings.data_dir, account))
        files = walk(directory)
        with _progress(console) as progress:
            task = progress.add_task("importing", total=len(files))
            try:
                report = import_tree(
                    container.image_service(), account, directory, journal, max_bytes=settings.max_upload_bytes,
                    on_file=lambda o: progress.advance(task), files=files,
                )
            except KeyboardInterrupt:
                interrupted = True
                report = None
        journal.close()
        if report is None:
            typer.secho("interrupted: run the same command again to resume", fg="yellow", err=True)
            raise typer.Exit(130)
        counts, sizes = report.counts(), report.bytes_by_outcome()
        table = Table(title=f"import of {directory} for {account.username}")
        table.add_column("outcome")
        table.add_column("files", justify="right")
        table.add_column("size", justify="right")
        for name in (IMPORTED, STORED, SKIPPED, FAILED):
            table.add_row(name, str(counts[name]), _size(sizes[name]))
        out.print(table)
        problems = [o for o in report.outcomes if o.outcome in (SKIPPED, FAILED)]
        if problems:
            reasons = Table(title="skipped or failed")
            reasons.add_column("file")
            reasons.add_column("reason")
            for o in problems[:50]:
                reasons.add_row(str(o.path.relative_to(directory)), f"{o.outcome}: {o.reason}")
            if len(problems) > 50:
                reasons.add_row(f"… and {len(problems) - 50} more", "")
            out.print(reasons)
        if report.rolled_back:
            out.print(f"rolled back {report.rolled_back} upload(s) left unfinished by an interrupted run")
        if report.stopped:
            out.print(f"stopped early: {report.stopped}")
        out.print(f"summary: {report.line()}")
        quota = container.image_service().quota(account)
        out.print(f"{account.username} now holds {quota.used} of {quota.limit} images")
        if analyze:
            done = _drain(container, console, "analyzing")
            out.print("analysis: " + (", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "nothing pending"))
        if counts[FAILED]:
            raise typer.Exit(1)
    finally:
        if not interrupted:
            container.shutdown_resources()


@cli.command()
def export(
    directory: Annotated[Path, typer.Argument(help="where to write (created if missing)", file_okay=False,
                                              resolve_path=True)],
    user: Annotated[str, typer.Option("--user", "-u", help="whose images to export")],
) -> None:
    """Write a user's originals to DIRECTORY/originals plus images.json and images.csv of the analysis."""
    container = _container(workers=0)
    container.init_resources()
    console = Console(stderr=True)
    try:
        account = _account(container, user)
        originals = directory / "originals"
        originals.mkdir(parents=True, exist_ok=True)
        service = container.image_service()
        records, used = [], set()
        images = list(service.images_of(account))
        with _progress(console) as progress:
            task = progress.add_task("exporting", total=len(images))
            for image in images:
                name = image.filename or f"{image.id}"
                stem, dot, ext = name.rpartition(".")
                if name.casefold() in used:  # two uploads may share a filename
                    name = f"{stem or ext}-{image.id[:8]}{dot}{ext if stem else ''}"
                used.add(name.casefold())
                data = service.read_original(account, image.id)
                if hashlib.sha256(data).hexdigest() != image.sha256:
                    typer.secho(f"warning: {image.filename} ({image.id}) does not match its checksum", err=True)
                (originals / name).write_bytes(data)
                records.append(export_record(image, f"originals/{name}"))
                progress.advance(task)
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()
    (directory / "images.json").write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", "utf-8")
    with (directory / "images.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "file", "filename", "content_type", "width", "height", "size_bytes", "sha256",
                    "uploaded_at", "status", "analyzer", "description", "tags", "colors", "text", "error"])
        for r in records:
            a = r["analysis"]
            w.writerow([r["id"], r["file"], r["filename"], r["content_type"], r["width"], r["height"],
                        r["size_bytes"], r["sha256"], r["uploaded_at"], a["status"], a["analyzer"],
                        a["description"], ";".join(f"{t['name']}:{t['confidence']}" for t in a["tags"]),
                        ";".join(f"{c['hex']}:{c['fraction']}:{c['name']}" for c in a["colors"]),
                        a["text"], a["error"] or ""])
    typer.echo(f"exported {len(records)} images of {account.username} to {directory}")


@cli.command()
def reanalyze(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="only this user's images (default: everyone's)")
    ] = None,
    wait: Annotated[bool, typer.Option(help="analyze in this process now; --no-wait leaves it to the workers")] = True,
) -> None:
    """Queue every image for analysis again (after an analyzer upgrade, say) and run the queue."""
    container = _container(workers=0)
    container.init_resources()
    console = Console(stderr=True)
    try:
        owners = [_account(container, user)] if user else list(container.account_service().list_accounts())
        queued = container.image_service().reanalyze_all(owners)
        typer.echo(f"queued {queued} images for analysis")
        if wait:
            done = _drain(container, console, "analyzing")
            typer.echo("analysis: " + (", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "nothing to do"))
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()


@cli.command("people-recluster")
def people_recluster(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="only this user's faces (default: everyone who opted in)")
    ] = None,
) -> None:
    """Group the faces of accounts with face recognition on again (what a new image does by itself
    for accounts of up to 2,000 faces). What owners named, merged, moved or hid stays."""
    container = _container(workers=0)
    container.init_resources()
    try:
        owners = [_account(container, user)] if user else list(container.account_service().list_accounts())
        people = container.people_service()
        done = [a for a in owners if a.settings.face_recognition]
        for account in done:
            people.recluster(account)
        typer.echo(f"grouped the faces of {len(done)} account(s)")
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()


@cli.command("backfill-metadata")
def backfill_metadata() -> None:
    """Read capture time, camera and position from the originals of images stored before they were
    kept, and name the places offline. Resumable: run it again after a stop and it goes on."""
    container = _container(workers=0)
    container.init_resources()
    console = Console(stderr=True)
    try:
        accounts = {a.id: a for a in container.account_service().list_accounts()}
        with Progress(TextColumn("{task.description}"), MofNCompleteColumn(), _RateColumn(), console=console) as bar:
            task = bar.add_task("reading metadata", total=None)
            done = container.image_service().backfill_photos(
                accounts.get, progress=lambda n: bar.update(task, completed=n)
            )
        typer.echo(f"read the metadata of {done} images")
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()


@cli.command()
def users() -> None:
    """List accounts with their quota use and API tokens."""
    container = _container(workers=0)
    container.init_resources()
    try:
        images = container.image_service()
        tokens = container.token_service()
        table = Table()
        for col in ("username", "id", "created", "images", "limit", "api tokens"):
            table.add_column(col, justify="right" if col in ("images", "limit", "api tokens") else "left")
        rows = container.account_service().list_accounts()
        for a in rows:
            q = images.quota(a)
            table.add_row(a.username, a.id, rfc3339(a.created_at), str(q.used), str(q.limit),
                          str(len(tokens.list(a))))
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()
    _out().print(table)
    typer.echo(f"{len(rows)} account(s)")


def _seed_demo(container: Container, *, analyze: bool) -> None:
    from imagerepo.entrypoints.demo import DEMO_PASSWORD, DEMO_USERNAME, seed_from_container

    container.init_resources()
    try:
        report = seed_from_container(container)
        state = f"created, password {DEMO_PASSWORD!r}" if report.created else "already there, password unchanged"
        typer.echo(
            f"demo account {DEMO_USERNAME!r} ({state}); "
            f"photos from {report.source}: added {len(report.added)}"
            + (f" ({', '.join(report.added)})" if report.added else "")
            + (f", already there {len(report.already_there)}" if report.already_there else ""),
            err=True,
        )
        if analyze:
            done = _drain(container, Console(stderr=True), "analyzing")
            typer.echo("analysis: " + (", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "nothing to do"),
                       err=True)
    except DomainError as e:
        _fail(e)
    finally:
        container.shutdown_resources()


@cli.command()
def demo(
    analyze: Annotated[bool, typer.Option(help="analyze the photos now rather than when the server runs")] = True,
) -> None:
    """Create the demo account user / userPass with a few sample photos (also done by `serve` when
    IMAGEREPO_DEMO=1). Idempotent; never changes an existing user's password."""
    _seed_demo(_container(workers=0), analyze=analyze)


def main() -> None:
    try:
        cli()
    except ConfigError as e:  # found while a command builds what it needs (a key file, the bucket's region)
        _report_config_error(e)  # outside typer's own handling: typer.Exit would not be caught here
        sys.exit(2)


if __name__ == "__main__":
    main()
