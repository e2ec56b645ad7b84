// Explorer: searches the trust store through GET /search and lists the entries.
import { el } from "./verify.js";

const form = document.getElementById("search");
const results = document.getElementById("results");
const summaryLine = document.getElementById("summary");
const more = document.getElementById("more");
let next = null;
let params = null;

function query() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim()) p.set(k, String(v).trim());
  return p;
}

function table() {
  const t = el("table", "grid");
  t.id = "results-table";
  const head = el("thead");
  const tr = el("tr");
  for (const h of ["#", "registered", "issuer", "predicate type", "subjects", "entry"]) tr.append(el("th", "", h));
  head.append(tr);
  t.append(head, el("tbody"));
  return t;
}

async function run(append) {
  const p = new URLSearchParams(params);
  p.set("limit", "50");
  if (append && next !== null) p.set("after", String(next));
  summaryLine.textContent = "Searching\u2026";
  const r = await fetch(`/search?${p}`, { cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    summaryLine.textContent = `Search refused: ${body.reason || r.status}`;
    return;
  }
  if (!append) results.replaceChildren(table());
  const tbody = results.querySelector("tbody");
  for (const e of body.entries) {
    const tr = el("tr");
    tr.append(el("td", "", String(e.index)));
    tr.append(el("td", "", e.registered_at));
    tr.append(el("td", "", e.issuer_org));
    tr.append(el("td", "", e.predicate_type));
    const subj = el("td");
    for (const s of e.subjects) {
      const d = s.digests[0] || "";
      const a = el("a", "", s.name || d.slice(0, 20));
      a.href = `/ui/?subject_digest=${encodeURIComponent(d)}`;
      a.title = d;
      subj.append(a, el("br"));
    }
    tr.append(subj);
    const link = el("a", "", `${e.id.slice(0, 12)}\u2026`);
    link.href = `/ui/entry/${e.id}`;
    const td = el("td");
    td.append(link);
    tr.append(td);
    tbody.append(tr);
  }
  next = body.next ?? null;
  more.hidden = next === null;
  const n = tbody.children.length;
  summaryLine.textContent = `${n} entr${n === 1 ? "y" : "ies"}${next !== null ? " (more available)" : ""}`;
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  params = query();
  history.replaceState(null, "", `/ui/?${params}`);
  run(false);
});
more.addEventListener("click", () => run(true));

// A query in the address fills the form and runs; no query lists the newest entries.
const initial = new URLSearchParams(location.search);
for (const [k, v] of initial) if (form.elements[k]) form.elements[k].value = v;
params = query();
run(false);
