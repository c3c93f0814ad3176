// PowderLab dashboard: live state over a websocket, commands over POST /api/command.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
};
const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(digits));
const clock = (seconds) => {
  const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};
const wallTime = (seconds) => new Date(seconds * 1000).toLocaleTimeString();

let state = null;
const plots = {};

// --- commands -------------------------------------------------------------------------------

function showResult(result) {
  const box = $("#command-result");
  box.hidden = false;
  box.className = result.ok ? "ok" : "bad";
  box.textContent = result.message;
  clearTimeout(showResult.timer);
  showResult.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-PowderLab": "1" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  let data;
  try { data = await response.json(); } catch { data = { ok: false, message: `HTTP ${response.status}` }; }
  return data;
}

async function send(body, quiet = false) {
  const result = await post("/api/command", body);
  if (!quiet || !result.ok) showResult(result);
  return result;
}

// --- jogging: press and hold; one step per 100 ms, at most one request in flight -------------

function startJog(button) {
  if (button.dataset.held) return;
  button.dataset.held = "1";
  button.classList.add("held");
  let inFlight = false;
  const step = async () => {
    if (!button.dataset.held || inFlight) return;
    inFlight = true;
    const speed = Number($("#jog-speed").value) * Number(button.dataset.dir);
    const result = await send({ command: "jog", arm: button.dataset.arm, frame: button.dataset.frame,
      axis: Number(button.dataset.axis), speed }, true);
    inFlight = false;
    if (!result.ok) stopJog(button);
  };
  step();
  button._timer = setInterval(step, 100);
}

function stopJog(button) {
  delete button.dataset.held;
  button.classList.remove("held");
  clearInterval(button._timer);
}

function jogButton(arm, frame, axis, dir) {
  const button = el("button", { class: "jog", type: "button", dataset: { arm, frame, axis, dir } }, dir > 0 ? "+" : "−");
  button.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    try { button.setPointerCapture(e.pointerId); } catch { /* synthetic events have no pointer to capture */ }
    startJog(button);
  });
  for (const ev of ["pointerup", "pointercancel", "lostpointercapture", "pointerleave"]) button.addEventListener(ev, () => stopJog(button));
  return button;
}
window.addEventListener("blur", () => $$("button.jog.held").forEach(stopJog));

// --- rendering ------------------------------------------------------------------------------

function renderHeader(s) {
  const badge = $("#lab-state");
  if (s.estop.engaged) { badge.textContent = "E-STOP"; badge.className = "badge bad"; }
  else if (!s.health.seen) { badge.textContent = "no lab manager"; badge.className = "badge"; }
  else if (s.health.all_active) { badge.textContent = "all active"; badge.className = "badge ok"; }
  else { badge.textContent = "not all active"; badge.className = "badge bad"; }
  $("#lab-time").textContent = `lab time ${clock(s.lab_time)}`;
  const banner = $("#estop-banner");
  banner.hidden = !s.estop.engaged;
  banner.textContent = s.estop.engaged ? `EMERGENCY STOP engaged by ${s.estop.source || "?"}: ${s.estop.reason}. Fix the cause, then Reset.` : "";
  $("#login-form").hidden = !!s.user;
  $("#logged-in").hidden = !s.user;
  $("#user-name").textContent = s.user ? `logged in as ${s.user}` : "";
  document.body.classList.toggle("readonly", !s.user);
  $("#login-button").title = s.users_configured ? "" : "no users configured: powderlab dashboard add-user NAME";
}

