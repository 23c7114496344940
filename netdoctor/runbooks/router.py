"""The router: which runbook fits a symptom, by how much, and why. Deterministic, pure Python.

Runbooks layer. Steps, in order:

1. **Normalise**: NFKC (full-width letters, digits and punctuation become ASCII) then casefold.
2. **Entities first**: IPs and CIDRs, ``ns/pod`` references, Service names, DNS names, ports,
   node names, and the locality words ("跨节点" / "cross-node", "同节点" / "same node").
3. **Trigger hits**: a term containing Chinese matches as a substring; an English term on word
   boundaries (``-``, ``_`` and spaces inside a term are interchangeable, a plural ``s`` is
   allowed); a single English word of 5+ letters also matches a token one edit away (a typo),
   at 0.7 of its weight.
4. **Negation**: within the hit's clause (clauses split at punctuation and at "but"/"但"),
   a cue before it ("不是", "并非", "排除", "not", "isn't", "ruled out", ...) or an all-clear
   after it ("正常", "没问题", "works", "is fine", "ruled out", ...) cancels the hit.
   "没有" counts only in "没有 X 问题"; "not" does not after can/do/does/did (that is a symptom).
5. **Score** = sum of each trigger's weight (once per trigger) - weights of exclude terms hit
   + entity compatibility (:data:`ENTITY_BONUS`). When the cluster's CNI is known, a runbook
   written for it is lifted one point above the best generic runbook of its category (at least
   +1). Priority only breaks ties.
6. **Confidence**: a logistic (Platt) map of the score margin over the next runbook, fitted on
   the calibration half of the labelled utterances (``calibration.json``; refit with
   ``python -m netdoctor.runbooks.evaluate --fit``). Below the threshold (0.5), or when the best
   score is under :data:`MIN_EVIDENCE` (one weak word), the router abstains and shows the top
   three with their matched terms, or asks for the entity that would decide.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Final

from netdoctor.runbooks.model import Runbook, Trigger

__all__ = [
    "ENTITY_BONUS",
    "MIN_EVIDENCE",
    "Calibration",
    "Entities",
    "Hit",
    "Match",
    "Routing",
    "extract_entities",
    "find_hits",
    "load_calibration",
    "normalize",
    "route",
    "score_runbook",
]


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _is_cjk(term: str) -> bool:
    return bool(_CJK.search(term))


# ---------------------------------------------------------------------------------- entities

_IP = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:/(\d{1,2}))?(?![\d.])")
_REF = re.compile(r"(?<![\w./-])([a-z0-9][-a-z0-9]*)/([a-z0-9][-.a-z0-9]*[a-z0-9])(?![\w/])")
_SVC_REF = re.compile(r"(?<![\w-])(?:svc|service|services)/([a-z0-9][-./a-z0-9]*[a-z0-9])")
_SVC_WORD = re.compile(r"(?<![\w-])([a-z0-9][-a-z0-9]*-(?:svc|service))(?![\w-])")
_DOMAIN = re.compile(r"(?<![\w.-])((?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.)+[a-z][-a-z0-9]*)(?![\w-])")
_PORT = re.compile(
    r"(?:(?<=[a-z0-9\]]):(\d{2,5})(?!\d)|(?:port|端口|nodeport)\s*[:：]?\s*(\d{2,5})"
    r"|(?<![\w.])(\d{2,5})/(?:tcp|udp|sctp)\b)"
)
# Names that look like nodes on their own: worker-1, node2, master-0, gpu-05, k8s-node-3.
_NODE_NAME = re.compile(r"(?<![\w./-])(?:k8s-)?(?:worker|node|master|minion|gpu)-?\d+(?![\w.-])")
_NODE = re.compile(r"(?:node/|节点\s*|node\s+)([a-z][-a-z0-9]*\d[-a-z0-9]*)")
_INTERNAL: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
    )
)
_NOT_NS = frozenset(
    {
        "tcp",
        "udp",
        "sctp",
        "svc",
        "service",
        "services",
        "node",
        "nodes",
        "pod",
        "pods",
        "deploy",
        "deployment",
        "ds",
        "daemonset",
        "http",
        "https",
        "and",
        "or",
        "ns",
        "a",
        "b",
    }
)
_FILE_TLDS = frozenset({"json", "yaml", "yml", "txt", "log", "conf", "md", "sh", "py", "d"})

CROSS_NODE: Final = (
    "跨节点",
    "跨主机",
    "跨 node",
    "跨node",
    "不同节点",
    "不同的节点",
    "不同主机",
    "两个节点",
    "另一个节点",
    "别的节点",
    "cross-node",
    "cross node",
    "crossnode",
    "across nodes",
    "different nodes",
    "different node",
    "another node",
    "other node",
    "other nodes",
    "between nodes",
    "different hosts",
    "another host",
    "inter-node",
    "remote node",
    "其它节点",
    "其他节点",
    "另一台",
    "不同机器",
    "不同的机器",
    "不同服务器",
    "different workers",
    "different machines",
    "different servers",
    "separate nodes",
    "other worker",
    "other workers",
)
SAME_NODE: Final = (
    "同节点",
    "同一节点",
    "同一个节点",
    "同一台",
    "同主机",
    "同一主机",
    "本节点",
    "same node",
    "same host",
    "same-node",
    "one node",
    "local node",
    "intra-node",
    "own node",
    "同一个 node",
    "同一 node",
    "同 node",
    "同一台机器",
    "sharing a node",
    "share a node",
    "share a worker",
    "same worker",
    "same machine",
)


_LOCALITY_WORDS: Final = frozenset(normalize(w) for w in (*CROSS_NODE, *SAME_NODE))


@dataclass(frozen=True)
class Entities:
    ips: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()  # ns/pod
    services: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    nodes: tuple[str, ...] = ()
    locality: str | None = None  # "cross" | "same"

    @property
    def public_ips(self) -> tuple[str, ...]:
        """Addresses outside the private, shared, loopback and link-local ranges."""
        return tuple(
            i for i in self.ips if not any(ipaddress.ip_address(i) in n for n in _INTERNAL)
        )

    @property
    def cluster_domains(self) -> tuple[str, ...]:
        return tuple(d for d in self.domains if _cluster_domain(d))

    @property
    def external_domains(self) -> tuple[str, ...]:
        return tuple(d for d in self.domains if not _cluster_domain(d))

    @property
    def nodeports(self) -> tuple[int, ...]:
        return tuple(p for p in self.ports if 30000 <= p <= 32767)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            k: list(v)
            for k, v in (
                ("ips", self.ips),
                ("cidrs", self.cidrs),
                ("pods", self.pods),
                ("services", self.services),
                ("domains", self.domains),
                ("ports", self.ports),
                ("nodes", self.nodes),
            )
            if v
        }
        if self.locality:
            out["locality"] = self.locality
        return out


def _cluster_domain(d: str) -> bool:
    return d.endswith((".svc", ".cluster.local")) or ".svc." in d


def _uniq(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def extract_entities(norm: str, hits_negated: Sequence[tuple[int, int]] = ()) -> Entities:
    """Entities of a normalised symptom. Locality words inside a negated span do not count."""
    ips: list[str] = []
    cidrs: list[str] = []
    for m in _IP.finditer(norm):
        try:
            ipaddress.ip_address(m.group(1))
        except ValueError:
            continue
        (cidrs if m.group(2) else ips).append(m.group(0) if m.group(2) else m.group(1))
    services = [m.group(1) for m in _SVC_REF.finditer(norm)]
    services += [m.group(1) for m in _SVC_WORD.finditer(norm)]
    pods = []
    for m in _REF.finditer(norm):
        ns, name = m.group(1), m.group(2)
        if ns in _NOT_NS or name.isdigit() or _IP.fullmatch(m.group(0)):
            continue
        pods.append(f"{ns}/{name}")
    domains = []
    for m in _DOMAIN.finditer(norm):
        d = m.group(1)
        if d.rsplit(".", 1)[-1] in _FILE_TLDS or d.count(".") == 0:
            continue
        domains.append(d)
        if _cluster_domain(d):
            services.append(d.split(".", 1)[0])
    ports = []
    for m in _PORT.finditer(norm):
        value = int(next(g for g in m.groups() if g))
        if 0 < value < 65536:
            ports.append(value)
    nodes = [m.group(1) for m in _NODE.finditer(norm)]
    nodes += [m.group(0) for m in _NODE_NAME.finditer(norm)]

    def said(words: Sequence[str]) -> bool:
        for w in words:
            for start in _term_spans(norm, w):
                if not any(a <= start[0] < b for a, b in hits_negated):
                    return True
        return False

    locality = "cross" if said(CROSS_NODE) else "same" if said(SAME_NODE) else None
    if locality is None and len(set(nodes)) >= 2:
        locality = "cross"  # "a pod on worker-1 cannot reach one on worker-2"

    def cancelled(words: Sequence[str]) -> bool:
        return any(
            a <= span[0] < b
            for w in words
            for span in _term_spans(norm, w)
            for a, b in hits_negated
        )

    # "同节点正常", "only pods on the same node answer": the trouble is across nodes, and
    # "cross-node is fine": on one node.
    if locality is None and cancelled(SAME_NODE):
        locality = "cross"
    elif locality is None and cancelled(CROSS_NODE):
        locality = "same"
    return Entities(
        ips=_uniq(ips),
        cidrs=_uniq(cidrs),
        pods=_uniq(pods),
        services=_uniq(services),
        domains=_uniq(domains),
        ports=tuple(dict.fromkeys(ports)),
        nodes=_uniq(nodes),
        locality=locality,
    )


# -------------------------------------------------------------------------- matching terms


@cache
def _pattern(term: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in re.split(r"[\s_-]+", normalize(term)) if p]
    body = r"[\s_-]*".join(parts)
    return re.compile(rf"(?<![a-z0-9_.-]){body}(?:e?s)?(?![a-z0-9_-])")


def _term_spans(norm: str, term: str) -> list[tuple[int, int]]:
    t = normalize(term)
    if not t:
        return []
    if _is_cjk(t):
        out, i = [], norm.find(t)
        while i >= 0:
            out.append((i, i + len(t)))
            i = norm.find(t, i + 1)
        return out
    return [m.span() for m in _pattern(t).finditer(norm)]


def _one_edit(a: str, b: str) -> bool:
    """Damerau distance exactly 1 (substitution, insertion, deletion or transposition)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and (a[diff[1]] == b[diff[0]])
        )
    s, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(s) and s[i] == long_[i]:
        i += 1
    return s[i:] == long_[i + 1 :]


