"""Building blocks shared by the four custom resources.

Every resource is described once, here in Python: its spec and status models carry the
field names, defaults, bounds and cross-field rules, and ``crd.py`` turns them into the
CustomResourceDefinitions the API server enforces. This module holds the pieces every
kind uses: the camelCase model base, conditions shaped like ``metav1.Condition``, object
references, and the ``ResourceKind`` description (names, printer columns, CEL rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from baton.contract import API_VERSION, GROUP, format_time, parse_time

CATEGORY = "baton"

#: Names of Kubernetes objects we reference (DNS-1123 subdomain).
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


#: ``reason`` values the API server accepts on a CEL rule (the field error's type).
CelReason = Literal["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired"]


def cel(
    rule: str,
    message: str,
    *,
    reason: CelReason | None = None,
    field_path: str | None = None,
) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry: a CEL rule and the message users see.

    ``field_path`` (relative to the node holding the rule, e.g. ``.flowRef``) names the
    field in the API server's error, so a rule on a parent still blames the right field.
    """
    entry = {"rule": rule, "message": message}
    if reason:
        entry["reason"] = reason
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def immutable(field: str) -> dict[str, str]:
    """A rule, for the parent object, that keeps its optional ``field`` as created.

    A rule on the field itself (``self == oldSelf``) is skipped when the old object has
    no value, so the field could be added later, or one optional field swapped for
    another in one update. On the parent both presence and value are compared.
    """
    return cel(
        f"has(self.{field}) == has(oldSelf.{field}) && "
        f"(!has(self.{field}) || self.{field} == oldSelf.{field})",
        f"{field} is fixed at creation: it cannot be changed, added or removed",
        reason="FieldValueInvalid",
        field_path=f".{field}",
    )


def schema_extra(
    *,
    validations: list[dict[str, str]] | None = None,
    preserve_unknown: bool = False,
    int_or_string: bool = False,
    list_type: str | None = None,
    list_map_keys: list[str] | None = None,
) -> dict[str, Any]:
    """Kubernetes-specific OpenAPI extensions to attach to a model or field schema."""
    extra: dict[str, Any] = {}
    if validations:
        extra["x-kubernetes-validations"] = validations
    if preserve_unknown:
        extra["x-kubernetes-preserve-unknown-fields"] = True
    if int_or_string:
        extra["x-kubernetes-int-or-string"] = True
    if list_type:
        extra["x-kubernetes-list-type"] = list_type
    if list_map_keys:
        extra["x-kubernetes-list-map-keys"] = list_map_keys
    return extra


class Model(BaseModel):
    """Base of every spec/status model: camelCase on the wire, snake_case in Python.

    Specs forbid unknown fields, so a typo is reported by the CLI exactly as the API
    server would prune it; statuses ignore them, so an older reader never breaks.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        validate_default=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready form Kubernetes stores (aliases, no unset optional fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatusModel(Model):
    model_config = ConfigDict(extra="ignore")


#: Free-form JSON (parameters, Kubernetes sub-objects we pass through untouched).
FreeForm = dict[str, Any]


def free_form(description: str, **kwargs: Any) -> Any:
    """A field holding arbitrary JSON that the API server must keep as is."""
    return Field(
        description=description, json_schema_extra=schema_extra(preserve_unknown=True), **kwargs
    )


class LocalObjectReference(Model):
    """A reference to another object in the same namespace, by name."""

    name: str = Field(
        description="Name of the referenced object.",
        min_length=1,
        max_length=253,
        pattern=NAME_PATTERN,
    )


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


#: metav1.Condition's validation, as ``k8s.io/apimachinery`` declares it (kubebuilder
#: markers on ``Condition``): a qualified name for the type, a CamelCase reason.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
CONDITION_MESSAGE_MAX = 32768


class Condition(StatusModel):
    """One condition, shaped and validated like metav1.Condition (kubectl wait reads it).

    The API server refuses a condition without ``reason``, ``message`` or
    ``lastTransitionTime``, exactly as it does for a built-in kind's conditions.
    """

    type: str = Field(
        description="Condition type in CamelCase, e.g. Ready or Succeeded.",
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The metadata.generation this condition was computed from.",
    )
    last_transition_time: datetime = Field(description="When status (or reason) last changed.")
    reason: str = Field(
        description="A CamelCase word saying why the condition is in its status.",
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON_PATTERN,
    )
    message: str = Field(
        description="Human-readable details (may be empty).", max_length=CONDITION_MESSAGE_MAX
    )


def condition(
    type_: str,
    status: str,
    reason: str,
    message: str,
    *,
    generation: int,
    previous: Condition | None,
    now: datetime,
) -> dict[str, Any]:
    """One condition on the wire; ``lastTransitionTime`` moves only when status or reason do."""
    changed = previous is None or (previous.status.value, previous.reason) != (status, reason)
    transition = now if changed or previous is None else previous.last_transition_time
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:CONDITION_MESSAGE_MAX],
        "observedGeneration": generation,
        "lastTransitionTime": format_time(transition),
    }


class ObservedStatus(StatusModel):
    """The status fields every kind has."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the operator last acted on."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready and kind-specific conditions.",
        json_schema_extra=schema_extra(list_type="map", list_map_keys=["type"]),
    )


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0

    def to_crd(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class ResourceKind:
    """Everything the CRD needs about one kind, beside its spec and status models."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[Model]
    status: type[StatusModel]
    description: str
    printer_columns: tuple[PrinterColumn, ...] = ()
    #: JSON paths the API server can filter by (``fieldSelector``), so a list of runs in one
    #: state is one paginated request, not a scan of every run.
    selectable_fields: tuple[str, ...] = ()
    spec_required: bool = True
    validations: tuple[dict[str, str], ...] = field(default=())
    #: Markdown appended to the kind's section of docs/resources.md (how its fields
    #: work together, where the tables alone do not say).
    guide: str = ""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


class Resource(Model):
    """A whole object as read from the API server: metadata, spec and status."""

    model_config = ConfigDict(extra="ignore")
    KIND: ClassVar[ResourceKind]

    api_version: str = API_VERSION
    kind: str = ""
    metadata: FreeForm = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", ""))

    @property
    def uid(self) -> str:
        return str(self.metadata.get("uid", ""))

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation", 0))

    @property
    def created_at(self) -> datetime:
        """metadata.creationTimestamp (now, for an object not yet created)."""
        return parse_time(self.metadata.get("creationTimestamp")) or datetime.now(UTC)
