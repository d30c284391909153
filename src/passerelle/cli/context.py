"""What every command shares: the runtime built from the settings, error mapping, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from passerelle.core.errors import (
    Conflict,
    ExternalServiceError,
    InvalidInput,
    NotFound,
    PasserelleError,
)
from passerelle.settings import Settings

if TYPE_CHECKING:
    from passerelle.core.identity import Agency
    from passerelle.core.ports import UnitOfWork
    from passerelle.db.session import Database
    from passerelle.storage.content_store import EncryptedContentStore

R = TypeVar("R")
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_EXTERNAL = 3


def fail(message: str, code: int) -> NoReturn:
    from passerelle.language import say

    click.echo("passerelle: " + say("error: %(message)s", message=message), err=True)
    sys.exit(code)


def exit_code_for(exc: PasserelleError) -> int:
    if isinstance(exc, InvalidInput | NotFound | Conflict):
        return EXIT_BAD_INPUT
    if isinstance(exc, ExternalServiceError):
        return EXIT_EXTERNAL
    return EXIT_FAILURE


class Runtime:
    """What a command needs, built once per invocation from the environment. The database
    and the content store load when first used: a command that needs neither (a scan whose
    index is current) never imports SQLAlchemy."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            from passerelle.db.engine import make_engine
            from passerelle.db.session import Database

            self._database = Database(
                make_engine(self.settings.effective_database_url),
                secret=self.settings.secret_key,
            )
        return self._database

    @property
    def store(self) -> EncryptedContentStore:
        from passerelle.storage.content_store import EncryptedContentStore, derive_content_key

        return EncryptedContentStore(
            self.settings.content_dir, derive_content_key(self.settings.secret_key)
        )

    def write_uow(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that writes (for the services that open their own transactions)."""
        return self.database.unit_of_work(write=True)

    def database_is_current(self) -> bool:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            from passerelle.db.migrate import is_at_head  # Alembic, on this error path only

            return is_at_head(self.database.engine)
        except (OperationalError, ProgrammingError):
            return False

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()


def _runtime() -> Runtime:
    """The invocation's runtime, built from the environment by the first command that needs
    it; bad settings end the command with their message."""
    root = click.get_current_context().find_root()
    if root.obj is None:
        from passerelle.settings import load_settings

        try:
            runtime = Runtime(load_settings())
        except InvalidInput as exc:
            from passerelle.language import error_text, say

            fail(say("bad settings: %(error)s", error=error_text(exc)), EXIT_BAD_INPUT)
        root.obj = runtime
        root.call_on_close(runtime.close)
    return cast(Runtime, root.obj)


def needs_runtime(func: Callable[..., R]) -> Callable[..., R]:
    """Pass the runtime in and turn Passerelle errors into a message and an exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> R:
        obj = _runtime()
        try:
            return func(obj, *args, **kwargs)
        except PasserelleError as exc:
            from passerelle.language import error_text

            fail(error_text(exc), exit_code_for(exc))
        except Exception as exc:
            if not _is_schema_error(exc) or obj.database_is_current():
                raise
            from passerelle.language import say

            fail(say("the database is not set up: run `passerelle db upgrade`"), EXIT_FAILURE)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _is_schema_error(exc: Exception) -> bool:
    """A database error of a missing table or column (SQLAlchemy is loaded if one came)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError | errors.ProgrammingError)


def resolve_agency(uow: UnitOfWork, code: str | None) -> Agency:
    """The agency named, or the only one there is."""
    if code:
        return uow.agencies.get_by_code(code)
    agencies = uow.agencies.list()
    if len(agencies) == 1:
        return agencies[0]
    if not agencies:
        raise InvalidInput("no agency yet: create one with `passerelle agency add`")
    raise InvalidInput("several agencies exist: name one with --agency")


agency_option = click.option(
    "--agency", "agency_code", default=None, help="Agency code (optional when there is only one)."
)
