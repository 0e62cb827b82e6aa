-- ui/page.lua: the page GET /ui serves (scripts/ui.lua). One file, nothing
-- fetched from outside the server: the charts are small hand-written SVG.
-- It polls GET /pod, GET /ui/series and GET /ui/rewards every 2 s.
return [==[<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>podgym</title>
<style>
  :root { --fg: #1d2430; --muted: #6b7585; --line: #d9dee6; --bg: #f6f7f9; --card: #fff;
          --cpu: #d9480f; --mem: #1971c2; --pods: #2b8a3e; --lat: #7048e8; --rew: #e67700; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 "DejaVu Sans", system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; background: #1d2430; color: #fff; }
  header h1 { margin: 0; font-size: 18px; }
  header .muted { color: #aeb6c2; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: 1fr; max-width: 1400px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
  h2 { margin: 0 0 8px; font-size: 15px; }
  h2 small { font-weight: normal; color: var(--muted); margin-left: 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: normal; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; height: 8px; background: var(--cpu); vertical-align: middle; margin-left: 6px; border-radius: 2px; }
  .bar.mem { background: var(--mem); }
  .ok { color: var(--pods); } .bad { color: #c92a2a; }
  .summary span { margin-right: 18px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
  figure { margin: 0; }
  figcaption { color: var(--muted); font-size: 12px; display: flex; justify-content: space-between; }
  figcaption b { color: var(--fg); }
  svg { display: block; width: 100%; height: 150px; }
  svg text { font-size: 10px; fill: var(--muted); }
  .empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<header>
  <h1>podgym</h1>
  <span id="backend" class="muted"></span>
  <span id="updated" class="muted">loading...</span>
</header>
<main>
  <section>
    <h2>Pods <small id="pod-summary"></small></h2>
    <table id="pods">
      <thead><tr><th>name</th><th>status</th><th>ready</th><th class="num">restarts</th>
        <th class="num">CPU % of request</th><th class="num">memory % of request</th><th class="num">age s</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Time series <small id="source"></small></h2>
    <div class="charts">
      <figure id="chart-cpu"></figure>
      <figure id="chart-mem"></figure>
      <figure id="chart-pods"></figure>
      <figure id="chart-latency"></figure>
    </div>
  </section>
  <section>
    <h2>Reward per episode <small id="reward-summary"></small></h2>
    <figure id="chart-reward"></figure>
  </section>
</main>
<script>
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
const REFRESH_MS = 2000;

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v)) ? "-" : Number(v).toFixed(d === undefined ? 1 : d);

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

// The pods: those reporting metrics (container) and the others (no_metrics).
function renderPods(body) {
  const tbody = document.querySelector("#pods tbody");
  tbody.textContent = "";
  const rows = (body.container || []).concat(body.no_metrics || []);
  rows.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const p of rows) {
    const tr = el("tr", { "data-name": p.name });
    tr.append(el("td", { class: "name" }, p.name));
    tr.append(el("td", { class: "status " + (p.status === "Running" ? "ok" : "bad") }, p.status));
    tr.append(el("td", { class: "ready " + (p.ready ? "ok" : "bad") }, p.ready ? "yes" : "no"));
    tr.append(el("td", { class: "restarts num" }, String(p.restarts)));
    for (const [k, cls] of [["cpu_percent", "cpu"], ["mem_percent", "mem"]]) {
      const v = p[k];
      const td = el("td", { class: cls + " num" }, v === undefined || v === null ? "-" : fmt(v, 2));
      if (typeof v === "number") td.append(el("span", { class: "bar " + cls, style: "width:" + Math.min(60, v * 0.6) + "px" }));
      tr.append(td);
    }
    tr.append(el("td", { class: "age num" }, fmt(p.age_s, 0)));
    tbody.append(tr);
  }
  if (!rows.length) {
    const tr = el("tr");
    tr.append(el("td", { colspan: 7, class: "empty" }, "no pods"));
    tbody.append(tr);
  }
  const s = body.system || {};
  document.getElementById("pod-summary").textContent =
    "desired " + s.desired_pods + ", ready " + s.ready_pods + ", total " + s.total_pods +
    ", CPU " + fmt(s.cpu_percent) + " %, memory " + fmt(s.mem_percent) + " % of requests";
  document.getElementById("pods").setAttribute("data-loaded", String(rows.length));
}

// A chart's svg, W x H with margins L, R, T, B, in fig (appended now, drawn into after);
// with no points it says so.
function frame(fig, W, H, L, R, T, B, n, none) {
  const svg = el("svg:svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", "data-points": String(n) });
  svg.append(el("svg:rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#d9dee6" }));
  if (!n) svg.append(el("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, none));
  fig.append(svg);
  return svg;
}

// A line chart: points [[x, y], ...]; the y range from 0 (or the minimum) to the maximum.
function lineChart(fig, title, unit, pts, color, digits) {
  fig.textContent = "";
  const W = 480, H = 150, L = 40, R = 8, T = 8, B = 18;
  const good = pts.filter(p => p[0] !== null && p[1] !== null && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  const last = good.length ? good[good.length - 1][1] : null;
  const cap = el("figcaption");
  cap.append(el("span", {}, title));
  const b = el("b", {}, last === null ? "-" : fmt(last, digits) + " " + unit);
  cap.append(b);
  fig.append(cap);
  const svg = frame(fig, W, H, L, R, T, B, good.length, "no data yet");
  if (!good.length) return;
  let x0 = good[0][0], x1 = good[good.length - 1][0];
  if (x1 === x0) x1 = x0 + 1;
  let y0 = Math.min(0, ...good.map(p => p[1])), y1 = Math.max(...good.map(p => p[1]));
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.05;
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: sy(y), y2: sy(y), stroke: "#eef0f3" }));
    svg.append(el("svg:text", { x: L - 4, y: sy(y) + 3, "text-anchor": "end" }, fmt(y, y1 - y0 < 10 ? 1 : 0)));
  }
  svg.append(el("svg:text", { x: L, y: H - 4 }, fmt(0, 0) + " s"));
  svg.append(el("svg:text", { x: W - R, y: H - 4, "text-anchor": "end" }, fmt(x1 - x0, 0) + " s"));
  const d = good.map(p => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ");
  svg.append(el("svg:polyline", { points: d, fill: "none", stroke: color, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
}

// One bar per episode.
function barChart(fig, eps) {
  fig.textContent = "";
  const W = 960, H = 150, L = 48, R = 8, T = 8, B = 18;
  const svg = frame(fig, W, H, L, R, T, B, eps.length, "no episodes yet (POST /env/reset, /env/step)");
  if (!eps.length) return;
  const vals = eps.map(e => e.reward);
  let y0 = Math.min(0, ...vals), y1 = Math.max(0, ...vals);
  if (y1 === y0) y1 = y0 + 1;
  const sy = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  const bw = (W - L - R) / eps.length;
  svg.append(el("svg:line", { x1: L, x2: W - R, y1: sy(0), y2: sy(0), stroke: "#adb5bd" }));
  for (const y of [y0, y1]) svg.append(el("svg:text", { x: L - 4, y: sy(y) + 3, "text-anchor": "end" }, fmt(y, 1)));
  eps.forEach((e, i) => {
    const top = Math.min(sy(0), sy(e.reward)), h = Math.max(1, Math.abs(sy(e.reward) - sy(0)));
    const r = el("svg:rect", { x: L + i * bw + bw * 0.1, y: top, width: Math.max(1, bw * 0.8), height: h,
                               fill: e.done ? "#e67700" : "#ffc078" });
    r.append(el("svg:title", {}, "episode " + e.episode + ": reward " + fmt(e.reward, 3) + " over " + e.steps + " steps" + (e.done ? "" : " (running)")));
    svg.append(r);
    if (eps.length <= 25) svg.append(el("svg:text", { x: L + (i + 0.5) * bw, y: H - 4, "text-anchor": "middle" }, String(e.episode)));
  });
}

function renderSeries(s) {
  // a running sampler job first, then the current episode, then a stopped job
  const ep = s.episode && s.episode.points && s.episode.points.length ? s.episode : null;
  const smp = s.sampler && s.sampler.points && s.sampler.points.length && (s.sampler.running || !ep) ? s.sampler : null;
  const rel = (pts) => { const t0 = pts.length ? pts[0].t : 0; return p => p.t === null ? null : p.t - t0; };
  let src = smp ? smp.points : ep ? ep.points : [];
  const x = rel(src);
  document.getElementById("source").textContent = smp ? "sampler job " + smp.job + (smp.running ? " (running)" : " (stopped)") + ", " + smp.points.length + " rows"
    : ep ? "episode " + ep.episode + ", " + ep.points.length + " steps" : "no sampler job and no episode yet";
  lineChart(document.getElementById("chart-cpu"), "CPU % of requests", "%", src.map(p => [x(p), p.cpu]), "#d9480f", 1);
  lineChart(document.getElementById("chart-mem"), "memory % of requests", "%", src.map(p => [x(p), p.mem]), "#1971c2", 1);
  lineChart(document.getElementById("chart-pods"), "pods (reporting metrics)", "pods", src.map(p => [x(p), p.pods]), "#2b8a3e", 0);
  const lp = ep ? ep.points : [];
  const lx = rel(lp);
  lineChart(document.getElementById("chart-latency"), "latency (episode " + (ep ? ep.episode : "-") + ")", "ms", lp.map(p => [lx(p), p.latency]), "#7048e8", 1);
}

function renderRewards(r) {
  const eps = r.episodes || [];
  barChart(document.getElementById("chart-reward"), eps);
  const done = eps.filter(e => e.done);
  document.getElementById("reward-summary").textContent = eps.length ? eps.length + " episodes of run " + r.run_id +
    (done.length ? ", mean reward of the done ones " + fmt(done.reduce((a, e) => a + e.reward, 0) / done.length, 3) : "") : "";
}

async function refresh() {
  try {
    const [pod, series, rewards, status] = await Promise.all([
      getJSON("/pod"), getJSON("/ui/series"), getJSON("/ui/rewards"), getJSON("/_engine/status")]);
    renderPods(pod);
    renderSeries(series);
    renderRewards(rewards);
    document.getElementById("backend").textContent = "backend " + status.backend + ", run " + status.run_id;
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById("updated").textContent = "error: " + err.message;
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
</script>
</body>
</html>
]==]
