"""A local push service on 127.0.0.1 that does with a push what a real one does.

It checks the VAPID JWT (ES256 signature with the key in the header, ``aud`` the endpoint's origin, ``exp`` in
the future and within 24 hours), decrypts the body with the subscription's private key (RFC 8291, aes128gcm),
and answers what the test chose for that subscription: 201 by default, or 404, 410, 429, 5xx, with headers.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY = 4096


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """One browser's side of a subscription: its key pair and auth secret."""

    token: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)


@dataclass
class Received:
    """One request the service took, checked: its headers, the JWT's claims and the decrypted body."""

    path: str
    headers: dict[str, str]
    status: int
    claims: dict[str, Any] | None = None
    vapid_key: str = ""
    payload: bytes | None = None
    error: str = ""

    def json(self) -> Any:
        assert self.payload is not None, self.error
        return json.loads(self.payload)


class PushService:
    """Run the double; ``device()`` gives a subscription to store, ``received`` lists what came in."""

    def __init__(self, verify: bool = True, vapid_public_key: str | None = None) -> None:
        self.verify = verify
        self.vapid_public_key = vapid_public_key
        self.devices: dict[str, Device] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.request_queue_size = 512
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> PushService:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def device(self, status: int = 201, headers: dict[str, str] | None = None) -> Device:
        device = Device(token=secrets.token_urlsafe(12), status=status, headers=headers or {})
        self.devices[device.token] = device
        return device

    def endpoint(self, device: Device) -> str:
        return f"{self.origin}/push/{device.token}"

    def subscription(self, device: Device) -> dict[str, str]:
        """Return the PushSubscription fields for ``device``."""
        return {"endpoint": self.endpoint(device), "p256dh": device.p256dh, "auth": device.auth}

    # ------------------------------------------------------------------ the checks

    def check(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        """Check one request as a push service does and decide the answer."""
        token = path.rsplit("/", 1)[-1]
        device = self.devices.get(token)
        if device is None:
            return Received(path, headers, 404, error="no such subscription")
        if not self.verify:
            return Received(path, headers, device.status)
        if len(body) > MAX_BODY:
            return Received(path, headers, 413, error=f"body of {len(body)} bytes")
        if "ttl" not in headers:
            return Received(path, headers, 400, error="no TTL header")
        try:
            claims, key = self._check_vapid(headers.get("authorization", ""))
        except ValueError as error:
            return Received(path, headers, 401, error=str(error))
        if headers.get("content-encoding") != "aes128gcm":
            return Received(path, headers, 415, claims, key, error="not aes128gcm")
        try:
            payload = http_ece.decrypt(
                body, private_key=device.private_key, auth_secret=device.auth_secret, version="aes128gcm"
            )
        except Exception as error:  # http_ece raises plain exceptions for a body it cannot decrypt
            return Received(path, headers, 400, claims, key, error=f"cannot decrypt: {error!r}")
        return Received(path, headers, device.status, claims, key, payload)

    def _check_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError("no vapid Authorization header")
        parts = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
        token, key = parts.get("t", ""), parts.get("k", "")
        if self.vapid_public_key is not None and key != self.vapid_public_key:
            raise ValueError("not the expected VAPID key")
        try:
            signed, _, signature = token.rpartition(".")
            header = json.loads(unb64url(signed.split(".")[0]))
            claims = json.loads(unb64url(signed.split(".")[1]))
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
            raw = unb64url(signature)
        except (ValueError, IndexError) as error:
            raise ValueError(f"malformed JWT: {error}") from None
        if header.get("alg") != "ES256" or len(raw) != 64:
            raise ValueError("JWT is not ES256")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            public.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("bad JWT signature") from None
        if claims.get("aud") != self.origin:
            raise ValueError(f"aud {claims.get('aud')!r} is not {self.origin!r}")
        now = time.time()
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 24 * 60 * 60:
            raise ValueError("exp not within the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise ValueError("sub is not a mailto: or https: URL")
        return claims, key

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                if self.path.startswith("/plain/"):
                    received = Received(self.path, headers, 201)
                else:
                    received = service.check(self.path, headers, body)
                with service.lock:
                    service.received.append(received)
                device = service.devices.get(self.path.rsplit("/", 1)[-1])
                self.send_response(received.status)
                if device is not None and received.status == device.status:
                    for name, value in device.headers.items():
                        self.send_header(name, value)
                reply = received.error.encode()
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
