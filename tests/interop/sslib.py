#!/usr/bin/env python3
"""securesystemslib 1.6.0 as an independent DSSE implementation for shinrai-envelope interop tests.

Subcommands (exit 0 on success; 1 with the reason on stderr otherwise):
  keygen --alg ed25519|ecdsa --out-private PRIV --out-public PUB.json
      PRIV: PEM PKCS#8 private key; PUB.json: securesystemslib public key dict with "keyid".
  sign --private PRIV --payload-type T --payload FILE --out ENV.json
      Signs FILE's bytes into a DSSE envelope with securesystemslib's CryptoSigner.
  verify --public PUB.json --envelope ENV.json [--payload-type T]
      securesystemslib.dsse.Envelope.verify with the one key, threshold 1; prints the payload
      as hex on success. With --payload-type, also requires that payload type.
  keyid --public PUB.json
      Prints the default keyid securesystemslib computes for the key (ignores any "keyid").
  canonical --json FILE
      Prints securesystemslib's canonical JSON (encode_canonical) of FILE's document, as hex.

Used by crates/envelope/tests/interop.rs; run with the venv from tests/python-requirements.txt.
"""

import argparse
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.dsse import Envelope
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey


def load_public(path):
    with open(path, "rb") as f:
        data = json.load(f)
    keyid = data.pop("keyid", None)
    if keyid is None:
        raise ValueError(f"{path} has no keyid")
    return SSlibKey.from_dict(keyid, data)


def cmd_keygen(args):
    if args.alg == "ed25519":
        signer = CryptoSigner.generate_ed25519()
    else:
        signer = CryptoSigner.generate_ecdsa()
    with open(args.out_private, "wb") as f:
        f.write(signer.private_bytes)
    public = signer.public_key.to_dict()
    public["keyid"] = signer.public_key.keyid
    with open(args.out_public, "w", encoding="utf-8") as f:
        json.dump(public, f, indent=2)
    print(signer.public_key.keyid)


def cmd_sign(args):
    with open(args.private, "rb") as f:
        private_key = load_pem_private_key(f.read(), None)
    signer = CryptoSigner(private_key)
    with open(args.payload, "rb") as f:
        payload = f.read()
    envelope = Envelope(payload, args.payload_type, {})
    envelope.sign(signer)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(envelope.to_dict(), f)
    print(signer.public_key.keyid)


def cmd_verify(args):
    key = load_public(args.public)
    with open(args.envelope, "rb") as f:
        envelope = Envelope.from_dict(json.load(f))
    if args.payload_type is not None and envelope.payload_type != args.payload_type:
        raise ValueError(
            f"payload type {envelope.payload_type!r}, expected {args.payload_type!r}"
        )
    accepted = envelope.verify([key], 1)
    if key.keyid not in accepted:
        raise ValueError("key not among the accepted keys")
    print(envelope.payload.hex())


def cmd_keyid(args):
    with open(args.public, "rb") as f:
        data = json.load(f)
    data.pop("keyid", None)
    # A throwaway keyid: from_crypto recomputes the default one from the key material.
    key = SSlibKey.from_dict("unused", data)
    recomputed = SSlibKey.from_crypto(key._crypto_key(), scheme=key.scheme)
    if recomputed.keyval != key.keyval:
        raise ValueError("key file's public value is not in securesystemslib's canonical form")
    print(recomputed.keyid)


def cmd_canonical(args):
    with open(args.json, "rb") as f:
        doc = json.load(f)
    print(encode_canonical(doc).encode("utf-8").hex())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("keygen")
    p.add_argument("--alg", choices=["ed25519", "ecdsa"], required=True)
    p.add_argument("--out-private", required=True)
    p.add_argument("--out-public", required=True)
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("sign")
    p.add_argument("--private", required=True)
    p.add_argument("--payload-type", required=True)
    p.add_argument("--payload", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("verify")
    p.add_argument("--public", required=True)
    p.add_argument("--envelope", required=True)
    p.add_argument("--payload-type")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("keyid")
    p.add_argument("--public", required=True)
    p.set_defaults(func=cmd_keyid)

    p = sub.add_parser("canonical")
    p.add_argument("--json", required=True)
    p.set_defaults(func=cmd_canonical)

    args = parser.parse_args()
    try:
        args.func(args)
    except Exception as e:  # noqa: BLE001 - every failure is a verdict for the caller
        print(f"{args.cmd} failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
