"""Check form-encoded requests against Twilio's official OpenAPI description (API 2010-04-01).

The Twilio simulator runs every create request through :func:`validate_form_request`, so a test
that passes against the simulator proves that the request our code (through twilio-python) sends
is one Twilio's published contract accepts: required fields present, no unknown parameters,
enums, types (integers, booleans, arrays as repeated keys), SID patterns and the string formats
that are cheap to check (``phone-number``, ``endpoint``, ``uri``, ``twiml``, ``date-time``, …).

The description is read from ``$TWILIO_OPENAPI_SPEC`` or, by default, from the copy kept beside
this module, ``twilio_openapi/twilio_api_v2010.json`` (Twilio's MIT-licensed ``twilio-oai`` file,
with its ``LICENSE``), so a fresh checkout runs the simulator with nothing outside the repository.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from jsonschema import Draft7Validator, FormatChecker

SPEC_ENV = "TWILIO_OPENAPI_SPEC"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_DROPPED_KEYWORDS = {"description", "x-twilio", "nullable", "title", "example", "examples"}

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_CHANNEL_ADDRESS = re.compile(r"^[a-z][a-z0-9-]*:\S+$")
_INTEGER = re.compile(r"^-?\d+$")


def default_spec_path() -> Path:
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent / "twilio_openapi" / "twilio_api_v2010.json"


# --- formats -------------------------------------------------------------------------------------


def is_phone_number(value: str) -> bool:
    """E.164, a channel address (``whatsapp:+1…``), a short code or an alphanumeric sender ID."""
    return bool(
        _E164.match(value)
        or _CHANNEL_ADDRESS.match(value)
        or _SHORT_CODE.match(value)
        or _ALPHANUMERIC_SENDER.match(value)
    )


def is_endpoint(value: str) -> bool:
    """A phone number, or a ``sip:`` / ``client:`` address (Calls ``To``/``From``)."""
    return is_phone_number(value) or bool(re.match(r"^(sip|client):\S+$", value))


def is_http_uri(value: str) -> bool:
    """An absolute http(s) URL with a host; Twilio refuses underscores in host names."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and bool(host) and "_" not in host


def is_twiml(value: str) -> bool:
    try:
        root = ElementTree.fromstring(value)  # noqa: S314 - our own client's TwiML, not untrusted
    except ElementTree.ParseError:
        return False
    return root.tag == "Response"


