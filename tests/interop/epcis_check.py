"""Check EPCIS 2.0 documents written by shinrai-evidence against the outside references.

Usage: epcis_check.py SCHEMA DOC.json [DOC.json ...]

For each document (one EPCISDocument holding events), prints one JSON line:
  {"file": ..., "schema_errors": [...], "hashes": [...], "prehashes": [...]}
- schema_errors: GS1's EPCIS 2.0 JSON Schema (draft-07) with Python `jsonschema`, format
  checking on (date-time and uri are checked when the optional format validators are installed).
- hashes: the event ids computed by PyPI `epcis-event-hash-generator` (sha256, CBV 2.0).
The Rust test compares them with its own results.
"""

import json
import sys

import jsonschema
from epcis_event_hash_generator import hash_generator, json_to_py


def main() -> int:
    schema_path, docs = sys.argv[1], sys.argv[2:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for path in docs:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        errors = [
            f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        events = json_to_py.event_list_from_epcis_document_json(json.loads(json.dumps(doc)))
        prehashes = hash_generator.derive_prehashes_from_events(events)
        hashes = hash_generator.calculate_hashes_from_pre_hashes(prehashes)
        print(json.dumps({"file": path, "schema_errors": errors, "hashes": hashes, "prehashes": prehashes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
