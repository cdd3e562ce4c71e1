"""A test CA and a wildcard certificate for the development cluster's domain (openssl).

Browsers and clients trust the CA (`PREVIEW_CA`); the router serves the wildcard certificate,
with the CA in its chain, for every `https://<environment>.<domain>/`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA's certificate (PEM): what clients trust
    chain: Path  # the wildcard certificate followed by the CA's
    key: Path  # the wildcard certificate's key


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def issue(folder: Path, domain: str) -> Certificates:
    """Make a CA and a certificate for `*.domain` and `domain`, valid for 30 days."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / "ca.key", folder / "ca.crt"
    key, csr, leaf = folder / "wildcard.key", folder / "wildcard.csr", folder / "wildcard.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
             "-days", "30", "-subj", f"/CN=streamlit-preview development CA ({domain})",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", f"/CN=*.{domain}")  # fmt: skip
    extensions = folder / "wildcard.ext"
    extensions.write_text(
        f"subjectAltName=DNS:*.{domain},DNS:{domain}\nextendedKeyUsage=serverAuth\n"
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(leaf), "-days", "30", "-extfile", str(extensions))  # fmt: skip
    chain = folder / "wildcard-chain.crt"
    chain.write_text(leaf.read_text() + ca.read_text())
    for secret in (ca_key, key):
        secret.chmod(0o600)
    return Certificates(ca=ca, chain=chain, key=key)
