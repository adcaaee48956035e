"""The automations controller: finds each Automation's events and carries out its actions.

What it knows is fed by list-then-watch (``controller.reflector``) of FlowRuns,
Deployments and Automations in its namespaces. Two kinds of work-queue keys:

* ``("automation", ns, name)`` — find the events (``triggers.due_events``), skip those
  the durable record already holds, and do each action not yet done, one at a time;
* ``("notifications", ns, deployment)`` — keep the Automations a Deployment's
  ``spec.notifications`` expands to (``shorthand.expand``) in line with it.

**Delivery rule.** An action's dedupe key is ``<event key>#<action index>``, the event
key naming the run (or Deployment), what happened and when. After an action is done
(or given up on), its key is written to the Automation's ``status.delivered`` before
the next action starts. A restart re-derives the events from the cluster and skips the
recorded keys, so nothing is lost; a kill between a receiver's answer and that status
write repeats that one action once. Retries back off exponentially (1 s, 2 s, 4 s...
capped by ``spec.retry``); while one is pending, ``DeliveryFailing`` is True.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic

from baton._kube.client import AUTOMATIONS, ApiError, NotFound
from baton._kube.gate import REPORT
from baton.automations import actions, senders, shorthand
from baton.automations.actions import Context, TemplateFailed
from baton.automations.senders import Permanent, Retryable
from baton.automations.triggers import Event, due_events
from baton.contract import format_time as stamp
from baton.contract import parse_time
from baton.controller import events
from baton.controller.queue import WorkQueue, utcnow
from baton.resources import TERMINAL_STATES, Deployment
from baton.resources._base import Condition, condition
from baton.resources.automation import (
    DELIVERED_LIMIT,
    RECENT_LIMIT,
    Action,
    Automation,
    AutomationSpec,
)

logger = logging.getLogger("baton.automations")

Key = tuple[str, str]
QueueKey = tuple[str, str, str]
Body = dict[str, Any]

#: How long, and how many, deleted runs are kept for the events they may still owe.
DEPARTED_FOR = timedelta(hours=1)
DEPARTED_LIMIT = 2000

# Event reasons and condition reasons.
DELIVERED = "Delivered"
DELIVERY_RETRYING = "DeliveryRetrying"
DELIVERY_FAILED = "DeliveryFailed"
TEMPLATE_ERROR = "TemplateError"
INVALID_SPEC = "InvalidSpec"
WATCHING = "Watching"
DISABLED = "Disabled"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _key_time(dedupe_key: str) -> datetime | None:
    """The event time inside ``<subject>/<what>@<stamp>#<action>``."""
    try:
        return parse_time(dedupe_key.rsplit("@", 1)[1].split("#", 1)[0])
    except (IndexError, ValueError):
        return None


def prune(
    delivered: list[str], horizon: datetime | None, oldest_open: datetime | None
) -> tuple[list[str], datetime | None]:
    """Keep ``delivered`` within ``DELIVERED_LIMIT`` by moving ``horizon`` forward.

    Keys are dropped oldest first (with every key of the same second) and the horizon
    moves to the dropped keys' event time: those events are then excluded by time
    instead of by key. The horizon never reaches an event still open (some action not
    settled), so none is lost; until it may move, the list grows up to twice the limit.
    """
    if len(delivered) <= DELIVERED_LIMIT:
        return delivered, horizon
    ordered = sorted(delivered, key=lambda k: (_key_time(k) or _EPOCH, k))
    cut = _key_time(ordered[len(ordered) - DELIVERED_LIMIT - 1])
    if cut is None or (oldest_open is not None and cut >= oldest_open):
        return ordered[-2 * DELIVERED_LIMIT :], horizon
    kept = [k for k in ordered if (_key_time(k) or _EPOCH) > cut]
    return kept, cut if horizon is None or cut > horizon else horizon


@dataclass(frozen=True)
class _At:
    generation: int
    now: datetime


