"""Decode ``kubectl get -o json|yaml`` output into the model's Kubernetes types.

Sits between the bytes a source reads and the Snapshot it builds (parsers layer): a source
hands over one file's content and its bundle path; this module returns typed objects or raises
``ParseError(file, problem)`` with one line that says where in the file the problem is
(``items[3].status.podIP: expected str, got int``).

JSON goes straight through ``msgspec`` into the typed structs (a 150 MB, 30,000-pod list
decodes in about a second); YAML is loaded with the C loader when it is available and then
converted. The YAML reader keeps timestamps as strings (kubectl's JSON has strings there),
refuses aliases (kubectl never writes them; they let a small file expand without bound) and
caps nesting (libyaml's own composer recurses in C and crashes on deep input).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec

from netdoctor.errors import ParseError
from netdoctor.model.k8s import KList, VersionInfo

if TYPE_CHECKING:
    import yaml

__all__ = [
    "MAX_YAML_DEPTH",
    "decode_json",
    "decode_list",
    "describe_decode_error",
    "describe_validation_error",
    "is_yaml",
    "load_yaml",
    "parse_version",
    "strip_bom",
]

T = TypeVar("T")

_BOM = b"\xef\xbb\xbf"
_YAML_SUFFIXES = (".yaml", ".yml")
_YAML_STARTS = (b"apiVersion:", b"---", b"kind:", b"items:", b"%YAML")


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte order mark (Windows editors write one)."""
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def is_yaml(data: bytes, file: str) -> bool:
    """Whether to read ``data`` as YAML: by the file's suffix, else by how the content starts."""
    if file.lower().endswith(_YAML_SUFFIXES):
        return True
    return strip_bom(data).lstrip().startswith(_YAML_STARTS)


def decode_list(data: bytes, file: str, item: type[T]) -> tuple[T, ...]:
    """The items of a ``kubectl get -o json`` (or ``-o yaml``) output, as ``item`` structs.

    Accepts a ``kind: List``, a typed list (``PodList``), a bare JSON array, and one object
    (what kubectl prints when one object was asked for), which is returned as a 1-tuple.
    """
    data = strip_bom(data)
    if not data.strip():
        raise ParseError(file, "empty file")
    if is_yaml(data, file):
        return _from_python(load_yaml(data, file), file, item)
    if data.lstrip()[:1] == b"[":
        return tuple(decode_json(data, file, list[item]))  # type: ignore[valid-type]
    lst = decode_json(data, file, KList[item])  # type: ignore[valid-type]
    if lst.kind and not lst.kind.endswith("List"):
        # One object, not a list: kubectl prints it bare when a single name was asked for.
        return (decode_json(data, file, item),)
    return tuple(lst.items)


def parse_version(data: bytes, file: str) -> VersionInfo:
    """``kubectl version -o json`` (or ``-o yaml``)."""
    data = strip_bom(data)
    if not data.strip():
        raise ParseError(file, "empty file")
    if is_yaml(data, file) or not data.lstrip().startswith(b"{"):
        docs = load_yaml(data, file)
        if len(docs) != 1:
            raise ParseError(file, "expected one YAML document")
        return _convert(docs[0], file, VersionInfo)
    return decode_json(data, file, VersionInfo)


def _from_python(docs: list[Any], file: str, item: type[T]) -> tuple[T, ...]:
    out: list[T] = []
    for doc in docs:
        if doc is None:  # an empty document between two "---"
            continue
        if isinstance(doc, list):
            out.extend(_convert(doc, file, list[item]))  # type: ignore[valid-type]
            continue
        if not isinstance(doc, dict):
            raise ParseError(file, f"expected a Kubernetes object or List, got {_kind_of(doc)}")
        kind = doc.get("kind", "")
        if not isinstance(kind, str):
            raise ParseError(file, f"kind: expected str, got {_kind_of(kind)}")
        if kind and not kind.endswith("List"):
            out.append(_convert(doc, file, item))
        else:
            out.extend(_convert(doc, file, KList[item]).items)  # type: ignore[valid-type]
    return tuple(out)


# --- JSON and YAML with one-line errors ----------------------------------------------------------


def decode_json(data: bytes, file: str, typ: type[T]) -> T:
    """Typed JSON decode; any failure is a one-line ParseError naming the file."""
    try:
        return msgspec.json.decode(data, type=typ)
    except msgspec.ValidationError as e:
        raise ParseError(file, describe_validation_error(e)) from None
    except msgspec.DecodeError as e:
        raise ParseError(file, describe_decode_error(e, data)) from None
    except RecursionError:
        raise ParseError(file, "JSON nested too deeply") from None


def _convert(obj: Any, file: str, typ: type[T]) -> T:
    try:
        return msgspec.convert(obj, type=typ)
    except msgspec.ValidationError as e:
        raise ParseError(file, describe_validation_error(e)) from None
    except RecursionError:
        raise ParseError(file, "YAML nested too deeply") from None


_AT = re.compile(r"^(?P<msg>.*?) - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`$", re.DOTALL)
_FIELD = re.compile(r"field `([^`]*)`")


