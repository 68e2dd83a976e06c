"""The tables. Metrics are long form (one row per run, key and step); a summary row per (run, key)
keeps listings fast without touching the metrics table.

Every constraint has a name (the naming convention below), timestamps are stored in UTC, and a
non-finite metric is stored as NULL plus a flag so NaN and ±inf come back as they went in.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index,
                        Integer, LargeBinary, MetaData, PrimaryKeyConstraint, SmallInteger, String,
                        Text, UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("queued", "running", "completed", "cancelled", "failed", "crashed")
FINAL_STATUSES = ("completed", "cancelled", "failed", "crashed")

# metrics.flag / metric_summary.last_flag: how a value that is not a finite float was stored.
FLAG_FINITE, FLAG_NAN, FLAG_POS_INF, FLAG_NEG_INF = 0, 1, 2, 3


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware UTC datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Experiment(Base):
    """A named group of runs (a sweep, a lesson, a question being asked)."""

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("name", name="uq_experiments_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="experiment id")
    name: Mapped[str] = mapped_column(String(200), doc="unique name, e.g. 'xor-sweep'")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, doc="when it was created (UTC)")
    description: Mapped[str] = mapped_column(Text, default="", doc="free text")


class Run(Base):
    """One training run: what was asked (spec, params) and how it went (status, timestamps)."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'completed', 'cancelled', 'failed', 'crashed')",
                        name="status"),
        Index("ix_runs_status_created_at", "status", "created_at"),
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_experiment_id", "experiment_id"),
        # Partial: only running runs (heartbeats never touch it), so the crash check on every listing stays tiny.
        Index("ix_runs_running", "id", sqlite_where=text("status = 'running'"),
              postgresql_where=text("status = 'running'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="run id")
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL"), nullable=True, doc="experiments.id, or NULL")
    name: Mapped[str] = mapped_column(String(200), default="", doc="display name (may be empty)")
    status: Mapped[str] = mapped_column(
        String(16), default="queued", doc="queued, running, completed, cancelled, failed or crashed")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, doc="when it was queued (UTC)")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, doc="when training began")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, doc="when it stopped")
    heartbeat_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="last sign of life from the training process")
    seed: Mapped[int] = mapped_column(Integer, default=0, doc="the run's random seed")
    model: Mapped[str] = mapped_column(String(100), default="", doc="model family, e.g. 'mlp'")
    dataset: Mapped[str] = mapped_column(String(100), default="", doc="data set name, e.g. 'digits'")
    spec: Mapped[str] = mapped_column(Text, default="{}", doc="the full experiment spec as JSON text")
    notes: Mapped[str] = mapped_column(Text, default="", doc="the user's notes")
    error: Mapped[str | None] = mapped_column(Text, nullable=True, doc="traceback or reason when failed/crashed")
    engine_version: Mapped[str] = mapped_column(String(50), default="", doc="engine version that trained it")
    diverged: Mapped[bool] = mapped_column(Boolean, default=False, doc="true once any metric was NaN or ±inf")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, doc="Cancel was pressed")
    epochs_planned: Mapped[int] = mapped_column(Integer, default=0, doc="epochs the spec asks for")
    epochs_done: Mapped[int] = mapped_column(Integer, default=0, doc="highest epoch logged")
    num_params: Mapped[int | None] = mapped_column(BigInteger, nullable=True, doc="trainable parameter count")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="process id of the trainer")
    host: Mapped[str] = mapped_column(String(255), default="", doc="host name of the trainer")
    # checkpoints (issue 17): the BLAS threads it trained with, and where a fork branched off
    threads: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="BLAS threads it trained with")
    parent_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, doc="runs.id this run was forked from, or NULL")
    fork_epoch: Mapped[int | None] = mapped_column(
        Integer, nullable=True, doc="a fork: the parent's epoch it started from (steps up to it are inherited)")
    worker: Mapped[str] = mapped_column(String(255), default="", server_default="",
                                        doc="worker that trained it: an nnlab worker's name, or host:pid")


class RunTag(Base):
    """A label on a run; a run has any number of distinct tags."""

    __tablename__ = "run_tags"
    __table_args__ = (PrimaryKeyConstraint("run_id", "tag", name="pk_run_tags"), Index("ix_run_tags_tag", "tag"),
                      {"sqlite_with_rowid": False})

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    tag: Mapped[str] = mapped_column(String(100), doc="the tag text")


class Param(Base):
    """One hyperparameter of a run, as text (for grouping) and as a number when it is one (for ranges)."""

    __tablename__ = "params"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "name", name="pk_params"),
        Index("ix_params_name_value_text", "name", "value_text"),
        Index("ix_params_name_value_num", "name", "value_num"),
        {"sqlite_with_rowid": False},  # SQLite: rows clustered by (run_id, name)
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    name: Mapped[str] = mapped_column(String(100), doc="parameter name, e.g. 'lr'")
    value_text: Mapped[str] = mapped_column(Text, doc="the value as text: 'relu', '0.1', 'true', '[64, 32]'")
    value_num: Mapped[float | None] = mapped_column(Float, nullable=True, doc="the value when numeric (bools 0/1)")
    value_type: Mapped[str] = mapped_column(String(8), doc="str, int, float, bool, null or json: restores the type")


class Metric(Base):
    """One value of one metric at one step (epoch). Long form: (run_id, key, step) is unique."""

    __tablename__ = "metrics"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "key", "step", name="pk_metrics"),
        CheckConstraint("flag IN (0, 1, 2, 3)", name="flag"),
        {"sqlite_with_rowid": False},  # SQLite: rows clustered by (run_id, key, step), no second copy
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    key: Mapped[str] = mapped_column(String(100), doc="metric name, e.g. 'val_loss'")
    step: Mapped[int] = mapped_column(Integer, doc="epoch number (1-based)")
    value: Mapped[float | None] = mapped_column(Float, nullable=True, doc="the value; NULL when not finite")
    flag: Mapped[int] = mapped_column(SmallInteger, default=0, doc="0 finite, 1 NaN, 2 +inf, 3 -inf")