_TOKEN = re.compile(r"[a-z][a-z0-9]*")
_CLAUSE_BREAK = re.compile(
    r"[,;!?，。；！？、\n]|\.(?!\d)|\s(?:but|however|though|whereas|while)\s|但是|但|可是|不过|然而"
)
_PRE_ZH = ("不是", "并非", "并不是", "排除了", "排除", "已排除")
_PRE_EN = re.compile(r"(?<![a-z'])(not|isn't|aren't|wasn't|excluding|except|ruled out)(?![a-z])")
_NOT_AFTER = re.compile(r"(?:can|could|do|does|did|will|would|should|cannot|to)\s+$")
_POST_ZH = (
    "正常",
    "没问题",
    "没有问题",
    "是好的",
    "是通的",
    "能通",
    "可以通",
    "通的",
    "可以访问",
    "能访问",
    "已排除",
    "排除了",
    "无关",
    "没毛病",
    "都通",
)
_POST_EN = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(works|work|worked|working|is fine|are fine|fine|ok|okay|succeeds|"
    r"succeeded|responds|is reachable|are reachable|ruled out|is not the (?:problem|issue)|"
    r"no (?:problem|issue)s?)(?![a-z])"
)
_NEG_BEFORE_CUE = re.compile(r"(?:not|n't|never|no longer)\W+(?:\w+\W+)?$")


