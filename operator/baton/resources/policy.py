"""The admission policy that confines a flow's pod to the runtime's part of its own run.

A flow's pod holds a token of its ServiceAccount, which may patch ``flowruns/status`` in
its namespace (RBAC cannot name "its own" run). Without more, one flow's pod could end
another flow's run, or rewrite the fields the operator acts on (``jobName``, the delete
target of a cancel; ``workPool``, which decides the concurrency slot and which process
worker claims the run; ``attempts``; ``worker``; the state). The API server stops it: a
``ValidatingAdmissionPolicy`` applies to requests made with a *pod-bound* ServiceAccount
token (every token a pod mounts is bound to the pod, and the API server puts the pod's
name in ``userInfo.extra``), other than the operator's own, and allows them to

- write the status of the FlowRun whose current Job the pod belongs to (the Job
  controller names pods ``<job name>-<suffix>``, the name cut at 58 characters), and
- change nothing there but ``RUNTIME_FIELDS``.

Generated into the chart by ``make crds`` so the field list has one home: the model.
"""

from __future__ import annotations

from typing import Any

from baton.contract import GROUP
from baton.resources.flowrun import RUNTIME_FIELDS, FlowRunStatus

POLICY_NAME = "baton-flowrun-status-writers"
POD_NAME = "request.userInfo.extra['authentication.kubernetes.io/pod-name'][0]"
#: kube's generated names: the base is cut to 63 - 5 characters before the suffix.
GENERATED_PREFIX = 58


def operator_fields() -> list[str]:
    """Every status field but the runtime's, by its name in the API."""
    names = [(info.alias or name) for name, info in FlowRunStatus.model_fields.items()]
    return [n for n in names if n not in RUNTIME_FIELDS]


def _unchanged(field: str) -> dict[str, str]:
    new, old = f"object.status.{field}", f"oldObject.status.{field}"
    return {
        "expression": (
            f"(has(object.status) && has({new})) == has({old}) && (!has({old}) || {new} == {old})"
        ),
        "message": f"a flow's pod may not change status.{field}: the operator owns it",
        "reason": "Forbidden",
    }


def validating_admission_policy(exempt_users_expression: str) -> dict[str, Any]:
    """The policy; ``exempt_users_expression`` is a CEL list of usernames it leaves alone."""
    own_run = (
        "has(oldObject.status) && has(oldObject.status.jobName) && "
        f"{POD_NAME}.startsWith(size(oldObject.status.jobName) >= {GENERATED_PREFIX} ? "
        f"oldObject.status.jobName.substring(0, {GENERATED_PREFIX}) : "
        "oldObject.status.jobName + '-')"
    )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["UPDATE"],
                        "resources": ["flowruns/status"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "pod-bound-token",
                    "expression": (
                        "has(request.userInfo.extra) && "
                        "'authentication.kubernetes.io/pod-name' in request.userInfo.extra"
                    ),
                },
                {
                    "name": "not-exempt",
                    "expression": f"!(request.userInfo.username in {exempt_users_expression})",
                },
            ],
            "validations": [
                {
                    "expression": own_run,
                    "messageExpression": (
                        f"'pod ' + {POD_NAME} + ' may write the status of its own FlowRun "
                        "only (the one whose current Job it belongs to)'"
                    ),
                    "reason": "Forbidden",
                },
                *(_unchanged(field) for field in operator_fields()),
            ],
        },
    }


def binding() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME},
        "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"]},
    }
