// Monitoring dashboard: anomaly score over time per link, the alerts with their causes and the
// payload bytes that broke the model highlighted, and the configuration changes. Alerts are
// Suricata EVE JSON objects (crates/monitor/src/alert.rs), read from the trust store (statements
// of predicate type monitor-alert/v1 whose predicate is the alert) or from an EVE file opened here.
import { b64decode, el } from "./verify.js";

const ALERT = "https://shinrai.dev/attestation/monitor-alert/v1";
const SVGNS = "http://www.w3.org/2000/svg";
const summaryLine = document.getElementById("monitor-summary");

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function info(a) {
  return a.anomaly || a.config_change || {};
}

function linkOf(a) {
  const i = info(a);
  if (i.link) return i.link;
  const proto = (a.proto || "").toLowerCase();
  return `${a.src_ip || "?"} -> ${a.dest_ip || "?"} ${proto}/${a.dest_port ?? ""}`;
}

function when(a) {
  // EVE: 2026-11-26T10:00:01.250000+0000
  const t = Date.parse(String(a.timestamp).replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
  return Number.isNaN(t) ? 0 : t;
}

function payloadBytes(a) {
  // Suricata's "payload" (base64) when the sensor logged it; else "payload_hex" if present.
  try {
    if (typeof a.payload === "string") return b64decode(a.payload);
    const h = info(a).payload_hex || a.payload_hex;
    if (typeof h === "string" && /^([0-9a-f]{2})*$/i.test(h)) return Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
  } catch {
    /* fall through */
  }
  return null;
}

function bytesView(a) {
  const i = info(a);
  const offs = new Set(i.payload_offsets || []);
  const bytes = payloadBytes(a);
  const box = el("div", "bytes");
  if (bytes) {
    bytes.forEach((b, k) => {
      const s = el("span", offs.has(k) ? "hl" : "", b.toString(16).padStart(2, "0"));
      if (offs.has(k)) s.title = `offset ${k}`;
      box.append(s, document.createTextNode(" "));
    });
  } else if (offs.size) {
    // No payload in the alert: show the offsets and what was seen there.
    for (const v of i.violations || []) {
      const s = el("span", "hl", `@${v.offset} ${v.seen}`);
      s.title = `${v.name || "byte"}: expected ${v.expected}`;
      box.append(s, document.createTextNode(` expected ${v.expected}${v.name ? ` (${v.name})` : ""}  `));
    }
    if (!(i.violations || []).length) box.append(el("span", "hl", `offsets ${[...offs].join(", ")}`));
  } else {
    box.append(el("span", "muted", "\u2014"));
  }
  return box;
}

function scoreChart(alerts) {
  const links = [...new Set(alerts.map(linkOf))];
  const w = 900, h = 240, l = 40, r = 12, t = 10, b = 30;
  const ts = alerts.map(when);
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  const x = (v) => (t1 === t0 ? l + (w - l - r) / 2 : l + ((w - l - r) * (v - t0)) / (t1 - t0));
  const y = (s) => t + (h - t - b) * (1 - s);
  const g = svg("svg", { class: "chart score-chart", id: "score-svg", viewBox: `0 0 ${w} ${h}` });
  for (const k of [0, 0.25, 0.5, 0.75, 1]) {
    g.append(svg("line", { class: "grid", x1: l, x2: w - r, y1: y(k), y2: y(k) }));
    g.append(svg("text", { class: "axis", x: l - 6, y: y(k) + 4, "text-anchor": "end" }, k.toFixed(2)));
  }
  links.forEach((link, k) => {
    const pts = alerts.filter((a) => linkOf(a) === link).sort((a, b2) => when(a) - when(b2));
    const cls = `link${k % 6}`;
    g.append(svg("polyline", { class: cls, points: pts.map((a) => `${x(when(a)).toFixed(1)},${y(info(a).score ?? 0).toFixed(1)}`).join(" ") }));
    for (const a of pts) {
      const c = svg("circle", { class: cls, cx: x(when(a)).toFixed(1), cy: y(info(a).score ?? 0).toFixed(1), r: 3 });
      c.append(svg("title", {}, `${a.timestamp} ${link}: ${(info(a).causes || []).join(", ")} score ${info(a).score}`));
      g.append(c);
    }
  });
  g.append(svg("text", { class: "axis", x: l, y: h - 8 }, new Date(t0).toISOString()));
  g.append(svg("text", { class: "axis", x: w - r, y: h - 8, "text-anchor": "end" }, new Date(t1).toISOString()));
  const legend = el("p", "legend");
  links.forEach((link, k) => {
    legend.append(el("span", `key lk${k % 6}`), document.createTextNode(link));
  });
  const box = el("div");
  box.append(g, legend);
  return box;
}

function alertTable(alerts, withBytes) {
  const t = el("table", "grid");
  const head = el("tr");
  const cols = ["time", "link", "score", "causes", "detail"];
  if (withBytes) cols.push("payload (highlighted: bytes that caused the alert)");
  for (const c of cols) head.append(el("th", "", c));
  t.append(head);
  for (const a of alerts) {
    const i = info(a);
    const tr = el("tr");
    tr.append(el("td", "", a.timestamp), el("td", "", linkOf(a)), el("td", "", (i.score ?? 0).toFixed(2)));
    const causes = el("td");
    for (const c of i.causes || []) causes.append(el("span", "pill fail", c));
    tr.append(causes, el("td", "", i.detail || ""));
    if (withBytes) {
      const td = el("td");
      td.append(bytesView(a));
      tr.append(td);
    }
    t.append(tr);
  }
  return t;
}

function render(alerts, source) {
  alerts.sort((a, b) => when(a) - when(b));
  const anomalies = alerts.filter((a) => a.event_type === "anomaly");
  const changes = alerts.filter((a) => a.event_type === "config_change");
  const chart = document.getElementById("score-chart");
  chart.replaceChildren(anomalies.length ? scoreChart(anomalies) : el("p", "muted", "No anomalies."));
  const at = document.getElementById("alerts");
  at.replaceChildren(anomalies.length ? alertTable(anomalies, true) : el("p", "muted", "No alerts."));
  at.firstChild.id = "alerts-table";
  const ct = document.getElementById("config-changes");
  ct.replaceChildren(changes.length ? alertTable(changes, false) : el("p", "muted", "No configuration changes."));
  summaryLine.textContent = `${anomalies.length} alerts and ${changes.length} configuration changes on ${new Set(alerts.map(linkOf)).size} links, from ${source}`;
}

async function fromStore() {
  const alerts = [];
  let after = null;
  for (let page = 0; page < 20; page++) {
    const p = new URLSearchParams({ predicate_type: ALERT, limit: "1000" });
    if (after !== null) p.set("after", String(after));
    const r = await fetch(`/search?${p}`, { cache: "no-store" });
    if (!r.ok) break;
    const body = await r.json();
    // Search results carry no bytes: read the entries, 16 at a time.
    for (let i = 0; i < body.entries.length; i += 16) {
      const got = await Promise.all(
        body.entries.slice(i, i + 16).map(async (e) => {
          try {
            const r2 = await fetch(`/entries/${e.id}`, { cache: "no-store" });
            const full = await r2.json();
            const env = JSON.parse(new TextDecoder().decode(b64decode(full.entry)));
            const st = JSON.parse(new TextDecoder().decode(b64decode(env.payload)));
            return st.predicate && typeof st.predicate === "object" ? st.predicate : null;
          } catch {
            return null; // not an alert statement
          }
        }),
      );
      for (const a of got) if (a) alerts.push(a);
    }
    if (body.next === null || body.next === undefined) break;
    after = body.next;
  }
  return alerts;
}

document.getElementById("eve-file").addEventListener("change", async (ev) => {
  const f = ev.target.files[0];
  if (!f) return;
  const alerts = [];
  let bad = 0;
  for (const line of (await f.text()).split("\n")) {
    if (!line.trim()) continue;
    try {
      const a = JSON.parse(line);
      if (a.event_type === "anomaly" || a.event_type === "config_change") alerts.push(a);
    } catch {
      bad++;
    }
  }
  render(alerts, `${f.name}${bad ? ` (${bad} unreadable lines skipped)` : ""}`);
});

fromStore().then((a) => render(a, "the trust store"));
