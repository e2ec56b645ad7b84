// Supply-chain view: the product's upstream chain from GET /trace/{digest}, each node coloured
// by its newest verification summary (SLSA VSA found with GET /search), whose signature and
// receipt are checked in the browser. Green: PASSED and verified; red: FAILED, or a summary that
// does not verify; grey: no summary.
import { verifyEntry, el } from "./verify.js";

const VSA = "https://slsa.dev/verification_summary/v1";
const SVGNS = "http://www.w3.org/2000/svg";
const form = document.getElementById("chain-form");
const out = document.getElementById("chain");
const nodesOut = document.getElementById("chain-nodes");
const summaryLine = document.getElementById("chain-summary");

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

async function nodeStatus(id) {
  const p = new URLSearchParams({ predicate_type: VSA, limit: "1000" });
  p.set(id.includes(":") && !id.startsWith("urn:") && /^[a-z0-9]+:[0-9a-f]+$/.test(id) ? "subject_digest" : "subject_name", id);
  const r = await fetch(`/search?${p}`, { cache: "no-store" });
  if (!r.ok) return { state: "unknown", text: "search failed" };
  const body = await r.json();
  const newest = body.entries[body.entries.length - 1];
  if (!newest) return { state: "unknown", text: "no verification summary" };
  const v = await verifyEntry(newest.id);
  const verdict = v.statement?.predicate?.verificationResult || "?";
  if (!v.ok) return { state: "fail", text: `summary not verified: ${v.reason}`, entry: newest.id };
  return {
    state: verdict === "PASSED" ? "ok" : "fail",
    text: `${verdict} by ${newest.issuer_org} (verified in your browser)`,
    entry: newest.id,
  };
}

function short(id) {
  const i = id.indexOf(":");
  if (/^[a-z0-9]+:[0-9a-f]{16,}$/.test(id)) return `${id.slice(0, i + 1)}${id.slice(i + 1, i + 11)}\u2026`;
  return id.length > 26 ? `${id.slice(0, 25)}\u2026` : id;
}

async function show(digest) {
  summaryLine.textContent = "Tracing\u2026";
  const r = await fetch(`/trace/${encodeURIComponent(digest)}?direction=up&depth=16`, { cache: "no-store" });
  const t = await r.json().catch(() => ({}));
  if (!r.ok) {
    summaryLine.textContent = `Trace refused: ${t.reason || r.status}`;
    return;
  }
  const statuses = new Map();
  await Promise.all(t.nodes.map(async (n) => statuses.set(n.id, await nodeStatus(n.id))));
  // Layout: the product on the right, its inputs in columns to the left by depth.
  const cols = new Map();
  for (const n of t.nodes) {
    if (!cols.has(n.depth)) cols.set(n.depth, []);
    cols.get(n.depth).push(n.id);
  }
  const maxDepth = Math.max(0, ...cols.keys());
  const W = 210, H = 46, GX = 70, GY = 18;
  const rows = Math.max(1, ...[...cols.values()].map((c) => c.length));
  const width = (maxDepth + 1) * (W + GX) + 20;
  const height = rows * (H + GY) + 20;
  const pos = new Map();
  for (const [d, ids] of cols) {
    ids.forEach((id, i) => {
      const x = 10 + (maxDepth - d) * (W + GX);
      const y = 10 + i * (H + GY) + ((rows - ids.length) * (H + GY)) / 2;
      pos.set(id, { x, y });
    });
  }
  const g = svg("svg", { class: "graph", id: "chain-graph", viewBox: `0 0 ${width} ${height}`, width, height });
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a96a3" }));
  defs.append(marker);
  g.append(defs);
  for (const e of t.edges) {
    const a = pos.get(e.input), b = pos.get(e.output);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    g.append(svg("path", { class: "edge", d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` }));
  }
  for (const n of t.nodes) {
    const p = pos.get(n.id);
    const s = statuses.get(n.id);
    const node = svg("g", { class: `node ${s.state}`, "data-state": s.state, "data-id": n.id });
    const link = svg("a", { href: s.entry ? `/ui/entry/${s.entry}` : `/ui/?subject_digest=${encodeURIComponent(n.id)}` });
    link.append(svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 6 }));
    link.append(svg("text", { x: p.x + 8, y: p.y + 18 }, short(n.id)));
    link.append(svg("text", { x: p.x + 8, y: p.y + 35 }, s.state === "ok" ? "\u2713 PASSED" : s.state === "fail" ? "\u2717 " + s.text.slice(0, 26) : "no summary"));
    const title = svg("title", {}, `${n.id}\n${s.text}`);
    node.append(title, link);
    g.append(node);
  }
  out.replaceChildren(g);
  const tbl = el("table", "grid");
  const head = el("tr");
  for (const h of ["node", "depth", "verification"]) head.append(el("th", "", h));
  tbl.append(head);
  for (const n of t.nodes) {
    const s = statuses.get(n.id);
    const tr = el("tr");
    tr.append(el("td", "", n.id), el("td", "", String(n.depth)));
    const td = el("td");
    td.append(el("span", `pill ${s.state}`, s.state), document.createTextNode(` ${s.text}`));
    tr.append(td);
    tbl.append(tr);
  }
  nodesOut.replaceChildren(tbl);
  const ok = [...statuses.values()].filter((s) => s.state === "ok").length;
  const bad = [...statuses.values()].filter((s) => s.state === "fail").length;
  summaryLine.textContent = `${t.nodes.length} nodes, ${t.edges.length} edges: ${ok} verified PASSED, ${bad} failed or not verified${t.truncated ? " (truncated)" : ""}`;
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const d = form.elements.digest.value.trim();
  if (!d) return;
  history.replaceState(null, "", `/ui/chain?digest=${encodeURIComponent(d)}`);
  show(d);
});
const initial = new URLSearchParams(location.search).get("digest");
if (initial) {
  form.elements.digest.value = initial;
  show(initial);
} else {
  summaryLine.textContent = "Enter a product's digest (sha256:\u2026) to draw its chain.";
}
