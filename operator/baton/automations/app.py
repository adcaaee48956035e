"""The ``baton automations`` process: list, then watch, then reconcile until stopped.

Everything is listed once before the work queue starts, so no trigger is judged on a
half-filled cache (an absence trigger would otherwise fire for a Deployment whose
Completed runs were not listed yet); the reflectors then keep the copies current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from baton._kube.client import AUTOMATIONS, DEPLOYMENTS, FLOWRUNS, AsyncKubeClient
from baton.automations.controller import AutomationController
from baton.controller import events
from baton.controller.reflector import reflect

logger = logging.getLogger("baton.automations")


async def serve(namespaces: list[str]) -> None:
    """Run until cancelled, watching ``namespaces`` (empty: the whole cluster)."""
    client = AsyncKubeClient()
    recorder = events.Recorder(client)
    controller = AutomationController(client, recorder)
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    feeds = (
        (DEPLOYMENTS, controller.deployment_event),
        (FLOWRUNS, controller.run_event),
        (AUTOMATIONS, controller.automation_event),
    )
    try:
        for kind, handler in feeds:
            for scope in scopes:
                for body in await client.list(kind, scope):
                    handler("ADDED", body)
        tasks = [
            asyncio.create_task(recorder.run(), name="automations-events"),
            asyncio.create_task(controller.queue.run(), name="automations-queue"),
            *(
                asyncio.create_task(
                    reflect(client, kind, "", handler, namespaces=namespaces or None),
                    name=f"automations-{kind.plural}",
                )
                for kind, handler in feeds
            ),
        ]
        logger.info("automations started (namespaces: %s)", ", ".join(namespaces) or "all")
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a loop that stopped is a bug: let it be seen
    finally:
        await recorder.drain(timeout=2.0)
        for task in locals().get("tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await controller.aclose()
        await client.aclose()


def run(*, namespaces: list[str], verbose: bool = False) -> None:
    """The ``baton automations`` command: serve until SIGTERM or Ctrl-C."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def main() -> None:
        task = asyncio.create_task(serve(namespaces))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