function renderStations(s) {
  const body = $("#stations tbody");
  body.replaceChildren(...Object.values(s.stations).map((st) => el("tr", { dataset: { station: st.name } },
    el("td", {}, el("b", {}, st.name), " ", el("span", { class: "muted" }, st.kind)),
    el("td", { class: "lifecycle" }, st.lifecycle),
    el("td", {}, el("span", { class: `badge mode mode-${st.mode}` }, st.mode)),
    el("td", { class: "operation" }, st.operation),
    el("td", { class: "muted" }, st.goal_id),
    el("td", {}, st.sample_id || st.labware_id),
    el("td", { class: "message" }, st.message),
    el("td", {},
      el("button", { class: "cmd", onclick: () => send({ command: "pause", stations: [st.name] }) }, "Pause"),
      el("button", { class: "cmd", onclick: () => send({ command: "resume", stations: [st.name] }) }, "Resume")),
  )));
  const troubled = Object.values(s.stations).filter((st) => st.mode === "fault" || st.mode === "estopped");
  $("#recovery").hidden = troubled.length === 0;
  $("#faulted").replaceChildren(...troubled.map((st) => el("div", {}, el("b", {}, st.name), `: ${st.mode} — ${st.message}`)));
  const dosing = Object.values(s.stations).find((st) => st.kind === "dosing");
  const balance = dosing?.devices.find((d) => d.kind === "balance");
  $("#balance-reading").textContent = balance ? `load ${fmt(balance.values.load_mg, 2)} mg, tare ${fmt(balance.values.tare_mg, 2)} mg` : "";
}

function furnacePlot(name, container) {
  const opts = {
    width: Math.max(260, container.clientWidth - 12), height: 150,
    scales: { x: { time: false } },
    axes: [{ label: "lab time (h)", size: 40 }, { label: "°C", size: 48 }],
    series: [{ value: (u, v) => (v == null ? "–" : v.toFixed(2) + " h") },
      { label: "temperature", stroke: "#c62828", width: 2 },
      { label: "setpoint", stroke: "#1f5fbf", dash: [4, 4] }],
    legend: { show: false },
  };
  return new uPlot(opts, [[], [], []], container);
}

function renderFurnaces(s) {
  const root = $("#furnaces");
  for (const f of s.furnaces) {
    let card = $(`.furnace[data-furnace="${f.name}"]`, root);
    if (!card) {
      card = el("div", { class: "furnace", dataset: { furnace: f.name } },
        el("div", { class: "row" }, el("b", {}, f.name), el("span", { class: "temperature" }),
          el("span", { class: "setpoint muted" }), el("span", { class: "door badge" })),
        el("div", { class: "row" }, el("span", { class: "program muted" }),
          el("button", { class: "cmd open-door", onclick: () => send({ command: "manual", station: f.station, action: "open_door", target: f.name }) }, "Open door"),
          el("button", { class: "cmd close-door", onclick: () => send({ command: "manual", station: f.station, action: "close_door", target: f.name }) }, "Close door")),
        el("div", { class: "plot" }));
      root.append(card);
      plots[f.name] = furnacePlot(f.name, $(".plot", card));
    }
    $(".temperature", card).textContent = `${fmt(f.temperature_c)} °C`;
    $(".setpoint", card).textContent = `setpoint ${fmt(f.setpoint_c)} °C`;
    $(".door", card).textContent = `door ${f.door}`;
    $(".program", card).textContent = `${f.program_running ? `program segment ${f.segment_index + 1}` : "no program"}, ${f.slots_occupied}/${f.slot_count} slots`;
  }
}

async function refreshHistory() {
  try {
    const history = await (await fetch("/api/history")).json();
    for (const [name, series] of Object.entries(history)) {
      if (!plots[name] || !series.length) continue;
      const [t, temperature, setpoint] = series;
      plots[name].setData([t.map((x) => x / 3600), temperature, setpoint]);
    }
  } catch { /* next time */ }
}

function selectPosition(p) {
  $$(".cell.selected").forEach((c) => c.classList.remove("selected"));
  $(`.cell[data-position="${p.name}"]`)?.classList.add("selected");
  $("#pos-name").value = p.name;
  $("#pos-labware").value = p.labware_id;
  $("#pos-sample").value = p.sample_id;
  if (p.labware_kind) $("#pos-kind").value = p.labware_kind;
}

