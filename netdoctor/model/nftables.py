"""A typed view of ``nft -j list ruleset``: tables, chains (with hook, priority and policy),
rules (their handle, their position in the chain, their expressions) and named sets.

Sits in the model layer. The bundle keeps the JSON as it was printed (``NetFacts.nft``);
``decode_ruleset`` turns it into these types. Expressions stay as nft's own JSON objects
(``{"match": {...}}``, ``{"accept": null}``): the libnftables-json schema is large and the
evaluator (``netdoctor.netfilter.nft``) reads the ones it knows and calls the rest unknown.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["NftChain", "NftRule", "NftRuleset", "NftSet", "decode_ruleset"]


class NftChain(msgspec.Struct, frozen=True, kw_only=True):
    family: str
    table: str
    name: str
    handle: int = 0
    type: str | None = None  # filter | nat | route, for base chains
    hook: str | None = None  # prerouting input forward output postrouting ingress
    prio: int | None = None
    policy: str | None = None  # accept | drop, for base chains

    @property
    def base(self) -> bool:
        return self.hook is not None


class NftRule(msgspec.Struct, frozen=True, kw_only=True):
    family: str
    table: str
    chain: str
    handle: int
    index: int  # 1-based position in its chain, as `nft -a list chain` shows the rules
    expr: tuple[dict[str, Any], ...] = ()
    comment: str | None = None


class NftSet(msgspec.Struct, frozen=True, kw_only=True):
    family: str
    table: str
    name: str
    type: str | list[str] = ""
    flags: tuple[str, ...] = ()
    elem: tuple[Any, ...] = ()


class NftRuleset(msgspec.Struct, frozen=True, kw_only=True):
    """The ruleset, keyed as nft names things: (family, table, name)."""

    chains: dict[tuple[str, str, str], NftChain] = msgspec.field(default_factory=dict)
    rules: dict[tuple[str, str, str], tuple[NftRule, ...]] = msgspec.field(default_factory=dict)
    sets: dict[tuple[str, str, str], NftSet] = msgspec.field(default_factory=dict)
    tables: tuple[tuple[str, str], ...] = ()  # (family, name) in the printed order

    def base_chains(self, hook: str, families: tuple[str, ...]) -> list[NftChain]:
        """Filter-type base chains on ``hook`` of these families, in the order the kernel
        runs them (lowest priority first; ties in printed order)."""
        found = [
            c
            for c in self.chains.values()
            if c.hook == hook and c.family in families and (c.type or "filter") == "filter"
        ]
        return sorted(found, key=lambda c: c.prio or 0)


_CHAIN_KEYS = ("family", "table", "name")


def _need(obj: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    for k in keys:
        if not isinstance(obj.get(k), str):
            raise ValueError(f"{what} without a {k!r} string: {str(obj)[:120]}")


def decode_ruleset(doc: dict[str, Any]) -> NftRuleset:
    """``{"nftables": [...]}`` as ``nft -j list ruleset`` prints it -> NftRuleset.

    Raises ValueError (one line) on a structure nft never prints."""
    items = doc.get("nftables")
    if not isinstance(items, list):
        raise ValueError('expected {"nftables": [...]}')
    chains: dict[tuple[str, str, str], NftChain] = {}
    rules: dict[tuple[str, str, str], list[NftRule]] = {}
    sets: dict[tuple[str, str, str], NftSet] = {}
    tables: list[tuple[str, str]] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"item {n} is not a one-key object")
        kind, body = next(iter(item.items()))
        if kind == "metainfo":
            continue
        if not isinstance(body, dict):
            raise ValueError(f"item {n} ({kind}) is not an object")
        if kind == "table":
            _need(body, ("family", "name"), "table")
            tables.append((body["family"], body["name"]))
        elif kind == "chain":
            _need(body, _CHAIN_KEYS, "chain")
            prio = body.get("prio")
            if prio is not None and not isinstance(prio, int):
                raise ValueError(f"chain {body['name']!r}: prio {prio!r} is not a number")
            chains[(body["family"], body["table"], body["name"])] = NftChain(
                family=body["family"],
                table=body["table"],
                name=body["name"],
                handle=int(body.get("handle") or 0),
                type=body.get("type"),
                hook=body.get("hook"),
                prio=prio,
                policy=body.get("policy"),
            )
        elif kind == "rule":
            _need(body, ("family", "table", "chain"), "rule")
            expr = body.get("expr", [])
            if not isinstance(expr, list) or not all(isinstance(e, dict) for e in expr):
                raise ValueError(f"rule handle {body.get('handle')}: expr is not a list of objects")
            key = (body["family"], body["table"], body["chain"])
            chain_rules = rules.setdefault(key, [])
            chain_rules.append(
                NftRule(
                    family=body["family"],
                    table=body["table"],
                    chain=body["chain"],
                    handle=int(body.get("handle") or 0),
                    index=len(chain_rules) + 1,
                    expr=tuple(expr),
                    comment=body.get("comment"),
                )
            )
        elif kind == "set":
            _need(body, _CHAIN_KEYS, "set")
            elem = body.get("elem", [])
            sets[(body["family"], body["table"], body["name"])] = NftSet(
                family=body["family"],
                table=body["table"],
                name=body["name"],
                type=body.get("type", ""),
                flags=tuple(body.get("flags", ())),
                elem=tuple(elem) if isinstance(elem, list) else (elem,),
            )
        # maps, flowtables, counters, quotas, ct helpers...: not needed to filter a packet
    return NftRuleset(
        chains=chains,
        rules={k: tuple(v) for k, v in rules.items()},
        sets=sets,
        tables=tuple(tables),
    )