def is_date_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checks = {
        "phone-number": is_phone_number,
        "endpoint": is_endpoint,
        "uri": is_http_uri,
        "twiml": is_twiml,
        "date-time": is_date_time,
        "date": is_date,
        "http-method": lambda v: v.upper() in {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"},
        "iso-country-code": lambda v: bool(re.match(r"^[A-Z]{2}$", v)),
    }
    for name, check in checks.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    return checker


FORMAT_CHECKER = _format_checker()


# --- the description -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation of the description, with its schemas turned into plain JSON Schema."""

    method: str
    template: str
    pattern: re.Pattern[str]
    path_params: Mapping[str, Mapping[str, Any]]
    body_schema: Mapping[str, Any] | None


class OpenApiSpec:
    """Twilio's OpenAPI document with a path-template lookup and a form-request validator."""

    def __init__(self, document: Mapping[str, Any]):
        self._document = document
        self._operations = list(self._build_operations())

    @classmethod
    def load(cls, path: str | Path | None = None) -> OpenApiSpec:
        return _load_cached(str(Path(path) if path else default_spec_path()))

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self._operations:
            if operation.method == method.upper():
                match = operation.pattern.match(path)
                if match:
                    return operation, match.groupdict()
        return None

    def validate_form(self, method: str, path: str, form: Mapping[str, Sequence[str] | str]) -> list[str]:
        """The violations of a form request (empty when the request is valid)."""
        found = self.find(method, path)
        if found is None:
            return [f"{method.upper()} {path}: no such operation in the OpenAPI description"]
        operation, path_values = found
        problems = _check_path_params(operation, path_values)
        if operation.body_schema is None:
            if form:
                problems.append("this operation takes no form body")
            return problems
        instance, shape_problems = _coerce_form(operation.body_schema, _as_multidict(form))
        validator = Draft7Validator(operation.body_schema, format_checker=FORMAT_CHECKER)
        problems += shape_problems
        problems += sorted(_describe(error) for error in validator.iter_errors(instance))
        return problems

    def _build_operations(self) -> list[Operation]:
        operations = []
        for template, item in self._document.get("paths", {}).items():
            shared_params = item.get("parameters", [])
            for method, spec in item.items():
                if method not in {"get", "post", "put", "delete", "patch"}:
                    continue
                params = [*shared_params, *spec.get("parameters", [])]
                operations.append(
                    Operation(
                        method=method.upper(),
                        template=template,
                        pattern=_template_regex(template),
                        path_params={
                            p["name"]: self._schema(p.get("schema", {})) for p in params if p.get("in") == "path"
                        },
                        body_schema=self._body_schema(spec),
                    )
                )
        return operations

    def _body_schema(self, spec: Mapping[str, Any]) -> dict[str, Any] | None:
        content = spec.get("requestBody", {}).get("content", {})
        schema = content.get(FORM_CONTENT_TYPE, {}).get("schema")
        if schema is None:
            return None
        converted = self._schema(schema)
        converted.setdefault("additionalProperties", False)  # catches misspelt parameters
        return converted

    def _schema(self, schema: Any) -> Any:
        """Inline ``$ref``s and drop OpenAPI-only keywords, leaving plain JSON Schema."""
        if isinstance(schema, list):
            return [self._schema(item) for item in schema]
        if not isinstance(schema, Mapping):
            return schema
        if "$ref" in schema:
            return self._schema(self._resolve(schema["$ref"]))
        converted = {k: self._schema(v) for k, v in schema.items() if k not in _DROPPED_KEYWORDS}
        if isinstance(schema.get("x-twilio"), Mapping) and schema["x-twilio"].get("ignoreFormat"):
            converted.pop("format", None)
        return converted

    def _resolve(self, ref: str) -> Any:
        node: Any = self._document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node


@lru_cache(maxsize=4)
def _load_cached(path: str) -> OpenApiSpec:
    spec_path = Path(path)
    if not spec_path.is_file():
        raise FileNotFoundError(f"Twilio OpenAPI description not found at {spec_path}; set {SPEC_ENV} to its path")
    with spec_path.open(encoding="utf-8") as fh:
        return OpenApiSpec(json.load(fh))


def validate_form_request(
    method: str,
    path: str,
    form: Mapping[str, Sequence[str] | str],
    *,
    spec_path: str | Path | None = None,
) -> list[str]:
    """Validate one form-encoded request (``path`` is the concrete request path)."""
    return OpenApiSpec.load(spec_path).validate_form(method, path, form)


# --- helpers -------------------------------------------------------------------------------------


def _template_regex(template: str) -> re.Pattern[str]:
    pieces = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>[^/]+)" for index, piece in enumerate(pieces))
    return re.compile(f"^{regex}$")


def _as_multidict(form: Mapping[str, Sequence[str] | str]) -> dict[str, list[str]]:
    return {k: [v] if isinstance(v, str) else [str(x) for x in v] for k, v in form.items()}


def _coerce_scalar(schema: Mapping[str, Any], raw: str) -> Any:
    """A form string as the schema's type; left as a string when it does not parse."""
    kind = schema.get("type")
    if kind == "integer" and _INTEGER.match(raw):
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "boolean" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def _coerce_form(schema: Mapping[str, Any], form: Mapping[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    properties = schema.get("properties", {})
    instance: dict[str, Any] = {}
    problems: list[str] = []
    for name, values in form.items():
        prop = properties.get(name, {})
        if prop.get("type") == "array":
            instance[name] = [_coerce_scalar(prop.get("items", {}), v) for v in values]
            continue
        if len(values) > 1:
            problems.append(f"{name}: given {len(values)} times but takes one value")
        instance[name] = _coerce_scalar(prop, values[0]) if values else ""
    return instance, problems


def _check_path_params(operation: Operation, values: Mapping[str, str]) -> list[str]:
    problems = []
    for name, schema in operation.path_params.items():
        validator = Draft7Validator(schema, format_checker=FORMAT_CHECKER)
        problems += [f"path {name}: {e.message}" for e in validator.iter_errors(values.get(name))]
    return problems


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