function renderPositions(s) {
  const groups = new Map();
  for (const p of s.positions) {
    const group = p.name.includes("/") ? p.name.slice(0, p.name.lastIndexOf("/")) : p.name;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(p);
  }
  const selected = $("#pos-name").value;
  $("#positions").replaceChildren(...[...groups].map(([group, positions]) => el("div", { class: "rack" },
    el("h3", {}, group),
    el("div", { class: "cells" }, ...positions.map((p) => {
      const label = p.name.slice(p.name.lastIndexOf("/") + 1).replace("slot_", "");
      const title = `${p.name}: ${p.state}${p.labware_id ? ` — ${p.labware_id}` : ""}${p.sample_id ? ` (${p.sample_id})` : ""}${p.locked_by ? ` locked by ${p.locked_by}` : ""}`;
      return el("button", { type: "button", class: `cell ${p.state}${p.name === selected ? " selected" : ""}`, title,
        dataset: { position: p.name, state: p.state, labware: p.labware_id }, onclick: () => selectPosition(p) }, label.slice(0, 3));
    })))));
  const source = $("#scan-source");
  const current = source.value;
  const occupied = s.positions.filter((p) => p.labware_id && !p.name.includes("gripper"));
  source.replaceChildren(...occupied.map((p) => el("option", { value: p.name }, `${p.name} (${p.labware_id})`)));
  if (occupied.some((p) => p.name === current)) source.value = current;
}

function renderArms(s) {
  const root = $("#arms");
  for (const arm of Object.values(s.arms)) {
    let card = $(`.arm[data-arm="${arm.name}"]`, root);
    if (!card) {
      const joints = el("table", {}, ...[0, 1, 2, 3, 4, 5].map((i) => el("tr", {},
        el("td", {}, `joint ${i + 1}`), el("td", { class: "value", dataset: { arm: arm.name, joint: i + 1 } }),
        el("td", {}, jogButton(arm.name, "joint", i, -1), jogButton(arm.name, "joint", i, 1)))));
      const tool = el("table", {}, ...["x", "y", "z", "rx", "ry", "rz"].map((axis, i) => el("tr", {},
        el("td", {}, axis), el("td", { class: "value", dataset: { arm: arm.name, tool: axis } }),
        el("td", {}, jogButton(arm.name, "tool", i, -1), jogButton(arm.name, "tool", i, 1)))));
      const target = el("input", { size: 14, placeholder: "position", class: "move-target" });
      card = el("div", { class: "arm", dataset: { arm: arm.name } },
        el("div", { class: "row" }, el("b", {}, arm.name), el("span", { class: "arm-state badge" }), el("span", { class: "arm-at muted" })),
        el("div", { class: "row" }, el("div", {}, el("div", { class: "muted" }, "joints (rad)"), joints),
          el("div", {}, el("div", { class: "muted" }, "tool (m, rad)"), tool)),
        el("div", { class: "row" },
          el("button", { class: "cmd", onclick: () => send({ command: "arm", arm: arm.name, action: "gripper_open" }) }, "Open gripper"),
          el("button", { class: "cmd", onclick: () => send({ command: "arm", arm: arm.name, action: "gripper_close" }) }, "Close gripper"),
          el("span", { class: "gripper muted" })),
        el("div", { class: "row" },
          el("button", { class: "cmd", onclick: () => send({ command: "arm", arm: arm.name, action: "move_home" }) }, "Home"),
          target,
          el("button", { class: "cmd", onclick: () => send({ command: "arm", arm: arm.name, action: "move_to", argument: target.value }) }, "Move above"),
          el("button", { class: "cmd", onclick: () => send({ command: "arm", arm: arm.name, action: "stop" }) }, "Stop")));
      root.append(card);
    }
    arm.joints.forEach((v, i) => { $(`[data-joint="${i + 1}"]`, card).textContent = fmt(v, 3); });
    ["x", "y", "z", "rx", "ry", "rz"].forEach((axis, i) => { $(`[data-tool="${axis}"]`, card).textContent = fmt(arm.tool_pose[i], 3); });
    $(".arm-state", card).textContent = arm.state;
    $(".arm-at", card).textContent = arm.at ? `at ${arm.at}` : "";
    $(".gripper", card).textContent = arm.gripper_closed ? "gripper closed" : "gripper open";
  }
}

