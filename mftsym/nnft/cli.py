"""``mftsym criticality SPEC [--set NAME=VALUE]``: the critical (sigma_b^2, sigma_w^2) line and the
susceptibilities of the spec's hidden layers."""

from __future__ import annotations


def add_parser(subparsers):
    p = subparsers.add_parser("criticality", help="critical (sigma_b^2, sigma_w^2) line and susceptibilities")
    p.add_argument("spec", help="spec TOML file, or example:NAME")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a [params] value")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..cli_common import load_cli_spec
    from .critical import criticality
    spec = load_cli_spec(args.spec, args.set)
    print(criticality(spec).report())
    return 0