class MetricSummary(Base):
    """Latest and best value of each metric of each run, kept up to date by every log_epoch."""

    __tablename__ = "metric_summary"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "key", name="pk_metric_summary"),
        Index("ix_metric_summary_key_best_value", "key", "best_value"),
        Index("ix_metric_summary_key_last_value", "key", "last_value"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    key: Mapped[str] = mapped_column(String(100), doc="metric name")
    last_value: Mapped[float | None] = mapped_column(
        Float, nullable=True, doc="value at the highest step (NULL if not finite)")
    last_step: Mapped[int] = mapped_column(Integer, doc="highest step logged")
    last_flag: Mapped[int] = mapped_column(
        SmallInteger, default=0, doc="flag of the last value (0 finite, 1 NaN, 2 +inf, 3 -inf)")
    best_value: Mapped[float | None] = mapped_column(
        Float, nullable=True, doc="min for keys ending in 'loss', max otherwise; finite values only")
    best_step: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="step of the best value")
    nonfinite_count: Mapped[int] = mapped_column(Integer, default=0, doc="how many values were NaN or ±inf")


class MetricSeries(Base):
    """A packed copy of one finished series (written when the run ends); the metrics table stays the truth."""

    __tablename__ = "metric_series"
    # A rowid table on SQLite: a row (about 12 bytes per point) fits a table leaf page, where WITHOUT
    # ROWID (an index b-tree) would put the part of every row past about 1 KB in an overflow page of its own.
    __table_args__ = (PrimaryKeyConstraint("run_id", "key", name="pk_metric_series"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    key: Mapped[str] = mapped_column(String(100), doc="metric name")
    n: Mapped[int] = mapped_column(Integer, doc="number of points")
    steps: Mapped[bytes] = mapped_column(LargeBinary, doc="the steps, ascending: n int32, little-endian")
    vals: Mapped[bytes] = mapped_column(
        LargeBinary, doc="the values: n float64, little-endian, NaN and ±inf as IEEE values")


class Snapshot(Base):
    """An array or JSON value captured at an epoch (weights, activations, gradients) for inspection views."""

    __tablename__ = "snapshots"
    __table_args__ = (
        # Its leading columns (run_id, kind, epoch) also serve as the lookup index.
        UniqueConstraint("run_id", "kind", "epoch", "name", name="uq_snapshots_run_id_kind_epoch_name"),
        CheckConstraint("encoding IN ('npy', 'json')", name="encoding"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="snapshot id")
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    epoch: Mapped[int] = mapped_column(Integer, doc="epoch it was taken at")
    kind: Mapped[str] = mapped_column(String(50), doc="what it is: 'weights', 'activations', 'grads', ...")
    name: Mapped[str] = mapped_column(String(200), doc="which one, e.g. a dotted parameter name")
    shape: Mapped[str] = mapped_column(Text, default="[]", doc="array shape as JSON ('[]' for JSON values)")
    dtype: Mapped[str] = mapped_column(String(20), default="", doc="stored NumPy dtype ('' for JSON)")
    encoding: Mapped[str] = mapped_column(String(8), doc="'npy' (NumPy .npy bytes) or 'json' (UTF-8 JSON)")
    data: Mapped[bytes] = mapped_column(LargeBinary, doc="the encoded bytes")
    nbytes: Mapped[int] = mapped_column(Integer, doc="len(data)")


class ExperimentRun(Base):
    """A run that belongs to an experiment besides its own: a lesson or an ablation that reused it."""

    __tablename__ = "experiment_runs"
    __table_args__ = (
        PrimaryKeyConstraint("experiment_id", "run_id", name="pk_experiment_runs"),
        Index("ix_experiment_runs_run_id", "run_id"),
        {"sqlite_with_rowid": False},
    )

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"),
                                               doc="experiments.id")
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")


EVENT_KINDS = ("divergence", "plateau", "overfitting")


class Event(Base):
    """Something a learner should notice in a run's curves: divergence, a plateau, the onset of overfitting."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("run_id", "kind", "epoch", name="uq_events_run_id_kind_epoch"),
        CheckConstraint("kind IN ('divergence', 'plateau', 'overfitting')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="event id")
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    epoch: Mapped[int] = mapped_column(Integer, doc="the epoch the event is marked at")
    kind: Mapped[str] = mapped_column(String(20), doc="divergence, plateau or overfitting")
    message: Mapped[str] = mapped_column(Text, doc="a one-line explanation for a learner")


class Checkpoint(Base):
    """A run's full training state at the end of an epoch (engine/checkpoint.py's format), to resume or fork."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "epoch", name="uq_checkpoints_run_id_epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="checkpoint id")
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="runs.id")
    epoch: Mapped[int] = mapped_column(Integer, doc="epochs completed when it was taken")
    version: Mapped[int] = mapped_column(Integer, doc="checkpoint format version (engine/checkpoint.py)")
    nbytes: Mapped[int] = mapped_column(BigInteger, doc="len(data)")
    data: Mapped[bytes] = mapped_column(LargeBinary, doc="the encoded training state (a ZIP archive)")


class Lock(Base):
    """Rows locked with SELECT ... FOR UPDATE to serialise claimers of the run queue on PostgreSQL."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True, doc="lock name ('claim_next_run')")


CLAIM_LOCK = "claim_next_run"
