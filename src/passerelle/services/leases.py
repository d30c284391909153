"""A worker's lease on a persisted job: the scheduled runner's, or a person's who asked for
the job's work now (a liaison's "sync now"); either keeps the other out while it runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle.core.errors import PasserelleError
from passerelle.core.job import LEASE
from passerelle.core.ports import UnitOfWork


class LeaseLost(PasserelleError):
    """The job's lease ran out and another worker claimed it: this worker stops."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a claimed job, renewed in each short transaction of the job so that
    a long job (many slow pages) keeps it while no transaction stays open."""

    job_id: str
    worker: str

    def renew(self, uow: UnitOfWork) -> None:
        if not uow.jobs.renew(self.job_id, self.worker, datetime.now(UTC) + LEASE):
            raise LeaseLost(f"job {self.job_id} was taken over by another worker")
