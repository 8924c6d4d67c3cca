"""Secrets never reach a reader: masking in messages, records, notebooks and HTML.

Two kinds of secret are masked (replaced by ``***``):

* passwords inside connection strings (``postgresql://admin:PASSWORD@host/db``,
  ``...;password=PASSWORD;...``) in every message and record;
* the values of secret parameters (:attr:`cjlab.report.params.Parameter.secret`: names with
  key, token, password, secret, credentials, or a ``(secret)`` marker in the help comment)
  in the manifest, the executed notebook (the injected-parameters cell, papermill's record of
  the parameters, and any text that repeats the value) and therefore the HTML.

Credentials belong in the environment (``PGPASSWORD``, a ``.env`` your scheduler loads), read
by the notebook or data layer at run time; a secret parameter is for the rare value that must
be passed per run.

Examples
--------
>>> mask_text("cannot open postgresql://admin:hunter2@db.example.org/shop")
'cannot open postgresql://admin:***@db.example.org/shop'
>>> mask_text("host=db user=app password=hunter2 port=5432")
'host=db user=app password=*** port=5432'
>>> mask_text("token abc123 in the log", secrets=["abc123"])
'token *** in the log'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
#: the shortest secret value replaced wherever it appears in text (shorter ones would hit words)
MIN_LITERAL = 4
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):(?P<pw>[^\s@/'\"]+)@")
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|token|secret|api_?key|access_?key|auth)\b\s*=\s*)"
    r"(?:(?P<quote>['\"]).*?(?P=quote)|[^\s;&,'\"]+)",
    re.I,
)


def mask_text(text: Any, secrets: Iterable[str] = (), key_values: bool = True) -> Any:
    """``text`` with connection-string passwords and the given secret values masked.

    ``key_values`` also masks ``password=...``/``token=...`` pairs (messages and records;
    notebook outputs, which may embed minified JavaScript, get only the other two rules).
    Non-text values are returned unchanged.
    """
    if not isinstance(text, str):
        return text
    out = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    if key_values:
        out = _KEY_VALUE.sub(
            lambda m: f"{m.group('key')}{m.group('quote') or ''}{MASK}{m.group('quote') or ''}",
            out,
        )
    return mask_literals(out, secrets)


def mask_literals(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret value (of at least :data:`MIN_LITERAL` characters) in ``text``."""
    for s in sorted({str(s) for s in secrets if s is not None}, key=len, reverse=True):
        if len(s) >= MIN_LITERAL:
            text = text.replace(s, MASK)
    return text


def mask_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Mask every text inside ``value`` (lists and dicts too)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, list | tuple):
        return [mask_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {mask_text(k, secrets): mask_value(v, secrets) for k, v in value.items()}
    return value


def secret_values(parameters: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """The non-empty values of the secret parameters ``names`` (as text)."""
    out = []
    for n in names:
        v = parameters.get(n)
        if v not in (None, "", [], {}):
            out.append(v if isinstance(v, str) else str(v))
    return out


def mask_parameters(parameters: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Parameters fit for a record: secret ones ``***`` (when set), others with passwords masked."""
    names = set(names)
    secrets = secret_values(parameters, names)
    return {
        k: (MASK if k in names and v not in (None, "") else mask_value(v, secrets))
        for k, v in parameters.items()
    }


def mask_notebook(nb: Any, names: Iterable[str], parameters: Mapping[str, Any]) -> int:
    """Mask secrets in an executed notebook in place; return how many texts changed.

    The injected-parameters cell assigns ``***`` to each secret parameter, papermill's
    ``metadata.papermill.parameters`` are masked, and every cell source and text output has
    connection-string passwords and secret values replaced.
    """
    names = list(names)
    secrets = secret_values(parameters, names)
    changed = 0
    pm_meta = nb.metadata.get("papermill") or {}
    if isinstance(pm_meta.get("parameters"), dict):
        masked = mask_parameters(pm_meta["parameters"], names)
        changed += masked != pm_meta["parameters"]
        pm_meta["parameters"] = masked
    for cell in nb.cells:
        src = cell.source
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            for n in names:
                src = re.sub(rf"(?m)^({re.escape(n)}\s*=\s*).*$", rf'\g<1>"{MASK}"', src)
        src = mask_text(src, secrets, key_values=False)
        changed += src != cell.source
        cell.source = src
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            changed += _mask_output(o, secrets)
    return changed


def _mask_output(output: Any, secrets: list[str]) -> int:
    changed = 0
    for key in ("text", "evalue"):
        if isinstance(output.get(key), str):
            new = mask_text(output[key], secrets, key_values=False)
            changed += new != output[key]
            output[key] = new
    if isinstance(output.get("traceback"), list):
        output["traceback"] = [mask_text(t, secrets, False) for t in output["traceback"]]
    data = output.get("data") or {}
    for mime, value in list(data.items()):
        if isinstance(value, str) and (mime.startswith("text/") or mime.endswith("json")):
            new = mask_text(value, secrets, key_values=False)
            changed += new != value
            data[mime] = new
        elif isinstance(value, dict | list) and mime.endswith("json"):
            new = _mask_json(value, secrets)
            changed += new != value
            data[mime] = new
    return changed


def _mask_json(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return mask_text(value, secrets, key_values=False)
    if isinstance(value, list):
        return [_mask_json(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _mask_json(v, secrets) for k, v in value.items()}
    return value
