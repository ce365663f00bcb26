"""The five cluster designs of the seed, and how each maps to a compose file.

A design's compose file carries its test-facing facts in an ``x-mailha`` block: the
client endpoints (usually a virtual IP), the nodes and their addresses, the roles whose
images it needs and the protocol readiness checks. Override files may add to that block;
it is deep-merged here (compose itself would replace it whole).
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


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def read_x_mailha(files: list[Path]) -> dict:
    """The merged ``x-mailha`` block of a compose file and its overrides."""
    meta: dict = {}
    for f in files:
        try:
            doc = yaml.safe_load(Path(f).read_text()) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{f} is not valid YAML: {str(e).splitlines()[0]}") from e
        if not isinstance(doc, dict):
            raise UserError(f"{f} is not a compose file (its top level is not a mapping).")
        meta = deep_merge(meta, doc.get("x-mailha") or {})
    return meta
