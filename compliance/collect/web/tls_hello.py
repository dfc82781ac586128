"""Hand-built ClientHellos and the reading of a server's first answer to one.

Enough of TLS to learn which protocol version and cipher suite a server picks for a given offer,
never enough to finish a handshake. That is all a protocol and cipher-suite survey needs, and it
lets a scan ask about SSL 2.0, SSL 3.0, TLS 1.0 and RC4/DES/export suites that the local OpenSSL
will not speak any more, without carrying a second, legacy TLS library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

SSL2, SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304

SSL2_SUITES: dict[int, str] = {
    0x010080: "SSL_CK_RC4_128_WITH_MD5",
    0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
}

_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101, 0x0102)
_SIGNATURE_SCHEMES = (0x0804, 0x0805, 0x0806, 0x0403, 0x0503, 0x0603, 0x0807, 0x0808,
                      0x0401, 0x0501, 0x0601, 0x0201, 0x0203, 0x0202, 0x0402, 0x0502, 0x0602)
_RENEGOTIATION_SCSV = 0x00FF
_X25519 = 0x001D
_HELLO_RETRY_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
_ALERT, _HANDSHAKE = 21, 22
_SERVER_HELLO = 2
_SUPPORTED_VERSIONS = 43


@dataclass(frozen=True)
class Reply:
    """The server's first answer: a hello naming version and suite(s), an alert, or something else."""

    kind: str  # "hello" | "alert" | "other"
    version: int = 0
    suites: tuple[int, ...] = ()
    alert: int | None = None


def _vector(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


def _extension(kind: int, body: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _vector(body, 2)


def _u16(values: Iterable[int]) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


def _extensions(version: int, server_name: str | None) -> bytes:
    parts = []
    if server_name:
        parts.append(_extension(0, _vector(b"\x00" + _vector(server_name.encode("idna"), 2), 2)))
    parts += [_extension(10, _vector(_u16(_GROUPS), 2)), _extension(11, _vector(b"\x00", 1)),
              _extension(23, b"")]
    if version >= TLS12:
        parts.append(_extension(13, _vector(_u16(_SIGNATURE_SCHEMES), 2)))
    if version == TLS13:
        parts += [_extension(_SUPPORTED_VERSIONS, _vector(_u16([TLS13]), 1)),
                  _extension(45, _vector(b"\x01", 1)),
                  # any 32 bytes are an X25519 public key; the handshake is never finished
                  _extension(51, _vector(_u16([_X25519]) + _vector(os.urandom(32), 2), 2))]
    return b"".join(parts)


def client_hello(version: int, suites: Iterable[int], server_name: str | None) -> bytes:
    """One TLS record holding a ClientHello that offers exactly `suites` at `version` (SSL 3.0 up)."""
    offered = list(suites)
    if version < TLS13:
        offered.append(_RENEGOTIATION_SCSV)
    body = (min(version, TLS12).to_bytes(2, "big") + os.urandom(32)
            + _vector(os.urandom(32) if version == TLS13 else b"", 1)
            + _vector(_u16(offered), 2) + _vector(b"\x00", 1))
    if version >= TLS10:
        body += _vector(_extensions(version, server_name), 2)
    handshake = bytes([1]) + _vector(body, 3)
    return bytes([_HANDSHAKE]) + min(version, TLS10).to_bytes(2, "big") + _vector(handshake, 2)


def ssl2_client_hello() -> bytes:
    """An SSL 2.0 CLIENT-HELLO offering every SSL 2.0 cipher kind."""
    specs = b"".join(code.to_bytes(3, "big") for code in SSL2_SUITES)
    challenge = os.urandom(16)
    message = (bytes([1]) + SSL2.to_bytes(2, "big") + len(specs).to_bytes(2, "big") + b"\x00\x00"
               + len(challenge).to_bytes(2, "big") + specs + challenge)
    return (0x8000 | len(message)).to_bytes(2, "big") + message


def read_reply(data: bytes) -> Reply | None:
    """The server's answer to a TLS ClientHello, or None while more bytes are needed."""
    if len(data) < 5:
        return None
    if data[0] not in (_ALERT, _HANDSHAKE) or data[1] != 3:
        return Reply("other")
    handshake = b""
    offset = 0
    while offset + 5 <= len(data):
        kind, length = data[offset], int.from_bytes(data[offset + 3:offset + 5], "big")
        payload = data[offset + 5:offset + 5 + length]
        if kind == _ALERT and not handshake:
            return Reply("alert", alert=payload[1]) if len(payload) >= 2 else None
        if kind != _HANDSHAKE:
            break
        handshake += payload
        if len(payload) < length:
            break
        offset += 5 + length
    if len(handshake) < 4:
        return None if offset == len(data) or len(handshake) else Reply("other")
    if handshake[0] != _SERVER_HELLO:
        return Reply("other")
    length = int.from_bytes(handshake[1:4], "big")
    if len(handshake) < 4 + length:
        return None
    return _server_hello(handshake[4:4 + length])


def _server_hello(body: bytes) -> Reply:
    try:
        version = int.from_bytes(body[0:2], "big")
        at = 34 + 1 + body[34]
        suite = int.from_bytes(body[at:at + 2], "big")
        at += 3
        if at + 2 <= len(body):
            end = at + 2 + int.from_bytes(body[at:at + 2], "big")
            at += 2
            while at + 4 <= end:
                kind = int.from_bytes(body[at:at + 2], "big")
                size = int.from_bytes(body[at + 2:at + 4], "big")
                if kind == _SUPPORTED_VERSIONS and size == 2:
                    version = int.from_bytes(body[at + 4:at + 6], "big")
                at += 4 + size
    except IndexError:
        return Reply("other")
    return Reply("hello", version=version, suites=(suite,))


def read_ssl2_reply(data: bytes) -> Reply | None:
    """The server's answer to an SSL 2.0 CLIENT-HELLO: its SERVER-HELLO lists the kinds it accepts."""
    if len(data) < 2:
        return None
    if not data[0] & 0x80:
        return Reply("other")
    length = ((data[0] & 0x7F) << 8) | data[1]
    if len(data) < 2 + length:
        return None
    message = data[2:2 + length]
    if len(message) < 11 or message[0] != 4:
        return Reply("other")
    certificate = int.from_bytes(message[5:7], "big")
    count = int.from_bytes(message[7:9], "big")
    specs = message[11 + certificate:11 + certificate + count]
    return Reply("hello", version=int.from_bytes(message[3:5], "big"),
                 suites=tuple(int.from_bytes(specs[i:i + 3], "big") for i in range(0, len(specs) - 2, 3)))
