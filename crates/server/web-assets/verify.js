// In-browser verification of a registered statement, with WebCrypto only:
//  1. the DSSE signature (Ed25519 or ECDSA P-256) over the PAE of the payload bytes received,
//     with the signer's registered key (GET /keys/{keyid});
//  2. the receipt: SHA-256 of the entry bytes is the receipt's id, the RFC 9162 leaf hash and
//     inclusion proof lead to the checkpoint's root, and the checkpoint (a C2SP signed note) is
//     signed by the log key (GET /log/key).
// Nothing here trusts a field the server computed where the bytes can be checked instead.

const enc = new TextEncoder();

export function b64decode(s) {
  if (typeof s !== "string") throw new Error("not base64 text");
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(h) {
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new Error("not hex");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>". */
export function pae(payloadType, payload) {
  const t = enc.encode(payloadType);
  return concat(enc.encode(`DSSEv1 ${t.length} `), t, enc.encode(` ${payload.length} `), payload);
}

/** RFC 9162 leaf hash SHA-256(0x00 || entry). */
export async function leafHash(entry) {
  return sha256(concat(new Uint8Array([0]), entry));
}

async function nodeHash(l, r) {
  return sha256(concat(new Uint8Array([1]), l, r));
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof implies (BigInt-free: sizes < 2^53). */
export async function rootFromInclusionProof(index, size, leaf, proof) {
  if (!(index >= 0 && index < size)) throw new Error(`index ${index} is outside tree size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("inclusion proof is too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("inclusion proof is too short");
  return r;
}

/** Parses a note verifier key `<name>+<hex key hash>+<base64(0x01 || Ed25519 key)>`. */
export function parseVerifierKey(vkey) {
  // The base64 key may itself contain "+": split at the first two only.
  const v = vkey.trim();
  const i = v.indexOf("+");
  const j = i < 0 ? -1 : v.indexOf("+", i + 1);
  if (i <= 0 || j < 0) throw new Error("log key is not <name>+<hash>+<key>");
  const [name, hashHex, keyB64] = [v.slice(0, i), v.slice(i + 1, j), v.slice(j + 1)];
  if (!/^[0-9a-f]{8}$/.test(hashHex)) throw new Error("log key hash is not 8 hex digits");
  const key = b64decode(keyB64);
  if (key.length !== 33 || key[0] !== 1) throw new Error("log key is not an Ed25519 note key");
  return { name, keyHash: fromHex(hashHex), publicKey: key.slice(1) };
}

async function ed25519Verify(publicKey, sig, msg) {
  const k = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, k, sig, msg);
}

/** Verifies a C2SP signed note with `vkey`; returns the note text. */
export async function verifyNote(note, vkey) {
  const k = parseVerifierKey(vkey);
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("checkpoint note has no signature block");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2).split("\n").filter((l) => l !== "");
  for (const line of lines) {
    if (!line.startsWith("\u2014 ")) throw new Error("malformed note signature line");
    const [name, b64] = line.slice(2).split(" ");
    if (name !== k.name) continue;
    const payload = b64decode(b64);
    if (payload.length !== 68 || !equal(payload.slice(0, 4), k.keyHash)) continue;
    if (await ed25519Verify(k.publicKey, payload.slice(4), enc.encode(text))) return text;
    throw new Error(`checkpoint signature by ${k.name} does not verify`);
  }
  throw new Error(`checkpoint is not signed by the log key ${k.name}`);
}

/** Parses a checkpoint body: origin, size, base64 root. */
export function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length < 4) throw new Error("checkpoint body too short");
  const size = Number(lines[1]);
  if (!/^[0-9]+$/.test(lines[1]) || !Number.isSafeInteger(size)) throw new Error("bad checkpoint size");
  const root = b64decode(lines[2]);
  if (root.length !== 32) throw new Error("checkpoint root is not 32 bytes");
  return { origin: lines[0], size, root };
}

/** DER ECDSA signature -> raw r||s (32 bytes each), as WebCrypto wants. */
export function derToRaw(der) {
  const fail = () => {
    throw new Error("ECDSA signature is not DER");
  };
  if (der[0] !== 0x30) fail();
  let i = 2;
  if (der[1] & 0x80) i = 2 + (der[1] & 0x7f);
  const int = () => {
    if (der[i] !== 0x02) fail();
    const len = der[i + 1];
    let v = der.slice(i + 2, i + 2 + len);
    i += 2 + len;
    while (v.length > 32 && v[0] === 0) v = v.slice(1);
    if (v.length > 32) fail();
    const out = new Uint8Array(32);
    out.set(v, 32 - v.length);
    return out;
  };
  const r = int();
  const s = int();
  return concat(r, s);
}

function pemToDer(pem) {
  const b = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
  return b64decode(b);
}

/** Verifies a DSSE signature with a securesystemslib key document. */
export async function verifySslib(key, sig, msg) {
  const pub = key?.keyval?.public;
  if (typeof pub !== "string") throw new Error("key has no public value");
  if (key.keytype === "ed25519") {
    return ed25519Verify(fromHex(pub), sig, msg);
  }
  if (key.keytype === "ecdsa" || key.keytype === "ecdsa-sha2-nistp256") {
    const k = await crypto.subtle.importKey(
      "spki",
      pemToDer(pub),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
    return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, k, derToRaw(sig), msg);
  }
  throw new Error(`unsupported key type ${key.keytype}`);
}

async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function getText(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

/**
 * Fetches entry `id` (entry id or log index), its receipt and the keys, and checks everything.
 * Never throws: returns {ok, signature, receipt, reason, steps[], entry, statement, envelope,
 * receiptJson, signer, checkpoint}.
 */
export async function verifyEntry(id) {
  const res = { ok: false, signature: false, receipt: false, reason: "", steps: [] };
  const step = (ok, text) => res.steps.push({ ok, text });
  try {
    if (!globalThis.crypto?.subtle) {
      throw new Error("this browser offers no WebCrypto here (serve the page over HTTPS)");
    }
    const meta = await getJson(`/entries/${encodeURIComponent(id)}`);
    res.entry = meta;
    if (typeof meta.entry !== "string") throw new Error("the entry is not integrated yet");
    const bytes = b64decode(meta.entry);
    res.bytes = bytes;
    const envelope = JSON.parse(new TextDecoder().decode(bytes));
    res.envelope = envelope;
    if (typeof envelope.payload !== "string" || typeof envelope.payloadType !== "string") {
      throw new Error("the entry is not a DSSE envelope");
    }
    const payload = b64decode(envelope.payload);
    try {
      res.statement = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      res.statement = null;
    }
    // 1. Signature over the PAE of the bytes received.
    const msg = pae(envelope.payloadType, payload);
    let sigError = "no signature names a registered key";
    for (const s of envelope.signatures || []) {
      if (typeof s.keyid !== "string" || !/^[0-9a-f]{1,128}$/i.test(s.keyid)) continue;
      let key;
      try {
        key = await getJson(`/keys/${s.keyid}`);
      } catch {
        continue;
      }
      try {
        if (await verifySslib(key, b64decode(s.sig), msg)) {
          res.signature = true;
          res.signer = key;
          break;
        }
        sigError = `the signature by key ${s.keyid.slice(0, 12)}… does not verify`;
      } catch (e) {
        sigError = `signature check failed: ${e.message}`;
      }
    }
    if (res.signature) {
      step(true, `DSSE signature verifies with ${res.signer.keytype} key ${res.signer.keyid.slice(0, 16)}… of ${res.signer.org}`);
    } else {
      step(false, `DSSE signature: ${sigError}`);
    }
    // 2. Receipt.
    let receiptError = "";
    try {
      const receipt = await getJson(`/entries/${encodeURIComponent(id)}/receipt`);
      res.receiptJson = receipt;
      const vkey = await getText("/log/key");
      res.logKey = vkey.trim();
      const digest = hex(await sha256(bytes));
      if (digest !== receipt.id) throw new Error("the entry bytes do not match the receipt's entry id");
      if (/^[0-9a-f]{64}$/.test(id) && id !== digest) throw new Error("the entry bytes do not hash to the requested id");
      step(true, `SHA-256 of the entry bytes is the receipt's id ${digest.slice(0, 16)}…`);
      const text = await verifyNote(receipt.checkpoint, vkey);
      step(true, `checkpoint signed by the log key ${res.logKey.split("+")[0]}`);
      const cp = parseCheckpoint(text);
      res.checkpoint = cp;
      if (cp.size !== receipt.tree_size) throw new Error(`receipt tree size ${receipt.tree_size} is not the checkpoint's ${cp.size}`);
      const proof = receipt.inclusion_proof.map((h) => {
        const b = b64decode(h);
        if (b.length !== 32) throw new Error("inclusion proof hash is not 32 bytes");
        return b;
      });
      const root = await rootFromInclusionProof(receipt.log_index, cp.size, await leafHash(bytes), proof);
      if (!equal(root, cp.root)) throw new Error("the inclusion proof does not lead to the checkpoint root");
      step(true, `inclusion proof (${proof.length} hashes) leads from leaf ${receipt.log_index} to the root of tree size ${cp.size}`);
      res.receipt = true;
    } catch (e) {
      receiptError = e.message;
      step(false, `receipt: ${receiptError}`);
    }
    res.ok = res.signature && res.receipt;
    if (!res.signature) res.reason = sigError;
    else if (!res.receipt) res.reason = receiptError;
  } catch (e) {
    res.reason = e.message;
    step(false, e.message);
  }
  return res;
}

/** One line for people: "Verified in your browser: signature ✓, receipt ✓" or why not. */
export function summary(res) {
  if (res.ok) return "Verified in your browser: signature \u2713, receipt \u2713";
  const s = res.signature ? "\u2713" : "\u2717";
  const r = res.receipt ? "\u2713" : "\u2717";
  return `Not verified (signature ${s}, receipt ${r}): ${res.reason}`;
}

/** Writes the steps into an <ol>. */
export function renderSteps(ol, res) {
  if (!ol) return;
  ol.replaceChildren(
    ...res.steps.map((s) => {
      const li = document.createElement("li");
      li.className = s.ok ? "ok" : "fail";
      li.textContent = `${s.ok ? "\u2713" : "\u2717"} ${s.text}`;
      return li;
    }),
  );
}

/** Creates an element with a class and text. */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
