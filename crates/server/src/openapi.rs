//! The hand-written OpenAPI 3.0 document served at `/openapi.json`. Every JSON the API emits is
//! described here field by field; schemathesis checks the server against it in CI.

use serde_json::{Value, json};

fn err(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(desc: &str, schema: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn binary(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
}

fn text(desc: &str) -> Value {
    json!({"description": desc, "content": {"text/plain": {"schema": {"type": "string"}}}})
}

fn tile_op(summary: &str, partial: bool) -> Value {
    let mut params = vec![json!({"name": "N", "in": "path", "required": true,
        "description": "tile index in the tlog-tiles encoding (3-digit groups, all but the last prefixed with x, e.g. x001/234); one path segment in this document",
        "schema": {"type": "string", "pattern": "^[0-9]{3}$"}})];
    if partial {
        params.push(json!({"name": "W", "in": "path", "required": true, "description": "partial width 1-255",
            "schema": {"type": "integer", "minimum": 1, "maximum": 255}}));
    }
    json!({"get": {"summary": summary, "parameters": params, "responses": {
        "200": binary("tile bytes (immutable; cached for a year)"),
        "404": err("no such tile in the current tree")}}})
}

fn hash_tile_op(summary: &str, partial: bool) -> Value {
    let mut op = tile_op(summary, partial);
    if let Some(p) = op["get"]["parameters"].as_array_mut() {
        p.insert(
            0,
            json!({"name": "L", "in": "path", "required": true, "description": "tile level",
            "schema": {"type": "integer", "minimum": 0, "maximum": 63}}),
        );
    }
    op
}

/// The OpenAPI document.
pub fn openapi() -> Value {
    let id_param = json!({"name": "id", "in": "path", "required": true,
        "description": "entry id (64 hex digits, SHA-256 of the entry bytes) or decimal log index",
        "schema": {"type": "string"}});
    json!({
      "openapi": "3.0.3",
      "info": {"title": "Shinrai trust store", "version": env!("CARGO_PKG_VERSION"),
        "description": "Registration of signed statements (DSSE / in-toto Statement v1) into a verifiable log with receipts, C2SP tlog-tiles, search and traceability."},
      "paths": {
        "/entries": {"post": {
          "summary": "Register a signed statement (DSSE envelope JSON or COSE_Sign1)",
          "security": [{"bearer": []}],
          "requestBody": {"required": true, "content": {
             "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
             "application/cose": {"schema": {"type": "string", "format": "binary",
               "description": "COSE_Sign1 (SCITT): protected alg, kid = signer key id, content type, CWT claims iss/sub"}}}},
          "responses": {
            "200": ok_json("already registered: the existing entry and a fresh receipt", "Registered"),
            "201": ok_json("integrated: entry id and receipt", "Registered"),
            "202": ok_json("accepted; its batch is still integrating (see Location)", "Pending"),
            "400": err("malformed body or entry"),
            "401": err("missing or unknown organisation token"),
            "413": err("entry or body too large"),
            "415": err("wrong content type"),
            "422": err("unknown signer, bad signature or refused by policy"),
            "503": err("busy; retry after the Retry-After delay"),
            "500": err("internal error")}}},
        "/entries/{id}": {"get": {
          "summary": "An entry with its metadata and bytes",
          "parameters": [id_param.clone()],
          "responses": {
            "200": ok_json("the entry", "Entry"),
            "202": ok_json("accepted, not yet integrated", "Pending"),
            "400": err("bad id"),
            "404": err("no such entry")}}},
        "/entries/{id}/receipt": {"get": {
          "summary": "A receipt (inclusion proof against the latest signed tree head): JSON, or an RFC 9942 COSE receipt with format=cose or Accept: application/cose",
          "parameters": [id_param, {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "cose"], "default": "json"}}],
          "responses": {
            "200": {"description": "the receipt", "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}},
              "application/cose": {"schema": {"type": "string", "format": "binary", "description": "tagged COSE_Sign1, detached payload (the Merkle root), vds 395 = 1, vdp 396 = {-1: [bstr .cbor [tree-size, leaf-index, [+ hash]]]}"}}}},
            "202": ok_json("accepted, not yet integrated", "Pending"),
            "400": err("bad id or format"),
            "404": err("no such entry")}}},
        "/log/checkpoint": {"get": {"summary": "Latest C2SP checkpoint (signed note)",
          "responses": {"200": text("signed note")}}},
        "/log/key": {"get": {"summary": "The note verifier key of the log",
          "responses": {"200": text("<name>+<hex key hash>+<base64 key>")}}},
        "/log/tile/{L}/{N}": hash_tile_op("Full hash tile (256 hashes)", false),
        "/log/tile/{L}/{N}.p/{W}": hash_tile_op("Partial hash tile of W hashes", true),
        "/log/tile/entries/{N}": tile_op("Full entry bundle (256 entries, each u16 length + bytes)", false),
        "/log/tile/entries/{N}.p/{W}": tile_op("Partial entry bundle of W entries", true),
        "/search": {"get": {
          "summary": "Search entries (all given filters must match), in log order, paginated",
          "parameters": [
            {"name": "subject_digest", "in": "query", "schema": {"type": "string"}, "description": "alg:hex or 64 hex (sha256)"},
            {"name": "subject_name", "in": "query", "schema": {"type": "string"}},
            {"name": "issuer", "in": "query", "schema": {"type": "string"}, "description": "organisation name or key id"},
            {"name": "predicate_type", "in": "query", "schema": {"type": "string"}},
            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "RFC 3339, inclusive"},
            {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "RFC 3339, exclusive"},
            {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 9223372036854775807_i64}, "description": "cursor: the previous page's next"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}],
          "responses": {"200": ok_json("a page of results", "SearchPage"), "400": err("bad parameter")}}},
        "/trace/{node}": {"get": {
          "summary": "Follow traceability edges transitively (up: inputs, down: where used)",
          "parameters": [
            {"name": "node", "in": "path", "required": true, "schema": {"type": "string"}, "description": "digest alg:hex (or 64 hex) or EPC URI"},
            {"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["up", "down"], "default": "up"}},
            {"name": "depth", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 64, "default": 8}}],
          "responses": {"200": ok_json("the trace", "Trace"), "400": err("bad parameter")}}},
        "/keys/{keyid}": {"get": {
          "summary": "A registered organisation public key (securesystemslib JSON), for checking DSSE signatures",
          "parameters": [{"name": "keyid", "in": "path", "required": true, "description": "securesystemslib key id (hex)",
            "schema": {"type": "string"}}],
          "responses": {"200": ok_json("the key", "OrgKey"), "404": err("no such key")}}},
        "/openapi.json": {"get": {"summary": "This document",
          "responses": {"200": {"description": "OpenAPI 3.0 document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/healthz": {"get": {"summary": "Liveness and current tree size",
          "responses": {"200": ok_json("healthy", "Health")}}}
      },
      "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "per-organisation token from `shinrai org add`"}},
        "schemas": {
          "Error": {"type": "object", "required": ["error", "reason"], "properties": {
            "error": {"type": "string", "description": "machine-readable code"},
            "reason": {"type": "string", "description": "what went wrong, for a human"}}},
          "Envelope": {"type": "object", "required": ["payloadType", "payload", "signatures"], "properties": {
            "payloadType": {"type": "string"}, "payload": {"type": "string", "description": "base64"},
            "signatures": {"type": "array", "items": {"type": "object", "required": ["sig"], "properties": {
              "keyid": {"type": "string"}, "sig": {"type": "string"}}}}}},
          "Receipt": {"type": "object", "required": ["id", "log_index", "tree_size", "inclusion_proof", "checkpoint"], "properties": {
            "id": {"type": "string", "description": "hex SHA-256 of the entry bytes"},
            "log_index": {"type": "integer", "minimum": 0},
            "tree_size": {"type": "integer", "minimum": 1},
            "inclusion_proof": {"type": "array", "items": {"type": "string", "description": "base64 SHA-256"}},
            "checkpoint": {"type": "string", "description": "C2SP signed note"}}},
          "Registered": {"type": "object", "required": ["id", "log_index", "existing", "receipt"], "properties": {
            "id": {"type": "string"}, "log_index": {"type": "integer", "minimum": 0},
            "existing": {"type": "boolean", "description": "true if registered before"},
            "receipt": {"$ref": "#/components/schemas/Receipt"}}},
          "Pending": {"type": "object", "required": ["id", "status"], "properties": {
            "id": {"type": "string"}, "status": {"type": "string", "enum": ["pending"]}}},
          "Subject": {"type": "object", "required": ["name", "digests"], "properties": {
            "name": {"type": "string"}, "digests": {"type": "array", "items": {"type": "string"}}}},
          "Entry": {"type": "object", "required": ["index", "id", "registered_at_ms", "registered_at", "submitter", "issuer_org", "issuer_keyid", "payload_type", "predicate_type", "subjects"], "properties": {
            "index": {"type": "integer", "minimum": 0}, "id": {"type": "string"},
            "registered_at_ms": {"type": "integer"}, "registered_at": {"type": "string", "format": "date-time"},
            "submitter": {"type": "string"}, "issuer_org": {"type": "string"}, "issuer_keyid": {"type": "string"},
            "payload_type": {"type": "string"}, "predicate_type": {"type": "string"},
            "subjects": {"type": "array", "items": {"$ref": "#/components/schemas/Subject"}},
            "entry": {"type": "string", "description": "base64 of the entry bytes exactly as registered (absent in search results)"}}},
          "SearchPage": {"type": "object", "required": ["entries", "next"], "properties": {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}},
            "next": {"type": "integer", "nullable": true, "description": "pass as after= for the next page"}}},
          "Edge": {"type": "object", "required": ["input", "output", "index"], "properties": {
            "input": {"type": "string"}, "output": {"type": "string"}, "index": {"type": "integer", "minimum": 0}}},
          "Trace": {"type": "object", "required": ["root", "direction", "depth", "nodes", "edges", "truncated"], "properties": {
            "root": {"type": "string"}, "direction": {"type": "string", "enum": ["up", "down"]},
            "depth": {"type": "integer"},
            "nodes": {"type": "array", "items": {"type": "object", "required": ["id", "depth"], "properties": {
              "id": {"type": "string"}, "depth": {"type": "integer", "minimum": 0}}}},
            "edges": {"type": "array", "items": {"$ref": "#/components/schemas/Edge"}},
            "truncated": {"type": "boolean"}}},
          "OrgKey": {"type": "object", "required": ["keytype", "scheme", "keyval", "keyid", "org"], "properties": {
            "keytype": {"type": "string", "enum": ["ed25519", "ecdsa"]},
            "scheme": {"type": "string", "enum": ["ed25519", "ecdsa-sha2-nistp256"]},
            "keyval": {"type": "object", "required": ["public"], "properties": {
              "public": {"type": "string", "description": "Ed25519: 64 hex; ECDSA P-256: PEM SPKI"}}},
            "keyid": {"type": "string", "description": "hex SHA-256 of the canonical key JSON"},
            "org": {"type": "string", "description": "the owning organisation"}}},
          "Health": {"type": "object", "required": ["status", "tree_size"], "properties": {
            "status": {"type": "string", "enum": ["ok"]}, "tree_size": {"type": "integer", "minimum": 0}}}
        }
      }
    })
}