def describe_validation_error(exc: msgspec.ValidationError) -> str:
    """msgspec's ``Expected `str | null`, got `int` - at `$.items[3].status.podIP```, made human:
    ``items[3].status.podIP: expected str, got int``."""
    text = str(exc)
    path = ""
    m = _AT.match(text)
    if m:
        text, path = m["msg"], m["path"].lstrip(".")
    text = text.replace(" | null", "")
    text = _FIELD.sub(r"field '\1'", text).replace("`", "")
    if text[:1].isupper():
        text = text[0].lower() + text[1:]
    text = _one_line(text)
    if m and m["key"]:
        text = f"a key: {text}"
    return f"{path}: {text}" if path else text


_BYTE = re.compile(r"\(byte (\d+)\)")


def describe_decode_error(exc: msgspec.DecodeError, data: bytes) -> str:
    """A JSON syntax error as ``malformed JSON: invalid character at line 3, column 7``."""
    text = str(exc)
    if "truncated" in text:
        return "malformed JSON: the file ends in the middle of a value (truncated?)"
    text = text.removeprefix("JSON is malformed: ")
    m = _BYTE.search(text)
    if m:
        pos = int(m.group(1))
        line = data.count(b"\n", 0, pos) + 1
        col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
        text = _BYTE.sub(f"at line {line}, column {col}", text)
    return f"malformed JSON: {_one_line(text)}"


def load_yaml(data: bytes, file: str) -> list[Any]:
    """Every document of a YAML file as plain Python data (no aliases, timestamps as str)."""
    import yaml

    try:
        text = strip_bom(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(file, f"not UTF-8 text (byte {e.start})") from None
    loader = _loader_class()(text)
    try:
        return _build(loader, file)
    except yaml.MarkedYAMLError as e:
        raise ParseError(file, _describe_yaml(e)) from None
    except yaml.YAMLError as e:
        raise ParseError(file, f"malformed YAML: {_one_line(str(e))}") from None
    finally:
        loader.dispose()


MAX_YAML_DEPTH: Final = 256  # Kubernetes objects nest ~20 deep; CRD schemas a few times that

_STR: Final = "tag:yaml.org,2002:str"
_COLLECTION_TAGS: Final = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _build(loader: Any, file: str) -> list[Any]:
    """Build documents from the parser's event stream with an explicit stack.

    Not ``yaml.load``: libyaml's composer recurses in C and crashes the interpreter on a few
    kilobytes of ``[[[[``; here depth is counted and capped. Aliases are refused (kubectl
    never writes them, and they let a small file expand without bound).
    """
    import yaml
    from yaml import events

    docs: list[Any] = []
    # Each frame: [container, pending mapping key, whether a key is pending]
    stack: list[list[Any]] = []
    root: list[Any] = []
    constructors = loader.yaml_constructors

    def add(value: Any, mark: Any) -> None:
        if not stack:
            root.append(value)
            return
        frame = stack[-1]
        container = frame[0]
        if isinstance(container, list):
            container.append(value)
        elif frame[2]:
            container[frame[1]] = value
            frame[2] = False
        else:
            try:
                hash(value)
            except TypeError:
                raise ParseError(file, f"unhashable mapping key{_at(mark)}") from None
            frame[1] = value
            frame[2] = True

    while True:
        event = loader.get_event()
        if isinstance(event, events.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _STR:
                add(event.value, event.start_mark)
                continue
            marks: tuple[Any, Any] = (event.start_mark, event.end_mark)
            node = yaml.ScalarNode(tag, event.value, *marks, style=event.style)
            ctor = constructors.get(tag) or constructors[None]
            add(ctor(loader, node), event.start_mark)
        elif isinstance(event, (events.MappingStartEvent, events.SequenceStartEvent)):
            if event.tag not in _COLLECTION_TAGS:
                raise ParseError(
                    file, f"YAML tag {event.tag!r} is not supported{_at(event.start_mark)}"
                )
            if len(stack) >= MAX_YAML_DEPTH:
                raise ParseError(
                    file, f"YAML nested more than {MAX_YAML_DEPTH} deep{_at(event.start_mark)}"
                )
            container: Any = {} if isinstance(event, events.MappingStartEvent) else []
            stack.append([container, None, False])
        elif isinstance(event, (events.MappingEndEvent, events.SequenceEndEvent)):
            done = stack.pop()[0]
            add(done, event.start_mark)
        elif isinstance(event, events.AliasEvent):
            raise ParseError(
                file, f"YAML anchors and aliases are not supported{_at(event.start_mark)}"
            )
        elif isinstance(event, events.DocumentEndEvent):
            docs.append(root[0] if root else None)
            root.clear()
        elif isinstance(event, events.StreamEndEvent) or event is None:
            return docs


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}" if mark is not None else ""


_LOADER: Any = None


def _loader_class() -> Any:
    """A SafeLoader (C when available) that keeps timestamps as the strings they were written."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class _Loader(base):  # type: ignore[misc, valid-type]
            pass

        def _as_str(loader: Any, node: Any) -> Any:
            return loader.construct_scalar(node)

        _Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_str)
        _LOADER = _Loader
    return _LOADER


def _describe_yaml(e: yaml.MarkedYAMLError) -> str:
    problem = e.problem or e.context or "malformed"
    mark = e.problem_mark or e.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"malformed YAML: {_one_line(problem)}{where}"


def _kind_of(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "str",
        int: "int",
        float: "float",
        bool: "bool",
        type(None): "null",
    }.get(type(value), type(value).__name__)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text: str, limit: int = 300) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