@dataclass(frozen=True)
class _Job:
    """One action for one event."""

    event: Event
    index: int
    action: Action

    @property
    def dedupe(self) -> str:
        return f"{self.event.key}#{self.index}"


@dataclass
class _Pending:
    attempts: int
    next_try: datetime
    message: str


@dataclass
class _Book:
    """One Automation's record: what its status durably says, plus retry timers."""

    uid: str
    delivered: list[str]
    horizon: datetime | None
    recent: list[Body]
    delivered_count: int
    failed_count: int
    last_delivery_time: str | None
    conditions: dict[str, Condition]
    template_error: tuple[int, str] | None = None
    last_failure: str | None = None
    pending: dict[str, _Pending] = field(default_factory=dict)
    written: Body | None = None

    def set(self, type_: str, status: str, reason: str, message: str, *, at: _At) -> None:
        """Set one condition (``lastTransitionTime`` moves only when it changes)."""
        wire = condition(
            type_,
            status,
            reason,
            message,
            generation=at.generation,
            previous=self.conditions.get(type_),
            now=at.now,
        )
        self.conditions[type_] = Condition.model_validate(wire)

    def set_delivery_failing(self, at: _At) -> None:
        """True while an action is retrying or the last settled one was given up on."""
        if self.pending:
            last = list(self.pending.values())[-1].message
            message = f"{len(self.pending)} action(s) retrying; last error: {last}"
            self.set("DeliveryFailing", "True", DELIVERY_RETRYING, message[:1000], at=at)
        elif self.last_failure:
            self.set("DeliveryFailing", "True", DELIVERY_FAILED, self.last_failure, at=at)
        else:
            self.set("DeliveryFailing", "False", DELIVERED, "no failures", at=at)

    @classmethod
    def seed(cls, automation: Automation) -> _Book:
        status = automation.status
        template_error = None
        for c in status.conditions:
            if c.type == "Ready" and c.reason == TEMPLATE_ERROR and c.observed_generation:
                template_error = (c.observed_generation, c.message)
        return cls(
            uid=str(automation.metadata.get("uid", "")),
            delivered=list(status.delivered),
            horizon=status.horizon,
            recent=[d.to_wire() for d in status.recent],
            delivered_count=status.delivered_count,
            failed_count=status.failed_count,
            last_delivery_time=stamp(status.last_delivery_time)
            if status.last_delivery_time
            else None,
            conditions={c.type: c for c in status.conditions},
            template_error=template_error,
        )


