#!/usr/bin/env python3
"""pycose 1.1.0 as an independent COSE_Sign1 implementation for shinrai-envelope interop tests.

Subcommands (exit 0 on success; 1 with the reason on stderr otherwise):
  verify --public PUB.json --message MSG.cbor
      Verifies a tagged COSE_Sign1 with a securesystemslib public key (Ed25519 or P-256).
      Prints one JSON line: {"alg", "kid", "content_type", "iss", "sub", "payload_hex"}.
  sign --alg ed25519|ecdsa --out-public PUB.json --payload FILE --content-type T
       --iss ISS --sub SUB --out MSG.cbor
      Generates a key, writes its securesystemslib public key JSON (with keyid) and a tagged
      COSE_Sign1 with alg, kid (hex-decoded keyid), content type and CWT claims (15: {1, 2}) in
      the protected header.

Used by crates/envelope/tests/interop.rs; run with the venv from tests/python-requirements.txt.
"""

import argparse
import json
import sys

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycose.algorithms import EdDSA, Es256
from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import CoseKey, OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import CoseMessage, Sign1Message
from securesystemslib.signer import SSlibKey

CWT_CLAIMS = 15


def cose_public_key(path):
    with open(path, "rb") as f:
        data = json.load(f)
    data.pop("keyid", None)
    key = SSlibKey.from_dict("unused", data)
    if key.keytype == "ed25519":
        return OKPKey(crv=Ed25519, x=bytes.fromhex(key.keyval["public"]))
    return CoseKey.from_pem_public_key(key.keyval["public"])


def cmd_verify(args):
    with open(args.message, "rb") as f:
        msg = CoseMessage.decode(f.read())
    if not isinstance(msg, Sign1Message):
        raise ValueError(f"not a COSE_Sign1 but {type(msg).__name__}")
    msg.key = cose_public_key(args.public)
    if not msg.verify_signature():
        raise ValueError("signature does not verify")
    claims = msg.phdr.get(CWT_CLAIMS, {})
    out = {
        "alg": msg.phdr[Algorithm].identifier,
        "kid": msg.phdr.get(KID, b"").hex(),
        "content_type": msg.phdr.get(ContentType),
        "iss": claims.get(1),
        "sub": claims.get(2),
        "payload_hex": msg.payload.hex(),
    }
    print(json.dumps(out))


def cmd_sign(args):
    if args.alg == "ed25519":
        private = Ed25519PrivateKey.generate()
        alg = EdDSA
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        alg = Es256
    public = SSlibKey.from_crypto(private.public_key())
    doc = public.to_dict()
    doc["keyid"] = public.keyid
    with open(args.out_public, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    with open(args.payload, "rb") as f:
        payload = f.read()
    msg = Sign1Message(
        phdr={
            Algorithm: alg,
            KID: bytes.fromhex(public.keyid),
            ContentType: args.content_type,
            CWT_CLAIMS: {1: args.iss, 2: args.sub},
        },
        payload=payload,
    )
    msg.key = CoseKey._from_cryptography_key(private)
    with open(args.out, "wb") as f:
        f.write(msg.encode())
    print(public.keyid)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("verify")
    p.add_argument("--public", required=True)
    p.add_argument("--message", required=True)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("sign")
    p.add_argument("--alg", choices=["ed25519", "ecdsa"], required=True)
    p.add_argument("--out-public", required=True)
    p.add_argument("--payload", required=True)
    p.add_argument("--content-type", required=True)
    p.add_argument("--iss", required=True)
    p.add_argument("--sub", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sign)

    args = parser.parse_args()
    try:
        args.func(args)
    except Exception as e:  # noqa: BLE001 - every failure is a verdict for the caller
        print(f"{args.cmd} failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
