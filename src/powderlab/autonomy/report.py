"""The campaign report: JSON and a self-contained HTML page (XRD fits, timeline, failures, recordings)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from powderlab.autonomy import store as tables
from powderlab.autonomy.claims_report import claims_document, claims_html
from powderlab.autonomy.store import Store
from powderlab.autonomy.summary import campaign_summary


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _fit_plot(curves: dict[str, list[float]] | None, title: str) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.0, 2.2))
    if curves and curves.get("two_theta"):
        axes.plot(curves["two_theta"], curves["observed"], lw=0.7, color="k", label="observed")
        if curves.get("calculated"):
            axes.plot(curves["two_theta"], curves["calculated"], lw=0.7, color="tab:red", label="fit")
            residual = [o - c for o, c in zip(curves["observed"], curves["calculated"], strict=False)]
            axes.plot(curves["two_theta"], residual, lw=0.5, color="tab:gray", label="residual")
        axes.legend(fontsize=6, loc="upper right")
    axes.set_title(title, fontsize=8)
    axes.set_xlabel("2-theta (deg)", fontsize=7)
    axes.tick_params(labelsize=6)
    return _png(figure)


def _timeline_plot(operations: list[dict[str, Any]], batches: list[dict[str, Any]], start: float) -> str:
    import matplotlib.pyplot as plt

    lanes: dict[str, list[tuple[float, float]]] = {}
    for op in operations:
        if op["started_s"] is None or op["ended_s"] is None:
            continue
        for resource in op["resources"] or []:
            if resource.startswith(("station:", "arm:")):
                lanes.setdefault(resource.split(":", 1)[1], []).append((op["started_s"], op["ended_s"]))
    for batch in batches:
        if batch["heat_started_s"] is not None and batch["heat_ended_s"] is not None:
            lanes.setdefault(batch["furnace"], []).append((batch["heat_started_s"], batch["heat_ended_s"]))
    names = sorted(lanes)
    figure, axes = plt.subplots(figsize=(9.0, 0.35 * len(names) + 1.0))
    for row, name in enumerate(names):
        spans = [((a - start) / 3600, max((b - a) / 3600, 0.01)) for a, b in lanes[name]]
        axes.broken_barh(spans, (row - 0.35, 0.7), color="tab:orange" if name.startswith("furnace") else "tab:blue")
    axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.set_xlabel("campaign time (h)", fontsize=8)
    axes.set_title("station, arm and furnace use", fontsize=9)
    return _png(figure)


def recordings(events: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """The campaign's recordings (events of kind 'recording', one per autonomy node run): rosbag2 bag folders
    (ADR 0108; older runs named a single MCAP file), each with its link from the report's folder and its size
    in bytes (None: not there, e.g. on another computer)."""
    found = []
    for event in events:
        if event["kind"] != "recording":
            continue
        path = Path(event["message"])
        try:
            link = path.resolve().relative_to(out.resolve()).as_posix()
        except ValueError:
            link = path.resolve().as_uri() if path.is_absolute() else path.as_posix()
        if path.is_dir():  # a bag folder: metadata.yaml and its .mcap file
            link += "/"
            size: int | None = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        else:
            size = path.stat().st_size if path.is_file() else None
        found.append({"path": str(path), "link": link, "bytes": size})
    return found


def write_report(store: Store, campaign_id: str, directory: str | Path, plots: bool = True) -> dict[str, Path]:
    """Write <dir>/campaign.json and <dir>/campaign.html; returns their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    summary = campaign_summary(store, campaign_id)
    analyses = {a["sample_id"]: a for a in store.rows(tables.analyses, campaign_id)}
    samples = store.rows(tables.samples, campaign_id)
    operations = store.rows(tables.operations, campaign_id)
    batches = store.rows(tables.batches, campaign_id)
    events = store.rows(tables.events, campaign_id)
    start = (store.campaign(campaign_id) or {}).get("sim_start") or 0.0
    failures = [
        {"time_h": round(((e["sim_time"] or 0.0) - start) / 3600, 2), "kind": e["kind"], "message": e["message"]}
        for e in events
        if e["kind"] in ("failure", "suspend", "resume", "recovery", "overrun", "waiting", "inventory", "abort")
    ]
    samples_by_experiment: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        analysis = analyses.get(sample["id"])
        samples_by_experiment.setdefault(sample["experiment_id"], []).append(
            {
                "sample": sample["id"],
                "crucible": sample["labware_id"],
                "status": sample["status"],
                "location": sample["location"],
                "failure": sample["failure"],
                "dosed_mg": sample["dosed_mg"],
                "analysis": analysis["result"] if analysis else None,
            }
        )
    document = {
        "summary": summary,
        "recordings": recordings(events, out),
        "samples": samples_by_experiment,
        "claims": claims_document(store, campaign_id),
        "failures": failures,
        "timeline": [
            {
                "op": o["id"],
                "station": o["station"],
                "action": o["action"],
                "purpose": o["purpose"],
                "sample": o["sample_id"],
                "batch": o["batch_id"],
                "start_h": None if o["started_s"] is None else round((o["started_s"] - start) / 3600, 4),
                "end_h": None if o["ended_s"] is None else round((o["ended_s"] - start) / 3600, 4),
                "state": o["state"],
                "error": o["error_msg"] if o["state"] != "succeeded" else "",
            }
            for o in operations
        ],
    }
    json_path = out / "campaign.json"
    json_path.write_text(json.dumps(document, indent=1))
    parts = [
        f"<html><head><meta charset='utf-8'><title>Campaign {html.escape(campaign_id)}</title>",
        "<style>body{font-family:sans-serif;font-size:13px;margin:20px} table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px} .made{color:green} .bad{color:#b00} .review{color:#b60}"
        "</style></head><body>",
        f"<h1>Campaign {html.escape(campaign_id)}</h1>",
        f"<p>planner: <b>{html.escape(summary['planner'])}</b>; analyzer: <b>{html.escape(summary['analyzer'])}</b>"
        f"; seed {summary['seed']}</p>",
        f"<p>{len(summary['targets_made'])} of {summary['targets_total']} targets made with "
        f"{summary['experiments']} experiments ({summary['samples']} samples) in {summary['sim_days']} simulated "
        f"days; {summary['samples_per_day']} samples/day against a furnace ceiling of "
        f"{summary['furnace_ceiling_per_day']} ({summary['share_of_ceiling']:.0%}).</p>",
    ]
    if summary["status"] != "finished":
        why = f": {html.escape(summary['reason'])}" if summary.get("reason") else ""
        parts.append(f"<p class='bad'><b>Campaign {html.escape(summary['status'])}</b>{why}</p>")
    if plots and (operations or batches):
        parts.append(f"<h2>Timeline</h2><img src='data:image/png;base64,{_timeline_plot(operations, batches, start)}'>")
    parts.append("<h2>Targets</h2>")
    for target in summary["targets"]:
        css = "made" if target["status"] == "made" else "bad"
        parts.append(f"<h3 class='{css}'>{html.escape(target['formula'])}: {target['status']}</h3><table>")
        parts.append("<tr><th>attempt</th><th>recipe</th><th>T max</th><th>yield</th><th>status</th><th>fit</th></tr>")
        for attempt in target["attempts"]:
            fits = []
            for sample in samples_by_experiment.get(attempt["experiment"], []):
                analysis = analyses.get(sample["sample"])
                if analysis and plots:
                    title = f"{sample['sample']} ({analysis['analyzer'][:40]})"
                    fits.append(f"<img src='data:image/png;base64,{_fit_plot(analysis['curves'], title)}'>")
                elif sample["failure"]:
                    fits.append(
                        f"<span class='bad'>{html.escape(sample['sample'])}: {html.escape(sample['failure'])}</span>"
                    )
            yield_text = "" if attempt["yield"] is None else f"{attempt['yield']:.0%}"
            precursors = ", ".join(f"{k} {v:g} mg" for k, v in attempt["precursors"].items())
            parts.append(
                f"<tr><td>{attempt['attempt']}</td><td>{html.escape(precursors)}<br><small>"
                f"{html.escape(attempt['reason'])}</small></td><td>{attempt['max_temperature_c']:g} C</td>"
                f"<td>{yield_text}</td><td>{html.escape(attempt['status'])} {html.escape(attempt['failure'])}</td>"
                f"<td>{''.join(fits)}</td></tr>"
            )
        parts.append("</table>")
    parts.append(claims_html(store, campaign_id, _fit_plot if plots else None))
    parts.append("<h2>Failures, suspensions and recoveries</h2><table><tr><th>h</th><th>kind</th><th>what</th></tr>")
    for item in failures:
        parts.append(
            f"<tr><td>{item['time_h']}</td><td>{item['kind']}</td><td>{html.escape(item['message'])}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Recordings</h2>")
    if document["recordings"]:
        parts.append(
            "<p>What the lab published (status, furnace temperatures, positions, joint states, XRD patterns, "
            "camera, /diagnostics, /rosout): rosbag2 bag folders for <code>ros2 bag info/play</code>, "
            "their .mcap file for Foxglove:</p><ul>"
        )
        for item in document["recordings"]:
            size = "missing" if item["bytes"] is None else f"{item['bytes'] / 1e6:.2f} MB"
            parts.append(
                f"<li><a class='recording' href='{html.escape(item['link'], quote=True)}'>"
                f"{html.escape(item['path'])}</a> ({size})</li>"
            )
        parts.append("</ul>")
    else:
        parts.append("<p>No recording (the campaign ran in-process, or its autonomy node recorded nothing).</p>")
    parts.append("</body></html>")
    html_path = out / "campaign.html"
    html_path.write_text("\n".join(parts))
    return {"json": json_path, "html": html_path}