class AutomationController:
    def __init__(
        self,
        client: Any,
        recorder: events.Recorder,
        *,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 16,
    ) -> None:
        self._client = client
        self._events = recorder
        self._clock = clock
        self.runs: dict[str, dict[str, Body]] = {}
        self.deployments: dict[str, dict[str, Body]] = {}
        self.automations: dict[Key, Body] = {}
        self._books: dict[Key, _Book] = {}
        self._departed: dict[Key, tuple[datetime, Body]] = {}
        self._ctx = Context(kube=client, http=senders.new_http_client())
        self.queue: WorkQueue[QueueKey] = WorkQueue(
            self.reconcile, name="automations", clock=clock, concurrency=concurrency
        )

    async def aclose(self) -> None:
        await self._ctx.http.aclose()

    # -- intake ---------------------------------------------------------------------
    def _mark_namespace(self, namespace: str) -> None:
        for ns, name in list(self.automations):
            if ns == namespace:
                self.queue.mark(("automation", ns, name))

    def run_event(self, event_type: str, body: Body) -> None:
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        runs = self.runs.setdefault(ns, {})
        if event_type == "DELETED":
            runs.pop(name, None)
            # History limits delete finished runs, perhaps before their notification got
            # through a receiver that is down: keep the last copy for a while.
            if (body.get("status") or {}).get("state") in TERMINAL_STATES:
                self._departed[(ns, name)] = (self._clock(), body)
                self._forget_departed()
        else:
            runs[name] = body
            self._departed.pop((ns, name), None)
        self._mark_namespace(ns)

    def _forget_departed(self) -> None:
        cutoff = self._clock() - DEPARTED_FOR
        for key in [k for k, (at, _) in self._departed.items() if at < cutoff]:
            del self._departed[key]
        while len(self._departed) > DEPARTED_LIMIT:
            del self._departed[next(iter(self._departed))]

    def runs_of(self, namespace: str) -> list[Body]:
        """The namespace's runs, with those deleted lately (their events may be owed)."""
        departed = [b for (ns, _), (_, b) in self._departed.items() if ns == namespace]
        return [*self.runs.get(namespace, {}).values(), *departed]

    def deployment_event(self, event_type: str, body: Body) -> None:
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        deployments = self.deployments.setdefault(ns, {})
        old = deployments.get(name)
        if event_type == "DELETED":
            deployments.pop(name, None)
        else:
            deployments[name] = body
        if (
            old is None
            or event_type == "DELETED"
            or (old["metadata"].get("generation") != body["metadata"].get("generation"))
        ):
            self.queue.mark(("notifications", ns, name))
        self._mark_namespace(ns)

    def automation_event(self, event_type: str, body: Body) -> None:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if event_type == "DELETED":
            self.automations.pop(key, None)
            self._books.pop(key, None)
            self.queue.forget(("automation", *key))
            return
        self.automations[key] = body
        self.queue.mark(("automation", *key))
        owner = (body["metadata"].get("labels") or {}).get(shorthand.FROM_DEPLOYMENT)
        if owner:  # someone changed or deleted an expanded Automation: restore it
            self.queue.mark(("notifications", key[0], owner))

    # -- reconcile ------------------------------------------------------------------
    async def reconcile(self, key: QueueKey) -> datetime | None:
        kind, namespace, name = key
        if kind == "notifications":
            await self._expand(namespace, name)
            return None
        return await self._automation((namespace, name))

    async def _expand(self, namespace: str, name: str) -> None:
        body = self.deployments.get(namespace, {}).get(name)
        desired: dict[str, Body] = {}
        uid = ""
        if body is not None:
            try:
                deployment = Deployment.model_validate(body)
            except pydantic.ValidationError:
                return  # the operator reports an invalid spec on the Deployment
            uid = deployment.metadata.get("uid", "")
            desired = shorthand.expand(deployment)
        existing = {
            n: b
            for (ns, n), b in self.automations.items()
            if ns == namespace
            and (b["metadata"].get("labels") or {}).get(shorthand.FROM_DEPLOYMENT) == name[:63]
            and (not uid or shorthand.owned_by(b, uid))
        }
        for auto_name, manifest in desired.items():
            current = existing.get(auto_name)
            try:
                if current is None:
                    created = await self._client.create(AUTOMATIONS, manifest, namespace)
                    self.automation_event("ADDED", created)
                elif AutomationSpec.model_validate(
                    current.get("spec") or {}
                ) != AutomationSpec.model_validate(manifest["spec"]):
                    updated = await self._client.patch(
                        AUTOMATIONS,
                        auto_name,
                        namespace,
                        [{"op": "replace", "path": "/spec", "value": manifest["spec"]}],
                        patch_type="json",
                    )
                    self.automation_event("MODIFIED", updated)
            except pydantic.ValidationError:
                continue
            except ApiError as error:
                if error.status != 409:
                    logger.warning("cannot write Automation %s/%s: %s", namespace, auto_name, error)
        for auto_name in set(existing) - set(desired):
            with contextlib.suppress(NotFound):
                await self._client.delete(AUTOMATIONS, auto_name, namespace)

    def _book(self, key: Key, automation: Automation) -> _Book:
        book = self._books.get(key)
        if book is None or book.uid != automation.metadata.get("uid", ""):
            book = self._books[key] = _Book.seed(automation)
        return book

    async def _automation(self, key: Key) -> datetime | None:
        body = self.automations.get(key)
        if body is None:
            return None
        try:
            automation = Automation.model_validate(body)
        except pydantic.ValidationError as error:
            invalid = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3]
            )
            await self._invalid(key, body, invalid)
            return None
        book = self._book(key, automation)
        now = self._clock()
        at = _At(automation.generation, now)
        problem: str | None = next(
            (p for a in automation.spec.actions if (p := actions.check_templates(a))), None
        )
        if problem is None and book.template_error:
            generation, message = book.template_error
            if generation == automation.generation:
                problem = message
            else:
                book.template_error = None  # the spec changed: try again
        if problem is not None:
            book.set("Ready", "False", TEMPLATE_ERROR, problem, at=at)
            await self._write(key, automation, book)
            return None
        if automation.spec.enabled:
            book.set("Ready", "True", WATCHING, "watching for events", at=at)
        else:
            book.set("Ready", "True", DISABLED, "spec.enabled is false", at=at)
        view = automation.model_copy(
            update={"status": automation.status.model_copy(update={"horizon": book.horizon})}
        )
        due = due_events(view, self.runs_of(key[0]), self.deployments.get(key[0], {}), now)
        wake = due.wake_at
        for event in due.events:
            for index, action in enumerate(automation.spec.actions):
                job = _Job(event, index, action)
                if job.dedupe in book.delivered:
                    continue
                pending = book.pending.get(job.dedupe)
                if pending and pending.next_try > now:
                    wake = pending.next_try if wake is None else min(wake, pending.next_try)
                    continue
                retry_at = await self._attempt(key, automation, book, job)
                if retry_at is not None:
                    wake = retry_at if wake is None else min(wake, retry_at)
                if book.template_error:  # nothing more renders until the spec changes
                    await self._write(key, automation, book)
                    return None
        count = len(automation.spec.actions)
        open_times = [
            e.time
            for e in due.events
            if any(f"{e.key}#{i}" not in book.delivered for i in range(count))
        ]
        book.delivered, book.horizon = prune(
            book.delivered, book.horizon, min(open_times, default=None)
        )
        book.set_delivery_failing(at)
        await self._write(key, automation, book)
        return wake

    async def _attempt(
        self, key: Key, automation: Automation, book: _Book, job: _Job
    ) -> datetime | None:
        """One try of one action; the time of the next try, or None once it is settled."""
        pending = book.pending.get(job.dedupe)
        attempts = (pending.attempts if pending else 0) + 1
        what = f"{job.action.kind} for {job.event.key}"
        try:
            message = await actions.perform(self._ctx, automation, job.action, job.event)
        except TemplateFailed as error:
            book.template_error = (automation.generation, str(error))
            at = _At(automation.generation, self._clock())
            book.set("Ready", "False", TEMPLATE_ERROR, str(error), at=at)
            self._settle(book, job, attempts, "Failed", str(error))
            self._events.record(
                automation.metadata, TEMPLATE_ERROR, str(error), kind="Automation", warning=True
            )
            return None
        except (Permanent, Retryable) as error:
            if isinstance(error, Retryable) and attempts < automation.spec.retry.max_attempts:
                return self._retry_later(automation, book, job, attempts, str(error))
            self._settle(book, job, attempts, "Failed", str(error))
            book.last_failure = f"{what}: {error}"[:1000]
            self._events.record(
                automation.metadata,
                DELIVERY_FAILED,
                f"gave up on {what} after {attempts} attempt(s): {error}",
                kind="Automation",
                warning=True,
            )
            await self._write(key, automation, book)
            return None
        except Exception as error:  # a bug must cost one retry, never the loop
            logger.exception("automation %s/%s: %s failed", *key, what)
            return self._retry_later(automation, book, job, attempts, f"internal error: {error}")
        self._settle(book, job, attempts, "Delivered", message)
        self._events.record(automation.metadata, DELIVERED, f"{what}: {message}", kind="Automation")
        # Durable before the next action starts: a restart must not repeat this one.
        await self._write(key, automation, book)
        return None

    def _retry_later(
        self, automation: Automation, book: _Book, job: _Job, attempts: int, error: str
    ) -> datetime:
        backoff = min(2.0 ** (attempts - 1), float(automation.spec.retry.max_backoff_seconds))
        next_try = self._clock() + timedelta(seconds=backoff)
        book.pending[job.dedupe] = _Pending(attempts, next_try, error)
        if attempts == 1:
            self._events.record(
                automation.metadata,
                DELIVERY_RETRYING,
                f"{job.action.kind} for {job.event.key} failed, retrying with backoff: {error}",
                kind="Automation",
                warning=True,
            )
        self._note(
            book,
            {
                "key": job.event.key,
                "action": job.index,
                "kind": job.action.kind,
                "outcome": "Retrying",
                "attempts": attempts,
                "time": stamp(self._clock()),
                "message": error[:300],
            },
        )
        return next_try

    def _settle(self, book: _Book, job: _Job, attempts: int, outcome: str, message: str) -> None:
        """Record ``job`` as done (Delivered) or given up on (Failed)."""
        book.pending.pop(job.dedupe, None)
        book.delivered.append(job.dedupe)
        now = self._clock()
        entry: Body = {
            "key": job.event.key,
            "action": job.index,
            "kind": job.action.kind,
            "outcome": outcome,
            "attempts": attempts,
            "time": stamp(now),
            "message": message[:300],
        }
        if outcome == "Delivered":
            book.last_failure = None
            book.delivered_count += 1
            book.last_delivery_time = stamp(now)
            entry["latencySeconds"] = round(max(0.0, (now - job.event.time).total_seconds()), 3)
        else:
            book.failed_count += 1
        self._note(book, entry)

    @staticmethod
    def _note(book: _Book, entry: Body) -> None:
        book.recent = [
            entry,
            *(
                r
                for r in book.recent
                if (r.get("key"), r.get("action")) != (entry["key"], entry["action"])
            ),
        ][:RECENT_LIMIT]

    async def _write(self, key: Key, automation: Automation, book: _Book) -> None:
        status: Body = {
            "observedGeneration": automation.generation,
            "conditions": [c.to_wire() for c in book.conditions.values()],
            "delivered": list(book.delivered),
            "horizon": stamp(book.horizon) if book.horizon else None,
            "recent": list(book.recent),
            "deliveredCount": book.delivered_count,
            "failedCount": book.failed_count,
            "lastDeliveryTime": book.last_delivery_time,
        }
        if status == book.written:
            return
        try:
            await self._client.patch_status(
                AUTOMATIONS, key[1], key[0], {"status": status}, priority=REPORT
            )
        except NotFound:
            return
        book.written = status

    async def _invalid(self, key: Key, body: Body, problem: str) -> None:
        ready: Body = next(
            (
                c
                for c in (body.get("status") or {}).get("conditions") or []
                if c.get("type") == "Ready"
            ),
            {},
        )
        if (ready.get("reason"), ready.get("message")) == (INVALID_SPEC, problem):
            return
        generation = body["metadata"].get("generation")
        self._events.record(
            body["metadata"], INVALID_SPEC, problem, kind="Automation", warning=True
        )
        try:
            await self._client.patch_status(
                AUTOMATIONS,
                key[1],
                key[0],
                {
                    "status": {
                        "observedGeneration": generation,
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "False",
                                "reason": INVALID_SPEC,
                                "message": problem[:1000],
                                "observedGeneration": generation,
                                "lastTransitionTime": stamp(self._clock()),
                            }
                        ],
                    }
                },
            )
        except ApiError as error:
            logger.warning("cannot write status of Automation %s/%s: %s", *key, error)
