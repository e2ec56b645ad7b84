// Device page: every statement about a device (subject name), newest first, each checked in the
// browser; attestation results (device-result/v1, an EAR) show their appraisal status.
import { verifyEntry, el } from "./verify.js";

const RESULT = "https://shinrai.dev/attestation/device-result/v1";
const form = document.getElementById("device-form");
const out = document.getElementById("device-history");
const summaryLine = document.getElementById("device-summary");

function earStatus(p) {
  // EAR (draft-ietf-rats-ear): submods.<name>["ear.status"]; the worst one counts.
  const order = ["affirming", "warning", "none", "contraindicated"];
  let worst = null;
  for (const sm of Object.values(p?.submods || {})) {
    const s = sm?.["ear.status"];
    if (typeof s === "string" && (worst === null || order.indexOf(s) > order.indexOf(worst))) worst = s;
  }
  return worst || p?.["ear.status"] || p?.status || null;
}

async function show(subject) {
  summaryLine.textContent = "Searching\u2026";
  const p = new URLSearchParams({ subject_name: subject, limit: "1000" });
  const r = await fetch(`/search?${p}`, { cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    summaryLine.textContent = `Search refused: ${body.reason || r.status}`;
    return;
  }
  const entries = body.entries.slice().reverse();
  const t = el("table", "grid");
  t.id = "device-table";
  const head = el("tr");
  for (const h of ["#", "registered", "issuer", "kind", "result", "checked in your browser"]) head.append(el("th", "", h));
  t.append(head);
  let results = 0;
  for (const e of entries.slice(0, 100)) {
    const v = await verifyEntry(e.id);
    const tr = el("tr");
    const a = el("a", "", String(e.index));
    a.href = `/ui/entry/${e.id}`;
    const td0 = el("td");
    td0.append(a);
    tr.append(td0, el("td", "", e.registered_at), el("td", "", e.issuer_org));
    tr.append(el("td", "", e.predicate_type.replace(/^https:\/\/shinrai\.dev\/attestation\//, "")));
    let result = "";
    if (e.predicate_type === RESULT) {
      results++;
      result = earStatus(v.statement?.predicate) || "?";
    }
    const tdr = el("td");
    if (result) tdr.append(el("span", `pill ${result === "affirming" ? "ok" : "fail"}`, result));
    tr.append(tdr);
    tr.append(el("td", v.ok ? "ok" : "fail", v.ok ? "\u2713 signature, receipt" : `\u2717 ${v.reason}`));
    t.append(tr);
  }
  out.replaceChildren(t);
  summaryLine.textContent = `${entries.length} statements about ${subject}, ${results} attestation results`;
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const s = form.elements.subject.value.trim();
  if (!s) return;
  history.replaceState(null, "", `/ui/device?subject=${encodeURIComponent(s)}`);
  show(s);
});
const initial = new URLSearchParams(location.search).get("subject");
if (initial) {
  form.elements.subject.value = initial;
  show(initial);
} else {
  summaryLine.textContent = "Enter a device subject name, e.g. device:maker/model/serial.";
}
