"""PEM files named by a TLS setting, checked when the config is read, so a problem names its field and file."""

from __future__ import annotations

import ssl

_MARKERS = {"certificate": b"-----BEGIN CERTIFICATE-----", "private key": b"PRIVATE KEY-----"}


def pem_problem(path: str, holds: str) -> str | None:
    """Why the file at path cannot serve as a PEM `holds` ("certificate" or "private key"); None when it can."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return f"no such file {path!r}"
    except OSError as error:
        return f"cannot read {path!r}: {error.strerror}"
    if _MARKERS[holds] not in data:
        return f"{path!r} holds no PEM {holds}"
    if holds == "certificate":
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(path)
        except ssl.SSLError as error:
            return f"{path!r} holds an unreadable certificate ({error.reason or error})"
    return None


def pair_problem(cert_file: str, key_file: str) -> str | None:
    """Why key_file is not the private key of cert_file's certificate; None when it is."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert_file, key_file)
    except ssl.SSLError as error:
        return f"{key_file!r} is not the key of cert_file {cert_file!r} ({error.reason or error})"
    return None
