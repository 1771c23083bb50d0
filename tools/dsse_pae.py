#!/usr/bin/env python3
"""Turn a rollproof DSSE envelope into what the stock ssh-keygen verifies.

`rollproof report attest` writes a DSSE envelope (in-toto's signed form):
payloadType, payload (base64) and signatures[].sig, each an SSHSIG blob in
base64 over the DSSE pre-authentication encoding

    DSSEv1 <len(payloadType)> <payloadType> <len(payload)> <payload>

(lengths in ASCII decimal bytes). For ENVELOPE X.json this writes X.pae (the
signed bytes) and X.pae.sig (the first signature, armored), so that

    ssh-keygen -Y verify -f allowed_signers -I <identity> -n rollproof-report \\
        -s X.pae.sig < X.pae

checks the envelope without rollproof; X.payload.json is the Statement.
Standard library only.

Usage:
    python3 tools/dsse_pae.py ENVELOPE.json
"""

import base64
import json
import sys


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: dsse_pae.py ENVELOPE.json", file=sys.stderr)
        return 2
    path = argv[0]
    with open(path, "rb") as f:
        env = json.load(f)
    kind = env["payloadType"].encode()
    payload = base64.b64decode(env["payload"], validate=True)
    pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
    sig = env["signatures"][0]["sig"]
    stem = path[: -len(".json")] if path.endswith(".json") else path
    with open(stem + ".pae", "wb") as f:
        f.write(pae)
    with open(stem + ".payload.json", "wb") as f:
        f.write(payload)
    lines = [sig[i : i + 70] for i in range(0, len(sig), 70)]
    with open(stem + ".pae.sig", "w") as f:
        f.write("-----BEGIN SSH SIGNATURE-----\n" + "\n".join(lines) + "\n-----END SSH SIGNATURE-----\n")
    print("%s.pae  %s.pae.sig  %s.payload.json" % (stem, stem, stem))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
