"""Variables and blocks: Prefect 3's get/set/unset and save/load, used as its docs show.

Prefect keeps them on its (temporary) server, Baton in its local store here (the
runner gives each case an empty one). Each case uses names of its own, because
Prefect's server is shared by the cases of one batch.
"""

from __future__ import annotations

from prefect import flow
from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect.variables import Variable
from pydantic import SecretStr


def case_variable_get_set_unset() -> dict:
    before = [Variable.get("cv_region"), Variable.get("cv_region", default="us")]
    created = Variable.set("cv_region", "eu", tags=["geo"])
    after = Variable.get("cv_region")
    return {
        "before": before,
        "created": [created.name, created.value, created.tags],
        "after": after,
        "unset": [Variable.unset("cv_region"), Variable.unset("cv_region")],
        "gone": Variable.get("cv_region", "default"),
    }


def case_variable_overwrite_rules() -> dict:
    Variable.set("cv_limit", 1, tags=["a"])
    try:
        Variable.set("cv_limit", 2)
        refused = None
    except Exception as exc:
        refused = {"type": type(exc).__name__, "message": str(exc)}
    kept = Variable.get("cv_limit")
    replaced = Variable.set("cv_limit", {"max": [3, 4]}, overwrite=True)
    observed = {
        "refused": refused,
        "kept": kept,
        "replaced": [replaced.value, replaced.tags],
        "now": Variable.get("cv_limit"),
    }
    Variable.unset("cv_limit")
    return observed


def case_variable_values_of_each_json_type() -> dict:
    values = {"cv_s": "x", "cv_i": 3, "cv_f": 1.5, "cv_b": True, "cv_l": [1, "a"], "cv_d": {"k": 1}}
    for name, value in values.items():
        Variable.set(name, value)
    read = {name: Variable.get(name) for name in values}
    for name in values:
        Variable.unset(name)
    return read


def case_variable_invalid_name_and_value() -> dict:
    observed = {}
    for label, call in (
        ("uppercase name", lambda: Variable.set("CV_Bad", 1)),
        ("space in name", lambda: Variable.set("cv bad", 1)),
        ("too long value", lambda: Variable.set("cv_long", "x" * 6000)),
    ):
        try:
            call()
            observed[label] = "accepted"
        except Exception as exc:
            observed[label] = isinstance(exc, ValueError)
    return observed


def case_variable_inside_a_flow() -> dict:
    Variable.set("cv_in_flow", "hello")

    @flow
    def main() -> str:
        return f"{Variable.get('cv_in_flow')} {Variable.get('cv_absent_in_flow', 'world')}"

    result = main()
    Variable.unset("cv_in_flow")
    return {"result": result}


def case_secret_block_save_load_get() -> dict:
    Secret(value="sk-123").save("cb-api-key")
    Secret(value={"user": "u", "password": "p"}).save("cb-login")
    loaded = Secret.load("cb-api-key")
    try:
        Secret(value="other").save("cb-api-key")
        refused = None
    except Exception as exc:
        refused = {"type": type(exc).__name__, "message": str(exc)}
    Secret(value="rotated").save("cb-api-key", overwrite=True)
    return {
        "get": loaded.get(),
        "masked": "sk-123" not in repr(loaded) and "sk-123" not in str(loaded.model_dump()),
        "json": Secret.load("cb-login").get(),
        "refused": refused,
        "rotated": Secret.load("cb-api-key").get(),
        "by_slug": Block.load("secret/cb-api-key").get(),
    }


class CaseConnector(Block):
    account: str
    warehouse: str = "compute"
    password: SecretStr


def case_custom_block_with_a_secret_field() -> dict:
    CaseConnector(account="acme", password="pw-1").save("cb-prod")
    loaded = CaseConnector.load("cb-prod")
    try:
        CaseConnector.load("cb-missing")
        missing = None
    except Exception as exc:
        text = str(exc)
        missing = {
            "is_value_error": isinstance(exc, ValueError),
            "unable": text.startswith("Unable to find block document named cb-missing"),
        }
    return {
        "slug": CaseConnector.get_block_type_slug(),
        "fields": [loaded.account, loaded.warehouse],
        "secret": loaded.password.get_secret_value(),
        "masked_in_repr": "pw-1" not in repr(loaded),
        "missing": missing,
        "bad_name": describe_error_kind(lambda: Secret(value="x").save("Not Valid")),
    }


def describe_error_kind(call: object) -> object:
    try:
        call()  # type: ignore[operator]
    except Exception as exc:
        return {"is_value_error": isinstance(exc, ValueError)}
    return "accepted"


def case_secret_block_inside_a_flow() -> dict:
    Secret(value="in-flow-secret").save("cb-flow-secret", overwrite=True)

    @flow
    def main() -> str:
        return Secret.load("cb-flow-secret").get()

    return {"result": main()}
