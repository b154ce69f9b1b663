"""A throwaway certificate authority and server certificates, made at test time.

Made with the ``openssl`` command line: the standard library cannot create certificates, and
neither ``trustme`` nor ``cryptography`` is a dependency. Everything lives in a temporary
directory and is valid for two days.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TestPKI", "make_pki"]


@dataclass(frozen=True)
class TestPKI:
    """A CA and one server certificate signed by it.

    Attributes:
        ca_cert: the CA certificate (PEM): trust it to accept the server.
        server_cert: the server certificate chain (PEM).
        server_key: the server's private key (PEM).
    """

    __test__ = False  # not a test class, despite the name

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for a TLS server presenting the certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client ``SSLContext`` that trusts this CA (and only it)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))


def make_pki(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1",)) -> TestPKI:
    """Create a CA and a server certificate valid for ``hosts`` (IP addresses or DNS names).

    Raises:
        RuntimeError: the ``openssl`` command is not available.
    """
    directory.mkdir(parents=True, exist_ok=True)
    return _make_with_openssl(directory, hosts)


def _is_ip(host: str) -> bool:
    return all(part.isdigit() for part in host.split(".")) or ":" in host


def _make_with_openssl(directory: Path, hosts: tuple[str, ...]) -> TestPKI:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the TLS tests need the `openssl` command to make certificates")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=slack-rtm test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={hosts[0]}")
    names = ",".join(f"{'IP' if _is_ip(h) else 'DNS'}:{h}" for h in hosts)
    (directory / "server.ext").write_text(
        f"subjectAltName={names}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
    )  # fmt: skip
    return TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")
