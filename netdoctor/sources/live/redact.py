"""Redaction for ``collect``: secret-looking values never leave the cluster in a bundle.

sources layer. A name looks secret when one of its word parts (split at ``_ - . /`` and at
camelCase humps) is TOKEN, PASSWORD, SECRET or KEY (plural too), case-insensitively: ``API_KEY``,
``dbPassword``, ``x-auth-token``, ``SECRET_KEY_BASE`` are; ``MONKEY``, ``KEYSTONE_URL``,
``TOKENIZER`` are not. Values replaced by ``<redacted>``:

- ``env[].value`` of every container, init and ephemeral container (pods, and pod templates of
  DaemonSets and Deployments);
- annotations with such a name, and always ``kubectl.kubernetes.io/last-applied-configuration``
  (it repeats the whole object, env values included);
- ConfigMap ``data`` / ``binaryData`` entries with such a key.

Every replacement is recorded as ``<file>: <object> <field>`` for the manifest.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

__all__ = ["REDACTED", "looks_secret", "redact_object"]

REDACTED: Final = "<redacted>"
_WORDS: Final = frozenset({"TOKEN", "PASSWORD", "SECRET", "KEY"})
_PART: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ALWAYS: Final = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


@lru_cache(maxsize=4096)  # the same few names repeat on every pod
def looks_secret(name: str) -> bool:
    """Whether a variable, annotation or data key name has a secret-looking word part."""
    for part in _PART.findall(name):
        word = part.upper()
        if word in _WORDS or (word.endswith("S") and word[:-1] in _WORDS):
            return True
    return False


def _annotations(meta: Any, where: str, log: list[str]) -> None:
    if not isinstance(meta, dict):
        return
    ann = meta.get("annotations")
    if not isinstance(ann, dict):
        return
    for k in sorted(ann):
        if (k in _ALWAYS or looks_secret(k)) and ann[k] != REDACTED:
            ann[k] = REDACTED
            log.append(f"{where} metadata.annotations[{k}]")


def _pod_spec(spec: Any, where: str, prefix: str, log: list[str]) -> None:
    if not isinstance(spec, dict):
        return
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(group) or ():
            if not isinstance(c, dict):
                continue
            for e in c.get("env") or ():
                if isinstance(e, dict) and "value" in e and looks_secret(str(e.get("name", ""))):
                    e["value"] = REDACTED
                    log.append(f"{where} {prefix}{group}[{c.get('name')}].env[{e.get('name')}]")


def redact_object(obj: dict[str, Any], kind: str, file: str, log: list[str]) -> None:
    """Redact one object in place (``kind`` as the list names it: Pod, DaemonSet, ConfigMap)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "?") if isinstance(meta, dict) else "?"
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    where = f"{file}: {kind}/{ns + '/' if ns else ''}{name}"
    _annotations(meta, where, log)
    spec = obj.get("spec")
    if kind == "Pod":
        _pod_spec(spec, where, "spec.", log)
    elif isinstance(spec, dict) and isinstance(spec.get("template"), dict):
        template = spec["template"]
        _annotations(template.get("metadata"), where + " spec.template", log)
        _pod_spec(template.get("spec"), where, "spec.template.spec.", log)
    if kind == "ConfigMap":
        for field in ("data", "binaryData"):
            data = obj.get(field)
            if isinstance(data, dict):
                for k in sorted(data):
                    if looks_secret(k):
                        data[k] = REDACTED
                        log.append(f"{where} {field}[{k}]")