function renderCampaign(s) {
  const root = $("#campaign");
  const c = s.campaign;
  if (!c) { root.replaceChildren(el("span", { class: "muted" }, "No campaign running.")); return; }
  const done = c.samples_total ? (100 * c.samples_done) / c.samples_total : 0;
  root.replaceChildren(
    el("div", { class: "row" }, el("b", {}, c.campaign_id), el("span", { class: "badge" }, c.state), c.message),
    el("div", { class: "row" }, el("div", { class: "progress" }, el("div", { style: `width:${done}%` })),
      `${c.samples_done}/${c.samples_total} done, ${c.samples_failed} failed; targets: ${c.targets.join(", ")}`),
    el("table", {}, el("tr", {}, ...["sample", "target", "recipe", "state", "stage", "station", "yield"].map((h) => el("th", {}, h))),
      ...c.samples.map((x) => el("tr", {}, el("td", {}, x.sample_id), el("td", {}, x.target), el("td", {}, x.recipe_id),
        el("td", {}, x.state), el("td", {}, x.stage), el("td", {}, x.station),
        el("td", {}, x.target_yield >= 0 ? `${(100 * x.target_yield).toFixed(0)} %` : "–")))));
}

let shownPattern = null;
async function showPattern(id) {
  const data = await (await fetch(`/api/pattern/${id}`)).json();
  shownPattern = id;
  $("#pattern-info").textContent = `${data.sample_id || "(no sample id)"} on ${data.holder_id}, ${data.instrument}, λ ${data.wavelength_angstrom} Å, ${data.two_theta_deg.length} points`;
  const container = $("#pattern-plot");
  container.replaceChildren();
  plots.pattern = new uPlot({
    width: Math.max(400, container.clientWidth), height: 260, scales: { x: { time: false } },
    axes: [{ label: "2θ (deg)" }, { label: "intensity", size: 60 }],
    series: [{}, { label: "measured", stroke: "#1d2330", width: 1 }],
  }, [data.two_theta_deg, data.intensity], container);
  const fit = data.analysis;
  $("#fit tbody").replaceChildren(...(fit ? fit.phases.map((p) => el("tr", {}, el("td", {}, p.phase_id), el("td", {}, p.formula),
    el("td", {}, `${(100 * p.weight_fraction).toFixed(1)} %`), el("td", {}, fmt(p.confidence, 2))))
    : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No fit yet (the analysis publishes it)."))]));
  if (fit) $("#pattern-info").textContent += ` — target ${fit.target} yield ${(100 * fit.target_yield).toFixed(1)} %, Rwp ${fmt(fit.residual, 3)}`;
}

function renderPatterns(s) {
  const select = $("#pattern-select");
  const ids = s.patterns.map((p) => String(p.id)).join(",");
  if (select.dataset.ids !== ids) {
    select.dataset.ids = ids;
    select.onchange = () => showPattern(Number(select.value));
    select.replaceChildren(...s.patterns.slice().reverse().map((p) => el("option", { value: p.id },
      `${p.sample_id || p.holder_id} (${p.station})${p.analysed ? " ✓ fit" : ""}`)));
    if (s.patterns.length) showPattern(s.patterns[s.patterns.length - 1].id);
  }
}

function renderLogs(s) {
  const alarms = s.alarms.slice().reverse();
  $("#alarms tbody").replaceChildren(...alarms.map((a) => el("tr", { class: `level-${a.level}` },
    el("td", {}, wallTime(a.time)), el("td", {}, a.level), el("td", {}, a.node), el("td", {}, a.message))));
  $("#alarms-short").replaceChildren(...alarms.slice(0, 12).map((a) => el("li", { class: `level-${a.level}` }, `${a.node}: ${a.message}`)));
  $("#commands tbody").replaceChildren(...s.commands.slice().reverse().map((c) => el("tr", { class: c.ok ? "" : "level-warn" },
    el("td", {}, wallTime(c.time)), el("td", { class: "user" }, c.user), el("td", {}, c.command + (c.count > 1 ? ` ×${c.count}` : "")),
    el("td", { class: "muted" }, JSON.stringify(c.arguments)), el("td", {}, c.message))));
}

function renderDiagnostics(s) {
  const rows = s.diagnostics || [];
  if (!rows.length) return;
  $("#diagnostics tbody").replaceChildren(...rows.map((d) => el("tr", { class: `diag-${d.level.toLowerCase()}`, "data-name": d.name },
    el("td", {}, d.name), el("td", { class: "diag-level" }, d.level), el("td", {}, d.message), el("td", { class: "muted" }, d.hardware_id),
    el("td", { class: "muted" }, Object.entries(d.values).filter(([, v]) => v !== "").map(([k, v]) => `${k}=${v}`).join(", ")))));
}

let cameraShown = 0;
function renderCamera(s) {
  const img = $("#camera");
  const has = !!s.camera;
  img.hidden = !has;
  $("#camera-none").hidden = has;
  if (has && s.camera.number !== cameraShown) {
    cameraShown = s.camera.number;
    img.src = `/api/camera.jpg?n=${cameraShown}`;
  }
}

function render(s) {
  state = s;
  renderHeader(s);
  renderStations(s);
  renderFurnaces(s);
  renderPositions(s);
  renderArms(s);
  renderCampaign(s);
  renderPatterns(s);
  renderLogs(s);
  renderDiagnostics(s);
  renderCamera(s);
}

// --- wiring ---------------------------------------------------------------------------------

let socket = null;
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket = ws;
  ws.onmessage = (event) => { const m = JSON.parse(event.data); if (m.type === "state" && ws === socket) render(m.state); };
  ws.onclose = () => {
    if (ws !== socket) return;  // replaced on purpose (login / logout)
    $("#lab-state").textContent = "dashboard disconnected"; $("#lab-state").className = "badge bad";
    setTimeout(connect, 1000);
  };
}

// The websocket carries the session cookie of its handshake: open a new one after login / logout.
function reconnect() {
  const old = socket;
  connect();
  old?.close();
}

$$("nav#tabs button").forEach((b) => b.addEventListener("click", () => {
  $$("nav#tabs button").forEach((x) => x.classList.toggle("active", x === b));
  $$(".tab").forEach((t) => t.classList.toggle("active", t.id === `tab-${b.dataset.tab}`));
  if (state) render(state);
  if (b.dataset.tab === "samples" && shownPattern !== null) showPattern(shownPattern);  // size it now it is visible
}));
$("#estop").addEventListener("click", () => send({ command: "estop" }));
$("#reset").addEventListener("click", () => send({ command: "reset" }));
$("#pause-all").addEventListener("click", () => send({ command: "pause", stations: [] }));
$("#resume-all").addEventListener("click", () => send({ command: "resume", stations: [] }));
$("#campaign-pause").addEventListener("click", () => send({ command: "campaign_pause" }));
$("#campaign-resume").addEventListener("click", () => send({ command: "campaign_resume" }));
$("#tare").addEventListener("click", () => {
  const dosing = Object.values(state?.stations ?? {}).find((st) => st.kind === "dosing");
  send({ command: "manual", station: dosing ? dosing.name : "dosing", action: "tare" });
});
$("#scan-form").addEventListener("submit", (e) => {
  e.preventDefault();
  send({ command: "measure_xrd", source: $("#scan-source").value, destination: $("#scan-destination").value });
});
$("#position-form").addEventListener("submit", (e) => {
  e.preventDefault();
  send({ command: "set_position", position: $("#pos-name").value, labware_id: $("#pos-labware").value,
    labware_kind: $("#pos-kind").value, sample_id: $("#pos-sample").value });
});
$("#pos-clear").addEventListener("click", () => send({ command: "set_position", position: $("#pos-name").value, labware_id: "" }));
$("#jog-speed").addEventListener("input", () => { $("#jog-speed-value").textContent = Number($("#jog-speed").value).toFixed(2); });
$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const result = await post("/api/login", { user: $("#login-user").value, password: $("#login-password").value });
  $("#login-password").value = "";
  showResult(result.ok ? { ok: true, message: `logged in as ${result.user}` } : result);
  reconnect();
  render(await (await fetch("/api/state")).json());
});
$("#logout").addEventListener("click", async () => {
  await post("/api/logout", {});
  reconnect();
  render(await (await fetch("/api/state")).json());
});

connect();
setInterval(refreshHistory, 2000);
refreshHistory();
