// The shop page: checks the certificate (or FAILED verdict) named by #certificate[data-entry]
// in the browser and settles the status shown: a certificate whose signature or receipt does
// not check is "not verified", whatever the server said.
import { verifyEntry, summary, renderSteps } from "./verify.js";

async function main() {
  const box = document.getElementById("certificate");
  const id = box?.dataset.entry;
  if (!id) return;
  const line = document.getElementById("verify");
  const status = document.getElementById("status");
  line.textContent = "Checking the certificate in your browser\u2026";
  const res = await verifyEntry(id);
  renderSteps(document.getElementById("verify-log"), res);
  line.textContent = summary(res);
  line.className = `verify ${res.ok ? "ok" : "fail"}`;
  box.dataset.verified = String(res.ok);
  if (res.ok) {
    // The statement the browser verified must be the one the page describes.
    const p = res.statement?.predicate || {};
    const shop = location.pathname.split("/").pop();
    if (p.resourceUri !== `urn:shinrai:shop:${shop}`) {
      line.textContent = `Not verified: the verified statement is about ${p.resourceUri}, not this shop`;
      line.className = "verify fail";
      box.dataset.verified = "false";
    }
  }
  if (box.dataset.verified !== "true" && box.dataset.passed === "true") {
    status.textContent = "not verified";
    status.className = "status st-not-verified";
  }
}

main();
