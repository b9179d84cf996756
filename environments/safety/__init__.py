"""Wrappers that govern what the agent may do: the safety gate, secrets, the loop guard.

`wrap(env, options, out)` stacks them the way `gui-agent run` does (outermost first): the loop guard
(sees denied actions as the no-ops they are), the gate (sees the model's placeholders, not secret
values), secrets (substitutes values right before the environment).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from environments.base import Environment
from environments.safety.gate import SafetyGate, TerminalConfirm
from environments.safety.loop_guard import STOP_AFTER, WARN_AFTER, LoopGuard
from environments.safety.rules import DEFAULT_RULES, Rule, RuleSet, load_rules
from environments.safety.secrets import Secrets, parse_secrets

__all__ = ["DEFAULT_RULES", "LoopGuard", "Rule", "RuleSet", "SafetyGate", "Secrets", "TerminalConfirm",
           "add_arguments", "load_rules", "parse_secrets", "wrap", "wrappers"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("safety")
    g.add_argument("--rules", default=None, metavar="FILE",
                   help="safety rules (TOML): allow/deny/ask by action, keys, typed text, app; see README")
    g.add_argument("--confirm", action="store_true",
                   help="ask in the terminal before each action: approve, reject with a reason, or stop")
    g.add_argument("--allow-app", action="append", default=[], metavar="APP",
                   help="Android: only these apps may be opened (label or package; repeatable)")
    g.add_argument("--secret", action="append", default=[], metavar="NAME[=VALUE]",
                   help="the model types <secret:NAME>, the environment types VALUE (default: $NAME); never recorded")
    g.add_argument("--loop-warn", type=int, default=WARN_AFTER, metavar="K",
                   help=f"tell the model after K repeats or unchanged screens (default {WARN_AFTER})")
    g.add_argument("--loop-stop", type=int, default=STOP_AFTER, metavar="M",
                   help=f"end the episode as 'stuck' after M (default {STOP_AFTER}; 0 turns the loop guard off)")


def load_options(args: argparse.Namespace) -> RuleSet:
    """Read the rules file and fold its allowlists into the environment options before it is built."""
    from agent.errors import ConfigError

    rules = load_rules(args.rules)
    if rules.allow_domains and hasattr(args, "allow_domain"):
        args.allow_domain = [*args.allow_domain, *rules.allow_domains]
    if args.loop_stop and not 1 <= args.loop_warn <= args.loop_stop:
        raise ConfigError(f"--loop-warn must be between 1 and --loop-stop ({args.loop_stop}), got {args.loop_warn}")
    args.secrets = parse_secrets(args.secret)
    return rules


def wrappers(args: argparse.Namespace, rules: RuleSet, out: Path) -> tuple[list, list]:
    """The ``outer`` and ``inner`` wrapper factories for `environments.make.make_env` the options ask for:
    the gate and loop guard judge each action above the framework layers; secrets are substituted
    right above the adapter (below --dry-run, so a dry run records placeholders, never values)."""
    inner = [lambda env: Secrets(env, args.secrets)] if args.secrets else []
    confirm = TerminalConfirm(out / "confirm") if args.confirm else None
    outer = [lambda env: SafetyGate(env, rules, allow_apps=tuple(args.allow_app), confirm=confirm)]
    if args.loop_stop:
        outer.append(lambda env: LoopGuard(env, warn_after=args.loop_warn, stop_after=args.loop_stop))
    return outer, inner


def wrap(env: Environment, args: argparse.Namespace, rules: RuleSet, out: Path) -> Environment:
    """``env`` inside the secrets, gate and loop-guard wrappers the options ask for (no framework layers)."""
    outer, inner = wrappers(args, rules, out)
    for layer in [*inner, *outer]:
        env = layer(env)
    return env
