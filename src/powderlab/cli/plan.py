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

    screen = commands.add_parser(
        "screen", help="hull, air and dosability checks, explained; a formula not in the library is predicted first"
    )
    screen.add_argument("targets", nargs="+", help="formulas or phase ids")
    screen.add_argument("--hull-threshold", type=float, default=0.025, help="eV/atom above the hull allowed")
    screen.add_argument("--candidates", type=int, default=3, help="new formula: prototype structures to relax")
    screen.add_argument("--competitors", type=int, default=2, help="new formula: competing phases to generate")
    screen.add_argument("--steps", type=int, default=60, help="new formula: CHGNet relaxation steps per structure")
    screen.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="new formula: keep the predicted structure in this candidate library, where a campaign, the analysis "
        "and the twin find it (default: candidates.json in the user phase folder, POWDERLAB_PHASE_DIR)",
    )
    screen.add_argument("--no-save", action="store_true", help="new formula: do not keep the predicted structure")
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

    recipes = commands.add_parser(
        "recipes",
        help="first recipes of any target formula: literature precedent, driving force, temperature",
        description="First recipes for a target formula (stoichiometric or doped) or for every target of a "
        "file: precursor sets similar targets of the literature used (Kononova et al., Sci. Data 2019; "
        "He et al., Sci. Adv. 2023), balanced with their gases, ranked with the driving force, each with why.",
    )
    recipes.add_argument("target", nargs="?", help="a formula, e.g. Ba0.8Sr0.2TiO3 (or --targets-file)")
    recipes.add_argument("--targets-file", metavar="FILE", help="one target formula a line (# comments)")
    recipes.add_argument(
        "--inventory",
        metavar="FILE",
        help="powders, one formula a line (# comments); default: the site's dosing heads and powder store",
    )
    recipes.add_argument("--count", type=int, default=5, help="recipes per target (default 5)")
    recipes.add_argument("--batch-mg", type=float, default=1000.0, help="batch mass for the printed masses (mg)")
    recipes.add_argument(
        "--site", default="default", help="site profile whose dosing heads and powder store are the default inventory"
    )
    recipes.add_argument("--json", action="store_true", help="one JSON object keyed by target")
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
    from powderlab.chemistry.candidates import default_candidates_path, save_candidate
    from powderlab.chemistry.phases import default_library
    from powderlab.core.errors import UnknownResourceError
    from powderlab.planner.formula_screen import screen_formula
    from powderlab.planner.screening import Screener

    screener = Screener(hull_threshold_ev=args.hull_threshold)
    results: list[Any] = []
    for name in args.targets:
        try:
            default_library().find(name)
        except UnknownResourceError:  # a formula alone: predict its structure first (CHGNet)
            predicted = screen_formula(
                name,
                hull_threshold_ev=args.hull_threshold,
                candidates=args.candidates,
                competitors=args.competitors,
                steps=args.steps,
            )
            if predicted.phase is not None and not args.no_save:  # the campaign's target by formula (ADR 0109)
                saved = save_candidate(args.save or default_candidates_path(), predicted.phase)
                predicted.notes.append(f"kept structure saved as {predicted.phase.phase_id} in {saved}")
            results.append(predicted)
            continue
        results.append(screener.screen(name))
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
    from powderlab.core.errors import ValidationError
    from powderlab.planner.literature import Inventory
    from powderlab.planner.literature_recipes import FirstRecipePlanner

    if (args.target is None) == (args.targets_file is None):
        raise ValidationError("plan recipes", "give one target formula or --targets-file FILE (not both)")
    if args.count < 1:
        raise ValidationError("--count", f"{args.count}; allowed: 1 or more")
    targets = [args.target] if args.target is not None else _targets_file(args.targets_file)
    if args.inventory:
        inventory = Inventory.from_file(args.inventory)
    else:
        from powderlab.planner.inventory import Inventory as SiteInventory

        site = SiteInventory.from_site(args.site)
        inventory = Inventory(site.powders, site.source)
    planner = FirstRecipePlanner(inventory)
    data: dict[str, Any] = {}
    lines: list[str] = []
    for target in targets:
        try:
            recipes = planner.recipes(target, args.count)
        except ValidationError as error:
            data[target] = {"error": str(error).split(": ", 1)[-1]}
            lines.append(f"{target}: error: {data[target]['error']}")
            continue
        data[target] = [r.to_dict() for r in recipes]
        lines.append(f"{target}: {len(recipes)} recipes from {inventory.source or 'the inventory'}")
        for number, recipe in enumerate(recipes, start=1):
            masses = ", ".join(f"{name} {mg:.1f} mg" for name, mg in recipe.masses_mg(args.batch_mg).items())
            lines.append(f"  {number}. {' + '.join(recipe.precursors)} at {recipe.temperature_c:.0f} C")
            lines.append(f"     {recipe.equation}")
            lines.append(f"     {args.batch_mg:g} mg batch: {masses}")
            lines += [f"     why: {reason}" for reason in recipe.why]
    _emit(args, data, "\n".join(lines))
    return 1 if any(isinstance(v, dict) for v in data.values()) else 0


def _targets_file(path: str) -> list[str]:
    from powderlab.core.errors import ValidationError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError("--targets-file", f"cannot read {path}: {error.strerror or error}") from None
    targets = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not targets:
        raise ValidationError("--targets-file", f"{path} lists no target (one formula a line)")
    return targets


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