def _clauses(norm: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _CLAUSE_BREAK.finditer(norm):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(norm)))
    return spans


def _negated(norm: str, span: tuple[int, int], clauses: Sequence[tuple[int, int]]) -> bool:
    start, end = span
    c0, c1 = next(((a, b) for a, b in clauses if a <= start < max(b, a + 1)), (0, len(norm)))
    s = max(c0, start - 14)
    while s > c0 and norm[s - 1].isascii() and norm[s - 1].isalnum():
        s -= 1  # never cut a word in two ("cannot" is not "not")
    before = norm[s:start]
    after = norm[end : min(c1, end + 16)]
    for cue in _PRE_ZH:
        if cue in before:
            return True
    if "没有" in before and re.search(r"问题|故障|异常", norm[end:c1]):
        return True
    for m in _PRE_EN.finditer(before):
        if m.group(1) == "not" and _NOT_AFTER.search(before[: m.start()]):
            continue
        return True
    # "works on A but not on B": the all-clear is taken back by the next clause.
    nxt = norm[c1:].lstrip(" ,;，；")
    nxt = re.sub(r"^(?:but|但是|但|可是|不过|然而)\s*", "", nxt)
    if re.match(r"(?:not\b|不|没)", nxt):
        return False
    if re.match(r"\s*(?:都)?(?:能|可以)(?!不)", after):  # "dns 能解析", "pod ip 可以": it works
        return True
    if re.search(r"(?<![不没])(?:能|可以)\s*$", before):  # "能解析": can resolve
        return True
    said = norm[start:end]
    if said in _LOCALITY_WORDS and re.search(r"只能|只有|can only|only", norm[c0:start]):
        return True  # "只能访问本节点的 pod": the same node is what works
    for cue in _POST_ZH:
        i = after.find(cue)
        if i >= 0 and not re.search(r"[不没无非]\s*$", after[:i]):
            return True
    clear = _POST_EN.search(after)
    return bool(clear and not _NEG_BEFORE_CUE.search(after[: clear.start(1)]))


