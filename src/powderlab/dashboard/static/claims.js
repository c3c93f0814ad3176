// PowderLab dashboard: the claims ledger (Samples & XRD tab). Reading is open; a review needs a login.
"use strict";

(() => {
  const q = (sel, root = document) => root.querySelector(sel);
  const make = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return node;
  };
  const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`);
  const num = (v, d = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
  let selected = null;
  let listed = "";
  let plot = null;

  async function refresh() {
    let data;
    try { data = await (await fetch("/api/claims")).json(); } catch { return; }
    const box = q("#claims-none");
    if (!data.configured) { box.textContent = "No campaign store configured (dashboard parameter campaign_database)."; return; }
    box.textContent = data.claims.length ? "" : "No claims yet (one per analysed sample).";
    const key = JSON.stringify(data.claims.map((c) => [c.id, c.status, c.verdict, c.reviews.length]));
    if (key === listed) return;
    listed = key;
    q("#claims tbody").replaceChildren(...data.claims.map((c) => make("tr",
      { class: `claim-row verdict-${c.verdict.replace(" ", "-")}`, "data-claim": c.id, onclick: () => show(c.id) },
      make("td", {}, c.id), make("td", {}, c.target), make("td", {}, c.samples.join(", ")),
      make("td", { class: "verdict" }, c.verdict), make("td", { class: "status" }, c.status),
      make("td", {}, pct(c.evidence.figures?.target_yield)), make("td", {}, num(c.evidence.figures?.rwp)),
      make("td", { class: "muted" }, c.novelty))));
    if (selected !== null) show(selected);
  }

  async function show(id) {
    selected = id;
    const response = await fetch(`/api/claims/${id}`);
    if (!response.ok) return;
    const c = await response.json();
    const detail = q("#claim-detail");
    detail.hidden = false;
    q("#claim-title").textContent = `claim ${c.id}: ${c.headline}`;
    q("#claim-meta").textContent = `sample ${c.samples.join(", ")}, experiment ${c.experiment}, version ${c.version} of ${c.versions}, ${c.analysis_version}. Novelty: ${c.novelty}`
      + (c.evidence.warning ? ` — ${c.evidence.warning}` : "");
    q("#claim-checks tbody").replaceChildren(...(c.evidence.checks || []).map((k) => make("tr", { class: k.passed ? "" : "level-warn" },
      make("td", {}, k.name), make("td", {}, k.value === null ? "not reported" : num(k.value, 4)), make("td", {}, k.limit),
      make("td", {}, k.passed ? "ok" : "missed"))));
    const impurities = new Set((c.evidence.impurities || []).map((p) => p.phase_id));
    q("#claim-phases tbody").replaceChildren(...(c.evidence.phases || []).map((p) => make("tr", {},
      make("td", {}, p.phase_id ?? p.phase), make("td", {}, pct(p.weight_fraction)),
      make("td", {}, p.weight_fraction_esd === undefined ? "–" : `± ${pct(p.weight_fraction_esd)}`),
      make("td", {}, impurities.has(p.phase_id) ? "impurity" : "target"))));
    const alt = (c.evidence.alternatives || []).map((a) => `${a.note}: ${(a.phases || []).map((p) => `${p.phase_id} ${pct(p.weight_fraction)}`).join(", ") || "–"}, Rwp ${num(a.rwp)} (worse by ${num(a.delta_rwp)})`);
    const od = c.evidence.order_disorder;
    const odText = od ? `order-disorder: parents matched ${od.matches.map((m) => `${m.parent_id} (${m.parent_spacegroup}) with ${m.mixed_site}`).join("; ") || "none"} ${od.note}` : "order-disorder: not checked";
    q("#claim-hypotheses").replaceChildren(...alt.map((t) => make("li", {}, `alternative ${t}`)), make("li", {}, odText));
    q("#claim-reviews").replaceChildren(...c.reviews.map((r) => make("li", {}, `${r.decision} by ${r.reviewer}: ${r.comment}`)));
    q("#claim-versions").textContent = c.all_versions.map((v) => `#${v.id} v${v.version} ${v.verdict} [${v.status}]`).join(" · ");
    drawCurves(c.curves);
  }

  function drawCurves(curves) {
    const container = q("#claim-plot");
    if (plot) { plot.destroy(); plot = null; }
    if (!curves || !curves.two_theta || !curves.calculated || typeof uPlot === "undefined") { container.textContent = ""; return; }
    const diff = curves.observed.map((o, i) => o - curves.calculated[i]);
    plot = new uPlot({ width: Math.max(container.clientWidth, 500), height: 240,
      series: [{ label: "2θ" }, { label: "observed", stroke: "#111" }, { label: "calculated", stroke: "#c00" }, { label: "difference", stroke: "#888" }],
      scales: { x: { time: false } } }, [curves.two_theta, curves.observed, curves.calculated, diff], container);
  }

  async function review(decision) {
    if (selected === null) return;
    const response = await fetch(`/api/claims/${selected}/review`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-PowderLab": "1" },
      body: JSON.stringify({ decision, comment: q("#claim-comment").value }),
    });
    let result;
    try { result = await response.json(); } catch { result = { ok: false, message: `HTTP ${response.status}` }; }
    const box = q("#claim-review-result");
    box.textContent = result.message;
    box.className = result.ok ? "ok" : "bad";
    if (result.ok) { q("#claim-comment").value = ""; listed = ""; await refresh(); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    q("#claim-accept").addEventListener("click", () => review("accepted"));
    q("#claim-reject").addEventListener("click", () => review("rejected"));
    refresh();
    setInterval(refresh, 3000);
  });
})();
