"""Validate CycloneDX 1.6 JSON documents with cyclonedx-python-lib (the independent checker).

Usage: cyclonedx_validate.py FILE...   Exit 0 when every file is valid; otherwise print the
first error of each invalid file and exit 1. Also loads each document into the library's object
model (Bom.from_json) and checks the component hashes survive, so a document that is valid by
schema but unreadable by the library fails too.
"""
import json
import sys

from cyclonedx.model.bom import Bom
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def main(paths):
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        error = validator.validate_str(text)
        if error is not None:
            print(f"{path}: INVALID: {error}")
            failed = True
            continue
        bom = Bom.from_json(json.loads(text))  # type: ignore[attr-defined]
        hashes = sum(len(c.hashes) for c in bom.components)
        print(f"{path}: valid CycloneDX 1.6, {len(bom.components)} components, {hashes} hashes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
