"""TLS for the emulator: a throwaway certificate authority from trustme, written to files.

uvicorn reads its certificate and key from files, and a client in another process needs the
CA certificate as a file too, so everything is written under the emulator's private directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["TlsFiles", "issue_loopback_certificate"]


@dataclass(frozen=True)
class TlsFiles:
    """A server certificate (chain) and key; ``ca_pem`` is set when the emulator made the CA."""

    certfile: Path
    keyfile: Path
    ca_pem: Path | None = None


def issue_loopback_certificate(directory: Path) -> TlsFiles:
    """A new CA, and a certificate it signed for 127.0.0.1, ::1 and localhost."""
    ca = trustme.CA(organization_name="decart-emulator test CA")
    leaf = ca.issue_cert("127.0.0.1", "::1", "localhost")
    files = TlsFiles(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    files.certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(files.keyfile))
    files.keyfile.chmod(0o600)
    ca.cert_pem.write_to_path(str(files.ca_pem))
    return files