@dataclass(frozen=True)
class Hit:
    trigger: str  # the trigger's main term
    form: str  # what matched: the term, an alias, or "alias~token" for a typo
    weight: float
    negated: bool
    span: tuple[int, int]


def _typo_hit(
    norm: str,
    t: Trigger,
    tokens: Sequence[tuple[str, tuple[int, int]]],
    clauses: Sequence[tuple[int, int]],
) -> Hit | None:
    """A form whose words all match consecutive tokens, at most one edit off in words of 5+."""
    for form in t.forms:
        words = _TOKEN.findall(normalize(form))
        if _is_cjk(form) or not words or " ".join(words) != normalize(form).replace("-", " "):
            continue
        if not any(len(w) >= 5 for w in words):
            continue
        for i in range(len(tokens) - len(words) + 1):
            window = tokens[i : i + len(words)]
            if all(
                w == tok or (len(w) >= 5 and len(tok) >= 5 and _one_edit(w, tok))
                for w, (tok, _) in zip(words, window, strict=True)
            ) and any(w != tok for w, (tok, _) in zip(words, window, strict=True)):
                span = (window[0][1][0], window[-1][1][1])
                typed = norm[span[0] : span[1]]
                return Hit(
                    t.term, f"{form}~{typed}", t.weight * 0.7, _negated(norm, span, clauses), span
                )
    return None


def find_hits(norm: str, triggers: Sequence[Trigger]) -> list[Hit]:
    """For each trigger, its best hit in the text (a live hit beats a negated one)."""
    clauses = _clauses(norm)
    tokens = [(m.group(0), m.span()) for m in _TOKEN.finditer(norm)]
    out = []
    for t in triggers:
        best: Hit | None = None
        for form in t.forms:
            for span in _term_spans(norm, form):
                hit = Hit(t.term, form, t.weight, _negated(norm, span, clauses), span)
                if best is None or (best.negated and not hit.negated):
                    best = hit
        if best is None:
            best = _typo_hit(norm, t, tokens, clauses)
        if best is not None:
            out.append(best)
    return out


