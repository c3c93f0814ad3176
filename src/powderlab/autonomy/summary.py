"""A campaign's figures from its records: targets made, experiments, yields, throughput."""

from __future__ import annotations

from typing import Any

from powderlab.autonomy import store as tables
from powderlab.autonomy.store import Store
from powderlab.core.recipes import HeatingProfile

DAY_S = 86400.0


def campaign_summary(store: Store, campaign_id: str, furnace_slots: int | None = None) -> dict[str, Any]:
    """Everything `powderlab campaign --json` prints (plain data)."""
    campaign = store.campaign(campaign_id)
    if campaign is None:
        raise KeyError(campaign_id)
    targets = store.rows(tables.targets, campaign_id)
    experiments = store.rows(tables.experiments, campaign_id)
    samples = store.rows(tables.samples, campaign_id)
    batches = store.rows(tables.batches, campaign_id)
    operations = store.rows(tables.operations, campaign_id)
    config = campaign["config"] or {}
    start = campaign["sim_start"] or 0.0
    end = campaign["sim_end"] or max([o["ended_s"] or 0.0 for o in operations] + [start])
    duration = max(end - start, 0.0)
    by_target: dict[str, list[dict[str, Any]]] = {}
    for experiment in sorted(experiments, key=lambda e: (e["target_id"], e["attempt"])):
        recipe = experiment["recipe"]
        profile = HeatingProfile.from_list(recipe["heating"])
        by_target.setdefault(experiment["target_id"], []).append(
            {
                "experiment": experiment["id"],
                "attempt": experiment["attempt"],
                "recipe_id": recipe["recipe_id"],
                "precursors": {p["powder"]: p["target_mg"] for p in recipe["precursors"]},
                "max_temperature_c": profile.max_temperature_c,
                "status": experiment["status"],
                "yield": experiment["target_yield"],
                "failure": experiment["failure"],
                "reason": experiment["reason"],
            }
        )
    heated = [b for b in batches if b["heat_started_s"] is not None and b["heat_ended_s"] is not None]
    heat_durations = [b["heat_ended_s"] - b["heat_started_s"] for b in heated]
    members = {b["id"]: sum(1 for s in samples if s["batch_id"] == b["id"]) for b in heated}
    slots = furnace_slots or int(config.get("extra", {}).get("furnace_slots", 0)) or 32
    mean_heat = sum(heat_durations) / len(heat_durations) if heat_durations else 0.0
    measured = [s for s in samples if s["status"] in ("measured", "analysed")]
    per_day = len(measured) / (duration / DAY_S) if duration > 0 else 0.0
    ceiling = slots * DAY_S / mean_heat if mean_heat > 0 else 0.0
    slot_seconds = sum(members[b["id"]] * (b["heat_ended_s"] - b["heat_started_s"]) for b in heated)
    aborts = [e["message"] for e in store.rows(tables.events, campaign_id) if e["kind"] == "abort"]
    return {
        "campaign": campaign_id,
        "status": campaign["status"],
        **({"reason": aborts[-1]} if campaign["status"] == "aborted" and aborts else {}),
        "planner": config.get("extra", {}).get("planner", ""),
        "analyzer": config.get("extra", {}).get("analyzer", ""),
        "seed": campaign["seed"],
        "targets_total": len(targets),
        "targets_made": sorted(t["formula"] for t in targets if t["status"] == "made"),
        "targets_not_made": sorted(t["formula"] for t in targets if t["status"] != "made"),
        "experiments": sum(e["status"] != "cancelled" for e in experiments),
        "experiments_failed": sum(e["status"] == "failed" for e in experiments),
        "experiments_cancelled": sum(e["status"] == "cancelled" for e in experiments),
        "samples": len(samples),
        "samples_measured": len(measured),
        "samples_failed": sum(s["status"] in ("failed", "discarded") for s in samples),
        "operations": len(operations),
        "furnace_runs": len(heated),
        "mean_crucibles_per_run": round(sum(members.values()) / len(heated), 2) if heated else 0.0,
        "sim_duration_s": round(duration, 1),
        "sim_days": round(duration / DAY_S, 3),
        "samples_per_day": round(per_day, 2),
        "furnace_ceiling_per_day": round(ceiling, 2),
        "share_of_ceiling": round(per_day / ceiling, 3) if ceiling else 0.0,
        "furnace_slot_utilisation": round(slot_seconds / (slots * duration), 3) if duration else 0.0,
        "wall_s": round((campaign["wall_end"] or 0.0) - (campaign["wall_start"] or 0.0), 2)
        if campaign["wall_end"]
        else None,
        "targets": [
            {
                "formula": t["formula"],
                "status": t["status"],
                "made_by": t["made_by"],
                "best_yield": max((a["yield"] or 0.0 for a in by_target.get(t["id"], [])), default=0.0),
                "attempts": by_target.get(t["id"], []),
            }
            for t in targets
        ],
    }
