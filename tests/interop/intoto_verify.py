"""Run Python in-toto 3.1 verification on layouts and links exported by shinrai-conformity.

Usage: intoto_verify.py CASE_DIR [CASE_DIR ...]

Each CASE_DIR holds `root.layout` (Metablock), `layout-key.json` (the layout signer's public key
in securesystemslib form, with "keyid") and the step links `<step>.<keyid8>.link`. Prints one
JSON line per case: {"case": dir, "accepted": bool, "error": "<exception type>: <message>"}.
Verification runs in the case directory; the exported layouts have no inspections, so no
command is run.
"""

import json
import os
import sys

from in_toto.models.metadata import Metadata
from in_toto.verifylib import in_toto_verify


def verify(case_dir: str) -> dict:
    try:
        layout = Metadata.load(os.path.join(case_dir, "root.layout"))
        with open(os.path.join(case_dir, "layout-key.json"), encoding="utf-8") as f:
            key = json.load(f)
        in_toto_verify(layout, {key["keyid"]: key}, link_dir_path=case_dir)
        return {"case": case_dir, "accepted": True, "error": ""}
    except Exception as e:  # noqa: BLE001 - every failure is a rejection to report
        return {"case": case_dir, "accepted": False, "error": f"{type(e).__name__}: {e}"}


def main() -> int:
    for case_dir in sys.argv[1:]:
        print(json.dumps(verify(case_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
