"""Independent check of a Shinrai RFC 9942 COSE receipt with pycose.

Usage: cose_receipt.py ENTRY_FILE RECEIPT_FILE LOG_PUBLIC_KEY_HEX
Recomputes the RFC 9162 root from the entry and the receipt's inclusion proof (own code, not
Shinrai's), then verifies the COSE_Sign1 signature over that root with pycose. Exit 0 if valid.
"""
import hashlib
import sys

import cbor2
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

entry = open(sys.argv[1], "rb").read()
receipt = open(sys.argv[2], "rb").read()
pub = bytes.fromhex(sys.argv[3])

msg = Sign1Message.decode(receipt)
assert msg.phdr.get(395) == 1, f"vds is {msg.phdr.get(395)!r}, expected 1 (RFC9162_SHA256)"
size, index, path = cbor2.loads(msg.uhdr[396][-1][0])


def h(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


r, fn, sn = h(b"\x00", entry), index, size - 1
for p in path:
    assert sn != 0, "proof too long"
    if fn & 1 or fn == sn:
        r = h(b"\x01", p, r)
        while not fn & 1 and fn != 0:
            fn >>= 1
            sn >>= 1
    else:
        r = h(b"\x01", r, p)
    fn >>= 1
    sn >>= 1
assert sn == 0, "proof too short"

msg.key = OKPKey(crv=Ed25519, x=pub)
if not msg.verify_signature(detached_payload=r):
    print("BAD signature")
    sys.exit(1)
print(f"OK index {index} size {size}")
