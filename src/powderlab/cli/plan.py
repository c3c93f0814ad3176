"""`powderlab plan`: screen targets, propose new ones, first recipes, and the planner's target queue.

Offline subcommands: `screen`, `propose-targets` (substitution + CHGNet), `recipes`. Queue
subcommands (`submit`, `next`, `report`, `queue`) work on a state file (`--state`, default
plan-state.json) or, with `--ros`, on a running planner node (`python -m powderlab.nodes.planner_node`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

DEFAULT_STATE = "plan-state.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="AI planner: screen and propose targets, recipes, target queue")
    commands = parser.add_subparsers(dest="plan_command", required=True, metavar="SUBCOMMAND")

    screen = commands.add_parser("screen", help="hull, air and dosability checks of library phases, explained")
    screen.add_argument("targets", nargs="+", help="formulas or phase ids")
    screen.add_argument("--hull-threshold", type=float, default=0.025, help="eV/atom above the hull allowed")
    screen.add_argument("--json", action="store_true")
    screen.set_defaults(handler=run_screen)

    propose = commands.add_parser(
        "propose-targets", help="new targets of a chemical system: ion substitution, CHGNet relaxation, screening"
    )
    propose.add_argument("elements", nargs="+", help="elements, e.g. Na Al O")
    propose.add_argument("--limit", type=int, default=3, help="candidates to relax (each takes seconds)")
    propose.add_argument("--steps", type=int, default=60, help="CHGNet relaxation steps per candidate")
    propose.add_argument("--hull-threshold", type=float, default=0.025)
    propose.add_argument("--json", action="store_true")
    propose.set_defaults(handler=run_propose_targets)

    recipes = commands.add_parser("recipes", help="the first recipes of a target, ranked by driving force")
    recipes.add_argument("target")
    recipes.add_argument("--count", type=int, default=5)
    recipes.add_argument("--site", default="default", help="site profile whose dosing heads are the inventory")
    recipes.add_argument("--json", action="store_true")
    recipes.set_defaults(handler=run_recipes)

    for name, helptext, handler in (
        ("submit", "queue targets from a YAML/JSON file (formula, optional structure, optional energy)", run_submit),
        ("next", "the next recipe for a queued target", run_next),
        ("report", "report the outcome (analysed phases) of a proposed recipe", run_report),
        ("queue", "the target queue", run_queue),
    ):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--state", default=DEFAULT_STATE, help="state file of the queue (without --ros)")
        sub.add_argument("--planner", default="arrows", help="arrows, ranking or random (new state files)")
        sub.add_argument("--ros", action="store_true", help="talk to a running planner node instead")
        sub.add_argument("--namespace", default="", help="ROS namespace of the planner node (with --ros)")
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(handler=handler)
        if name == "submit":
            sub.add_argument("file")
        if name in ("next", "report"):
            sub.add_argument("target")
        if name == "report":
            sub.add_argument("recipe_id")
            sub.add_argument("--yield", dest="target_yield", type=float, help="target weight fraction 0..1")
            sub.add_argument("--phase", action="append", default=[], metavar="ID=FRACTION", help="an analysed phase")
            sub.add_argument("--failed", default="", metavar="REASON", help="the experiment failed in the lab")


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=1) if args.json else text)


def run_screen(args: argparse.Namespace) -> int:
    from powderlab.planner.screening import Screener

    screener = Screener(hull_threshold_ev=args.hull_threshold)
    results = [screener.screen(name) for name in args.targets]
    _emit(args, [r.to_dict() for r in results], "\n".join(r.explain() for r in results))
    return 0 if all(r.passed for r in results) else 1


def run_propose_targets(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from powderlab.planner.candidates import propose_targets

    candidates = propose_targets(
        args.elements, limit=args.limit, steps=args.steps, hull_threshold_ev=args.hull_threshold
    )
    if not candidates:
        _emit(args, [], f"no substitution candidate for {' '.join(args.elements)} (no prototype with as many cations)")
        return 1
    text = "\n\n".join(c.explain() for c in candidates)
    _emit(args, [c.to_dict() for c in candidates], text)
    return 0 if any(c.passed for c in candidates) else 1


def run_recipes(args: argparse.Namespace) -> int:
    from powderlab.planner.inventory import Inventory
    from powderlab.planner.recipes import first_recipes, precursor_sets

    sets = precursor_sets(args.target, Inventory.from_site(args.site))
    choices = first_recipes(sets, args.count)
    data, lines = [], []
    for number, choice in enumerate(choices, start=1):
        recipe = choice.recipe()
        doses = ", ".join(f"{d.powder} {d.target_mg:.1f} mg" for d in recipe.precursors)
        lines.append(f"{number}. {recipe.recipe_id}: {doses}\n   " + "\n   ".join(choice.why))
        data.append({"recipe": recipe.to_dict(), "why": list(choice.why)})
    if not choices:
        lines.append(f"no precursor set for {args.target} from the inventory of site {args.site}")
    _emit(args, data, "\n".join(lines))
    return 0 if choices else 1


# --- the queue: a state file or the planner node ---------------------------------------------


class _Ros:
    def __init__(self, namespace: str) -> None:
        from powderlab.nodes.lab_client import LabClient
        from powderlab.nodes.planner_node import PlannerClient

        self.lab = LabClient(namespace)
        self.client = PlannerClient(self.lab.node)

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.lab.close()


def _service(args: argparse.Namespace) -> Any:
    from powderlab.planner.service import PlannerService

    if Path(args.state).exists():
        return PlannerService.load(args.state)
    return PlannerService(args.planner)


def run_submit(args: argparse.Namespace) -> int:
    text = Path(args.file).read_text()
    if args.ros:
        with _Ros(args.namespace) as client:
            response = client.submit(text)
        _emit(
            args,
            {"success": response.success, "targets": list(response.targets), "message": response.message},
            response.message,
        )
        return 0 if response.success else 1
    import yaml

    service = _service(args)
    result = service.submit(yaml.safe_load(text))
    service.save(args.state)
    lines = [f"{len(result.accepted)} targets queued: {', '.join(e.formula for e in result.accepted)}"]
    lines += [f"error: {e}" for e in result.errors] + [f"warning: {w}" for w in result.warnings]
    data = {"accepted": [e.formula for e in result.accepted], "errors": result.errors, "warnings": result.warnings}
    _emit(args, data, "\n".join(lines))
    return 0 if not result.errors else 1


def run_next(args: argparse.Namespace) -> int:
    if args.ros:
        with _Ros(args.namespace) as client:
            response = client.propose(args.target)
        if not response.success:
            print(f"powderlab plan next: {response.message}")
            return 2
        doses = ", ".join(f"{d.powder} {d.target_mg:.1f} mg" for d in response.recipe.precursors)
        text = (
            f"{response.recipe.recipe_id}: {doses}\n  why: {response.reason}"
            if response.has_recipe
            else (f"no recipe: {response.reason}")
        )
        _emit(
            args,
            {"has_recipe": response.has_recipe, "recipe_id": response.recipe.recipe_id, "reason": response.reason},
            text,
        )
        return 0 if response.has_recipe else 1
    service = _service(args)
    record = service.propose(args.target)
    service.save(args.state)
    queued = service.target(args.target)
    if record is None:
        _emit(args, {"has_recipe": False, "reason": queued.last_reason}, f"no recipe: {queued.last_reason}")
        return 1
    doses = ", ".join(f"{d.powder} {d.target_mg:.1f} mg" for d in record.recipe.precursors)
    _emit(
        args,
        {"has_recipe": True, "recipe": record.recipe.to_dict(), "reason": record.reason},
        f"{record.recipe.recipe_id}: {doses}\n  why: {record.reason}",
    )
    return 0


def _phases(items: list[str]) -> dict[str, float]:
    from powderlab.core.errors import ValidationError

    phases = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            phases[name.strip()] = float(value)
        except ValueError:
            raise ValidationError("--phase", f"'{item}'; expected ID=FRACTION, e.g. LiCoO2=0.42") from None
    return phases


def run_report(args: argparse.Namespace) -> int:
    phases = _phases(args.phase)
    target_yield = args.target_yield if args.target_yield is not None else phases.get(args.target)
    if args.ros:
        with _Ros(args.namespace) as client:
            response = client.report(args.target, args.recipe_id, target_yield or 0.0, phases, args.failed)
        _emit(
            args,
            {"success": response.success, "status": response.target_status, "message": response.message},
            f"{response.target_status or 'error'}: {response.message}",
        )
        return 0 if response.success else 2
    service = _service(args)
    queued = service.report(args.target, args.recipe_id, target_yield, phases, failure=args.failed)
    service.save(args.state)
    _emit(args, queued.to_dict(), f"{queued.formula}: {queued.status} ({queued.last_reason})")
    return 0


def run_queue(args: argparse.Namespace) -> int:
    if args.ros:
        with _Ros(args.namespace) as client:
            message = client.queue()
        items = [
            {
                "formula": t.formula,
                "status": t.status,
                "experiments": t.experiments,
                "budget": t.budget,
                "best_yield": t.best_yield,
                "last_reason": t.last_reason,
            }
            for t in message.targets
        ]
    else:
        items = _service(args).queue()
    lines = [f"{'target':<14} {'status':<10} {'exp':>3}/{'bud':<3} {'best':>5}  last reason"]
    lines += [
        f"{i['formula']:<14} {i['status']:<10} {i['experiments']:>3}/{i['budget']:<3} {i['best_yield']:>5.2f}  "
        f"{i['last_reason'][:100]}"
        for i in items
    ]
    _emit(args, items, "\n".join(lines))
    return 0
