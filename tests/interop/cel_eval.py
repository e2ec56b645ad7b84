"""Evaluate CEL expressions with cel-python (the reference for shinrai-conformity's CEL rules).

Usage: cel_eval.py CASES.json
CASES.json: {"cases": [{"expr": "...", "vars": {name: JSON value}}]}. Variables are converted
with celpy.json_to_cel (JSON integers -> int, other numbers -> double). Prints one JSON line per
case: {"ok": true, "value": <result as JSON>} or {"ok": false, "error": "<message>"}.
"""

import json
import sys

import celpy
from celpy import celtypes


def to_json(v):
    if isinstance(v, celtypes.BoolType) or isinstance(v, bool):
        return bool(v)
    if isinstance(v, (celtypes.IntType, celtypes.UintType, int)):
        return int(v)
    if isinstance(v, (celtypes.DoubleType, float)):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if v is None:
        return None
    raise TypeError(f"result type {type(v).__name__} has no JSON form")


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    env = celpy.Environment()
    for case in cases:
        try:
            program = env.program(env.compile(case["expr"]))
            activation = {k: celpy.json_to_cel(v) for k, v in case["vars"].items()}
            result = program.evaluate(activation)
            if isinstance(result, celpy.CELEvalError):
                raise result
            print(json.dumps({"ok": True, "value": to_json(result)}))
        except Exception as e:  # noqa: BLE001 - an evaluation error is a result to compare
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
