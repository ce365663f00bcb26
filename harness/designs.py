"""The five cluster designs of the seed, and how each maps to a compose file.

A design's compose file carries its test-facing facts in an ``x-mailha`` block: the
client endpoints (usually a virtual IP), the nodes and their addresses, the roles whose
images it needs and the protocol readiness checks. Override files may add to that block;
it is deep-merged here (compose itself would replace it whole).

Files are read as Compose reads them: ``!reset`` and ``!override`` are understood anywhere
(``read_compose_yaml``), so an override ``docker compose config`` accepts is accepted here too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from . import ROOT
from .errors import UserError

COMPOSE_DIR = ROOT / "compose"


@dataclass(frozen=True)
class DesignInfo:
    name: str
    numeral: str
    title: str


#: in the seed's order; names are what users type
DESIGNS: dict[str, DesignInfo] = {d.name: d for d in [
    DesignInfo("mirror", "I", "Live replication (mirroring)"),
    DesignInfo("functional_split", "II", "Functionally split"),
    DesignInfo("shared_storage", "III", "Shared storage cluster (NAS/SAN)"),
    DesignInfo("proxy", "IV", "Domain split (proxy mode)"),
    DesignInfo("high_end", "V", "High end cluster"),
]}

ALIASES = {"functional-split": "functional_split", "shared-storage": "shared_storage",
           "high-end": "high_end", "domain_split": "proxy", "domain-split": "proxy"}


def canonical(name: str) -> str:
    n = ALIASES.get(name.lower(), name.lower())
    if n not in DESIGNS:
        raise UserError(f"unknown design {name!r}; the designs are: {', '.join(DESIGNS)}.")
    return n


def compose_file(name: str) -> Path:
    n = canonical(name)
    p = COMPOSE_DIR / f"{n}.yml"
    if not p.exists():
        raise UserError(f"design {n!r} has no compose file yet ({p.relative_to(ROOT)}); the designs with one are: "
                        f"{', '.join(available()) or 'none'}.")
    return p


def available() -> list[str]:
    return [n for n in DESIGNS if (COMPOSE_DIR / f"{n}.yml").exists()]


class _Reset:
    """``!reset``: the key is removed from what earlier files set (its value is ignored)."""

    def __repr__(self) -> str:
        return "!reset"


RESET = _Reset()


class Override:
    """``!override VALUE``: VALUE replaces what earlier files set, whole (a mapping is not merged)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return f"!override {self.value!r}"


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Compose's two merge tags, ``!reset`` and ``!override``."""


def _reset(loader: ComposeLoader, node: yaml.Node) -> _Reset:
    return RESET


def _override(loader: ComposeLoader, node: yaml.Node) -> Override:
    # the node as if it had no tag: a mapping, a sequence or a plain scalar
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
    return Override(loader.construct_object(yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)))


ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def read_compose_yaml(path: Path):
    """A compose file as a Python value, ``!reset``/``!override`` as ``RESET``/``Override``."""
    return yaml.load(Path(path).read_text(), Loader=ComposeLoader)


def plain(v):
    """``v`` with the merge tags resolved as a first file's would be: ``!reset`` keys and items
    dropped, ``!override`` values unwrapped."""
    if isinstance(v, Override):
        return plain(v.value)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if x is not RESET}
    if isinstance(v, list):
        return [plain(x) for x in v if x is not RESET]
    return v


def deep_merge(a: dict, b: dict) -> dict:
    """``b`` layered over ``a`` as Compose layers an override over a mapping: mappings merge key
    by key; ``!reset`` removes a key; ``!override`` replaces a value whole (a mapping too);
    any other value — a scalar or a sequence — replaces the earlier one. (Compose appends most
    service sequences; within ``x-mailha`` a list is replaced, so an override that restates a
    list means what it says.)"""
    out = dict(a)
    for k, v in b.items():
        if v is RESET:
            out.pop(k, None)
        elif isinstance(v, Override):
            out[k] = plain(v.value)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = plain(v)
    return out


def read_x_mailha(files: list[Path]) -> dict:
    """The merged ``x-mailha`` block of a compose file and its overrides (``deep_merge``, in
    order). Needs no engine: ``docker compose config`` keeps only the last file's ``x-`` block,
    so the layering is done here."""
    meta: dict = {}
    for f in files:
        try:
            doc = read_compose_yaml(f) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{f} is not valid YAML: {str(e).splitlines()[0]}") from e
        if not isinstance(doc, dict):
            raise UserError(f"{f} is not a compose file (its top level is not a mapping).")
        block = doc.get("x-mailha")
        if block is RESET:
            meta = {}
        elif isinstance(block, Override):
            meta = plain(block.value) or {}
        else:
            meta = deep_merge(meta, block or {})
    return meta


def ready_checks(meta: dict, services: list[str] | None = None) -> list[dict]:
    """The readiness checks of a design in the order they are awaited.

    ``ready`` lists the protocol answers (SMTP, IMAP, POP3, HTTP, LDAP, RPC, Toxiproxy…).
    ``ready_extra`` maps a name to a check that only this way of building the design needs
    (the mirror's replicated-mailbox path, a back end's provisioning marker): each runs just
    before the first ``ready`` check of its service (a back end is provisioned before anyone
    logs in to it), the others after the protocol checks. An override drops one by name with
    ``name: !reset null`` (or all: ``ready_extra: !reset {}``) without restating ``ready``.
    ``services``: only the checks of these services."""
    extra = [dict(c, name=n) for n, c in (meta.get("ready_extra") or {}).items() if isinstance(c, dict)]
    out: list[dict] = []
    for spec in meta.get("ready") or []:
        svc = spec.get("service")
        if svc:
            out += [c for c in extra if c.get("service") == svc]
            extra = [c for c in extra if c.get("service") != svc]
        out.append(spec)
    out += extra
    if services is not None:
        out = [c for c in out if c.get("service") in services]
    return out
