// Entry page: the statement pretty-printed, its signer and receipt, all checked in the browser.
import { verifyEntry, summary, renderSteps, el } from "./verify.js";

async function main() {
  const box = document.getElementById("entry");
  const id = box.dataset.entry;
  const res = await verifyEntry(id);
  const line = document.getElementById("verify");
  line.textContent = summary(res);
  line.className = `verify ${res.ok ? "ok" : "fail"}`;
  box.dataset.verified = String(res.ok);
  renderSteps(document.getElementById("verify-log"), res);
  const meta = document.getElementById("meta");
  const row = (k, v) => {
    const tr = el("tr");
    tr.append(el("th", "", k));
    const td = el("td");
    if (v instanceof Node) td.append(v);
    else td.textContent = v ?? "";
    tr.append(td);
    meta.append(tr);
  };
  const e = res.entry;
  if (e) {
    row("Log index", String(e.index));
    row("Entry id", e.id);
    row("Registered", e.registered_at);
    row("Issuer", `${e.issuer_org} (key ${e.issuer_keyid})`);
    row("Submitted by", e.submitter);
    row("Signer (verified)", res.signer ? `${res.signer.org}: ${res.signer.keytype} ${res.signer.keyid}` : "\u2014");
    row("Payload type", e.payload_type);
    row("Predicate type", e.predicate_type);
    const subj = el("div");
    for (const s of e.subjects || []) {
      const d = s.digests[0] || "";
      const a = el("a", "", `${s.name || "(unnamed)"} ${d}`);
      a.href = `/ui/chain?digest=${encodeURIComponent(d)}`;
      subj.append(a, el("br"));
    }
    row("Subjects", subj);
  }
  if (res.checkpoint) row("Checkpoint", `${res.checkpoint.origin}, tree size ${res.checkpoint.size}`);
  if (res.logKey) row("Log key", res.logKey);
  document.getElementById("statement").textContent = res.statement
    ? JSON.stringify(res.statement, null, 2)
    : res.envelope
      ? JSON.stringify(res.envelope, null, 2)
      : "(not available)";
  document.getElementById("receipt").textContent = res.receiptJson
    ? JSON.stringify(res.receiptJson, null, 2)
    : "(not available)";
}

main();
