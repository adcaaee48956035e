"""Flow definitions: the ``@flow`` decorator and ``Flow[P, R]``, as in ``prefect.flows``.

A ``Flow`` is the entry point of a workflow: the function a Deployment runs, with
its retry, timeout, parameter-validation and hook settings. Running it is
``baton._engine.flow_engine.run_flow``'s job; this module only describes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, overload

from baton._engine.callables import CallSpec, hook_list, render_run_name, takes_parameters
from baton._engine.flow_engine import run_flow, run_flow_async
from baton._engine.inputs import wait_for_upstream
from baton._engine.names import generate_slug
from baton._engine.task_runner import TaskRunner, ThreadPoolTaskRunner
from baton.exceptions import ParameterTypeError
from baton.parameters import needs_validation, parameter_schema, validate_parameters

if TYPE_CHECKING:
    from datetime import timedelta

    from baton._engine.context import FlowRun
    from baton.states import State

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

__all__ = ["Flow", "flow"]

FlowHook = Callable[["Flow[..., Any]", "FlowRun", "State[Any]"], object]
_BANNED_NAME_CHARACTERS = frozenset("/%&><")


class Flow(Generic[P, R]):
    """A function whose calls are flow runs: validated, retried, timed and logged.

    Create flows with ``@flow``; the options are documented there.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        version: str | None = None,
        flow_run_name: str | Callable[..., str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: float | None = None,
        task_runner: TaskRunner | None = None,
        description: str | None = None,
        timeout_seconds: float | None = None,
        validate_parameters: bool = True,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        cache_result_in_memory: bool = True,
        log_prints: bool | None = None,
        on_completion: FlowHook | Iterable[FlowHook] | None = None,
        on_failure: FlowHook | Iterable[FlowHook] | None = None,
        on_cancellation: FlowHook | Iterable[FlowHook] | None = None,
        on_crashed: FlowHook | Iterable[FlowHook] | None = None,
        on_running: FlowHook | Iterable[FlowHook] | None = None,
    ) -> None:
        given = dict(locals())
        if not callable(fn):
            raise TypeError("'fn' must be callable")
        self._options = {k: v for k, v in given.items() if k not in ("self", "fn")}
        self.fn = fn
        if inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"{fn!r} is an async generator; Baton's flows cannot be async generators "
                "(docs/compatibility.md)."
            )
        self.isasync = inspect.iscoroutinefunction(fn)
        fn_name = getattr(fn, "__name__", type(fn).__name__)
        self.name: str = name or fn_name.replace("_", "-").replace("<lambda>", "unknown-lambda")
        if _BANNED_NAME_CHARACTERS & set(self.name):
            raise ValueError(
                f"Flow name {self.name!r} contains an invalid character; "
                f"it must not contain any of {sorted(_BANNED_NAME_CHARACTERS)}."
            )
        self.version = version
        self.description = description or inspect.getdoc(fn)
        self.flow_run_name = flow_run_name
        self._run_name_takes_parameters = takes_parameters(flow_run_name)
        self.retries = retries or 0
        if retry_delay_seconds is not None and retry_delay_seconds < 0:
            raise ValueError("`retry_delay_seconds` must be >= 0.")
        self.retry_delay_seconds: float = retry_delay_seconds or 0
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("`timeout_seconds` must be > 0.")
        self.timeout_seconds = float(timeout_seconds) if timeout_seconds else None
        self.task_runner: TaskRunner = task_runner or ThreadPoolTaskRunner()
        self.should_validate_parameters = validate_parameters
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.cache_result_in_memory = cache_result_in_memory
        self.log_prints = log_prints
        self.on_completion_hooks: list[FlowHook] = hook_list(on_completion)
        self.on_failure_hooks: list[FlowHook] = hook_list(on_failure)
        self.on_cancellation_hooks: list[FlowHook] = hook_list(on_cancellation)
        self.on_crashed_hooks: list[FlowHook] = hook_list(on_crashed)
        self.on_running_hooks: list[FlowHook] = hook_list(on_running)
        self._spec = CallSpec(fn)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = fn_name
        self.__wrapped__ = fn

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the flow's parameters (see ``baton.parameters``)."""
        return parameter_schema(self.fn)

    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce parameters as a run would, before the body runs.

        As Prefect's: validates whatever the flow's ``validate_parameters`` option
        says (the option only tells a run whether to call this), and returns every
        parameter of the signature, defaults filled in.

        Returns:
            The parameters, coerced, with defaults for those not given.

        Raises:
            ParameterTypeError: A required parameter is missing, or a value is invalid.
            SignatureMismatchError: An unknown parameter name.
        """
        self.check_required_parameters(parameters)
        # Defaults are the author's own values, not input: they are passed through
        # unvalidated (``def f(limit: int = None)`` is common and must still run).
        defaults = self._spec.defaults
        given = {
            name: value
            for name, value in parameters.items()
            if name not in defaults or value is not defaults[name]
        }
        if given and needs_validation(self.fn, given):
            parameters = {**parameters, **validate_parameters(self.fn, given)}
        if all(name in parameters for name in defaults):
            return parameters
        return self._spec.bind_ordered(parameters)

    def check_required_parameters(self, parameters: dict[str, Any]) -> None:
        """Raise ``ParameterTypeError`` naming each required parameter not given."""
        missing = [name for name in self._spec.required if name not in parameters]
        if missing:
            raise ParameterTypeError(
                "Flow run received invalid parameters:\n - "
                + "\n - ".join(f"{name}: Field required" for name in missing)
            )

    def call_arguments(self, parameters: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn parameters into ``(args, kwargs)`` for the function."""
        return self._spec.call_arguments(parameters)

    def render_run_name(self, parameters: dict[str, Any]) -> str:
        """Return the run name: the ``flow_run_name`` template, else ``adjective-animal``."""
        template = self.flow_run_name
        if template is None:
            return generate_slug()
        return render_run_name(
            template, parameters, self._run_name_takes_parameters, "flow_run_name"
        )

    @overload
    def __call__(
        self: Flow[P, Coroutine[Any, Any, T]],
        *args: Any,
        return_state: Literal[True],
        **kwargs: Any,
    ) -> Coroutine[Any, Any, State[T]]: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State[R]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[False], **kwargs: Any) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow (a subflow, inside another flow) and return its result.

        ``return_state=True`` returns the final ``State`` instead of raising on
        failure. An ``async def`` flow returns a coroutine: ``asyncio.run(my_flow())``,
        or ``await`` it inside another async flow.
        """
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        parameters = self._spec.bind(args, kwargs)
        if self.isasync:
            return self._call_async(parameters, wait_for, return_state)
        if wait_for:
            wait_for_upstream(wait_for)
        state = run_flow(self, parameters)
        return state if return_state else state._result()

    async def _call_async(
        self, parameters: dict[str, Any], wait_for: Iterable[Any] | None, return_state: bool
    ) -> Any:
        if wait_for:
            wait_for_upstream(wait_for)
        state = await run_flow_async(self, parameters)
        return state if return_state else state._result()

    def with_options(self, **options: Any) -> Flow[P, R]:
        """Return a copy of the flow with some options changed (``@flow``'s keywords).

        Raises:
            TypeError: An unknown option.
        """
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(f"Unknown flow option(s): {', '.join(sorted(unknown))}")
        return Flow(self.fn, **{**self._options, **options})

    def serve(
        self,
        name: str | None = None,
        *,
        cron: str | None = None,
        interval: float | str | timedelta | None = None,
        rrule: str | None = None,
        timezone: str | None = None,
        parameters: dict[str, Any] | None = None,
        pool: str | None = None,
        namespace: str | None = None,
        limit: int | None = None,
        description: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
    ) -> None:
        """Deploy this flow and run its scheduled runs in this process until interrupted.

        As Prefect's ``flow.serve``: writes a Flow, a Deployment and a process WorkPool
        (default name ``<name>-serve``) to the cluster, then runs a worker for that pool
        here. The entrypoint is this flow's file relative to the current directory, which
        is also where runs execute. The Baton operator must be running in the cluster.

        Args:
            name: The Deployment's name (default: the flow's name).
            cron: A cron schedule (with ``timezone``). Give at most one of cron,
                ``interval`` (seconds, a timedelta, or ``"90s"``/``"1h30m"``) and ``rrule``.
            parameters: Default parameters of every run.
            pool: Serve this existing (or new) process pool instead of ``<name>-serve``.
            namespace: Target namespace (default: the kubeconfig context's).
            limit: Most runs executing at once (default: no limit).

        Raises:
            DeployError: Invalid names or parameters. ScheduleError: An invalid schedule.
        """
        from baton.deploy import serve  # noqa: PLC0415 - keeps `import baton` light

        serve(
            self,
            name,
            cron=cron,
            interval=interval,
            rrule=rrule,
            timezone=timezone,
            parameters=parameters,
            pool=pool,
            namespace=namespace,
            limit=limit,
            description=description,
            kubeconfig=kubeconfig,
            context=context,
        )

    def deploy(
        self,
        name: str,
        *,
        work_pool_name: str = "default",
        image: str | None = None,
        cron: str | None = None,
        interval: float | str | timedelta | None = None,
        rrule: str | None = None,
        timezone: str | None = None,
        parameters: dict[str, Any] | None = None,
        namespace: str | None = None,
        entrypoint: str | None = None,
        work_pool_type: str | None = None,
        description: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        blocks: list[str] | None = None,
    ) -> str:
        """Write this flow's Flow and Deployment resources to the cluster (no worker).

        Args:
            name: The Deployment's name.
            work_pool_name: The WorkPool its runs execute in.
            image: The container image holding Baton and this flow's code (required
                unless ``work_pool_type="process"``).
            entrypoint: ``path/file.py:func`` inside the image (default: this flow's
                file relative to the current directory).
            work_pool_type: Also create or update the WorkPool with this type.
            blocks: ``<type-slug>/<name>`` of the blocks its runs may load (Flow
                ``spec.blocks``; the operator mounts them into the run's pod).

        Returns:
            The Deployment's name.

        Raises:
            DeployError: Invalid names, image or parameters. ScheduleError: An invalid schedule.
        """
        from baton.deploy import deploy  # noqa: PLC0415 - keeps `import baton` light

        return deploy(
            self,
            name,
            work_pool_name=work_pool_name,
            work_pool_type=work_pool_type,
            image=image,
            cron=cron,
            interval=interval,
            rrule=rrule,
            timezone=timezone,
            parameters=parameters,
            namespace=namespace,
            entrypoint=entrypoint,
            description=description,
            kubeconfig=kubeconfig,
            context=context,
            blocks=blocks,
        )

    @classmethod
    def from_source(cls, source: Any, entrypoint: str) -> Flow[Any, Any]:
        """The flow at ``entrypoint`` in git repository ``source`` (a URL or a
        ``baton.runner.storage.GitRepository``), cloned here to load it; ``.deploy()``
        then writes ``spec.source.git`` so each run clones it again (docs/resources.md).
        """
        from baton.git_source import load_from_source  # noqa: PLC0415

        flow: Flow[Any, Any] = load_from_source(source, entrypoint)
        return flow

    def on_completion(self, fn: FlowHook) -> FlowHook:
        """Decorator adding a hook run when a flow run completes."""
        self.on_completion_hooks.append(fn)
        return fn

    def on_failure(self, fn: FlowHook) -> FlowHook:
        """Decorator adding a hook run when a flow run fails."""
        self.on_failure_hooks.append(fn)
        return fn

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    version: str | None = None,
    flow_run_name: str | Callable[..., str] | None = None,
    retries: int | None = None,
    retry_delay_seconds: float | None = None,
    task_runner: TaskRunner | None = None,
    description: str | None = None,
    timeout_seconds: float | None = None,
    validate_parameters: bool = True,
    persist_result: bool | None = None,
    result_storage: Any = None,
    result_serializer: Any = None,
    cache_result_in_memory: bool = True,
    log_prints: bool | None = None,
    on_completion: FlowHook | Iterable[FlowHook] | None = None,
    on_failure: FlowHook | Iterable[FlowHook] | None = None,
    on_cancellation: FlowHook | Iterable[FlowHook] | None = None,
    on_crashed: FlowHook | Iterable[FlowHook] | None = None,
    on_running: FlowHook | Iterable[FlowHook] | None = None,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Turn a function into a flow; use as ``@flow`` or ``@flow(...)``.

    Args:
        fn: The function (when used as ``@flow`` without parentheses).
        **options: ``name`` (default: the function name with ``_`` -> ``-``),
            ``version``, ``description``, ``flow_run_name`` (a format string over
            the parameters, or a callable); ``retries``, ``retry_delay_seconds``;
            ``timeout_seconds``; ``validate_parameters`` (default ``True``);
            ``task_runner`` (default ``ThreadPoolTaskRunner()``); ``log_prints``;
            hooks ``on_completion``, ``on_failure``, ``on_crashed``,
            ``on_cancellation``, ``on_running`` called ``(flow, flow_run, state)``.

    Returns:
        A ``Flow`` (or a decorator producing one).

    Example:
        >>> @flow(retries=2, log_prints=True)
        ... def etl(day: str = "today") -> int: ...
    """
    if fn is None:
        return lambda function: Flow(function, **options)
    return Flow(fn, **options)