# ------------------------------------------------------------------------------- scoring

# Entity compatibility per category: what the symptom names, and how much it argues for
# (or against) each kind of runbook. Documented in docs/runbooks.md.
ENTITY_BONUS: Final[dict[str, dict[str, float]]] = {
    "pod_to_pod_cross_node": {"cross": 2.0, "same": -3.0, "two_endpoints": 0.5},
    "pod_to_pod_same_node": {"same": 2.0, "cross": -3.0, "two_endpoints": 0.5},
    "pod_to_pod": {"two_endpoints": 0.5},
    "pod_to_service": {"service": 1.5},
    "dns": {"cluster_domain": 1.0, "external_domain": 0.5},
    "pod_to_external": {"public_ip": 1.5, "external_domain": 0.5},
    "nodeport_ingress": {"nodeport": 1.5},
    "general": {},
}


def _entity_score(category: str, e: Entities) -> tuple[float, list[str]]:
    table = ENTITY_BONUS.get(category, {})
    facts = {
        "cross": e.locality == "cross",
        "same": e.locality == "same",
        "two_endpoints": len(e.pods) + len([i for i in e.ips if i not in e.public_ips]) >= 2,
        "service": bool(e.services),
        "cluster_domain": bool(e.cluster_domains),
        "external_domain": bool(e.external_domains),
        "public_ip": bool(e.public_ips),
        "nodeport": bool(e.nodeports),
    }
    score, used = 0.0, []
    for name, bonus in table.items():
        if facts.get(name):
            score += bonus
            used.append(f"<{name}>")
    return score, used


# An entity strong enough to make a generic runbook a candidate without any trigger word
# ("backend-svc hangs", "pods to 1.1.1.1 fail", "a pod on worker-1 ... one on worker-2").
_ENTITY_ONLY: Final[dict[str, str]] = {
    "pod_to_pod_cross_node": "<cross>",
    "pod_to_service": "<service>",
    "pod_to_external": "<public_ip>",
    "nodeport_ingress": "<nodeport>",
    "dns": "<cluster_domain>",
}


@dataclass(frozen=True)
class Match:
    runbook: Runbook
    score: float
    confidence: float
    matched: tuple[str, ...]  # the forms that hit, typos as "term~token"
    negated: tuple[str, ...]  # hits cancelled by a negation
    excluded: tuple[str, ...]  # exclude terms that hit
    entity: tuple[str, ...]  # entity facts that added or took away score
    trigger_score: float


@dataclass(frozen=True)
class Routing:
    text: str
    normalized: str
    entities: Entities
    matches: tuple[Match, ...]  # best first; only runbooks with at least one live trigger hit
    abstained: bool
    reason: str  # "" | "no_match" | "low_confidence"
    ask: tuple[str, ...] = field(default=())  # entities that would decide, when abstaining

    @property
    def best(self) -> Match | None:
        return None if self.abstained or not self.matches else self.matches[0]


# Below this score the best runbook rests on one weak word ("stuck", "timeout"): abstain,
# however far it is ahead of the rest.
MIN_EVIDENCE: Final = 2.0


@dataclass(frozen=True)
class Calibration:
    a: float = 1.5
    b: float = 0.0
    threshold: float = 0.5
    fitted_on: int = 0

    def confidence(self, margin: float) -> float:
        z = self.a * margin + self.b
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


@cache
def load_calibration() -> Calibration:
    item = resources.files(__package__).joinpath("calibration.json")
    try:
        raw = json.loads(item.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Calibration()
    return Calibration(
        a=float(raw["a"]),
        b=float(raw["b"]),
        threshold=float(raw["threshold"]),
        fitted_on=int(raw.get("fittedOn", 0)),
    )


def score_runbook(
    book: Runbook, norm: str, entities: Entities, cni: Sequence[str] = ()
) -> tuple[float, float, list[Hit], list[Hit], list[str]]:
    """(score, trigger score, hits, exclude hits, entity facts) of one runbook."""
    hits = find_hits(norm, book.triggers)
    live = [h for h in hits if not h.negated]
    trig = sum(h.weight for h in live)
    excl = [h for h in find_hits(norm, book.exclude) if not h.negated]
    ent, used = _entity_score(book.category, entities)
    score = trig - sum(h.weight for h in excl) + ent
    return score, trig, hits, excl, used


def route(
    text: str,
    books: Sequence[Runbook],
    *,
    cni: Sequence[str] = (),
    calibration: Calibration | None = None,
) -> Routing:
    """Rank *books* for the symptom *text*. ``cni``: the cluster's detected CNIs, if known."""
    cal = calibration or load_calibration()
    norm = normalize(text)
    pool = [b for b in books if not (cni and b.cni and not set(cni) & set(b.cni))]
    # Locality words inside a negated clause ("同节点正常") must not set the locality.
    negated_spans: list[tuple[int, int]] = []
    clauses = _clauses(norm)
    for w in (*CROSS_NODE, *SAME_NODE):
        for span in _term_spans(norm, w):
            if _negated(norm, span, clauses):
                negated_spans.append(span)
    entities = extract_entities(norm, negated_spans)
    scored = []
    for b in pool:
        score, trig, hits, excl, used = score_runbook(b, norm, entities, cni)
        # Without a trigger word, only a generic runbook may stand on a decisive entity.
        if trig <= 0 and (b.cni or _ENTITY_ONLY.get(b.category) not in used):
            continue
        scored.append((score, b, hits, excl, used, trig))
    # The cluster's CNI is known: a runbook written for it outranks the generic one of the same
    # category (by one point over the best generic score), since it runs the CNI's own checks.
    if cni:
        best_generic: dict[str, float] = {}
        for sc, b, *_ in scored:
            if not b.cni:
                best_generic[b.category] = max(best_generic.get(b.category, sc), sc)
        for i, (sc, b, hits, excl, used, trig) in enumerate(scored):
            if b.cni and set(cni) & set(b.cni):
                lift = max(1.0, best_generic.get(b.category, sc) - sc + 1.0)
                scored[i] = (sc + lift, b, hits, excl, [*used, "<cni>"], trig)
    scored.sort(key=lambda s: (-s[0], -s[1].priority, s[1].id))
    matches = []
    for i, (score, b, hits, excl, used, trig) in enumerate(scored):
        others = [s[0] for j, s in enumerate(scored) if j != i]
        margin = score - (max(others) if others else 0.0)
        matches.append(
            Match(
                runbook=b,
                score=round(score, 3),
                confidence=round(cal.confidence(margin), 3),
                matched=tuple(h.form for h in hits if not h.negated),
                negated=tuple(h.form for h in hits if h.negated),
                excluded=tuple(h.form for h in excl),
                entity=tuple(used),
                trigger_score=trig,
            )
        )
    if not matches:
        return Routing(text, norm, entities, (), True, "no_match")
    top = matches[0]
    if top.confidence >= cal.threshold and top.score > 0 and top.score >= MIN_EVIDENCE:
        return Routing(text, norm, entities, tuple(matches), False, "")
    ask: list[str] = []
    cats = {m.runbook.category for m in matches[:3]}
    if entities.locality is None and cats & {"pod_to_pod_cross_node", "pod_to_pod_same_node"}:
        ask.append("locality")
    if not entities.pods and not entities.ips and cats & {"pod_to_pod", "pod_to_pod_cross_node"}:
        ask.append("endpoints")
    if not entities.services and "pod_to_service" in cats:
        ask.append("service")
    return Routing(text, norm, entities, tuple(matches), True, "low_confidence", tuple(ask))
