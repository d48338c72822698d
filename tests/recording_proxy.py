"""An HTTP proxy that records every request a browser makes and forwards only those to the site's origin."""

from __future__ import annotations

import http.client
import http.server
import threading
from urllib.parse import urlsplit

# Per connection, not per message (RFC 9110 section 7.6.1): never forwarded either way.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the page loads some 40 files through here

    def parse_request(self) -> bool:
        # With the `sslProxy` capability, WebKitGTK 2.50 treats the proxy as an https:// one: for an
        # https URL it opens TLS to the proxy itself (no CONNECT, no server name), so all the proxy
        # can see is that some https origin was asked for. That is recorded, and the connection closed.
        if self.raw_requestline.startswith(b"\x16\x03"):  # a TLS handshake record
            self.server.proxy.record("TLS", "https://", {}, b"")
            self.close_connection = True
            return False
        return super().parse_request()

    def do_CONNECT(self) -> None:  # noqa: N802  (http.server's naming)
        # A tunnel would hide what goes through it: refuse it, after writing down where it led.
        self.server.proxy.record(self.command, f"https://{self.path}", dict(self.headers), b"")
        self.refuse()

    def forward(self) -> None:
        body = self.read_body()
        entry = self.server.proxy.record(self.command, self.path, dict(self.headers), body)
        url = urlsplit(self.path)
        if f"{url.scheme}://{url.netloc}" != self.server.proxy.origin:
            self.refuse()
            return
        upstream = http.client.HTTPConnection(url.netloc, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, url.path + (f"?{url.query}" if url.query else ""), body or None, headers)
            response = upstream.getresponse()
            content = response.read()
        finally:
            upstream.close()
        entry["status"] = response.status
        entry["response_headers"] = dict(response.getheaders())
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b""  # a streamed upload: forwarded whole, with a Content-Length
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return body

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = forward  # noqa: N815

    def refuse(self) -> None:
        self.send_response_only(403, "Forbidden by the test's proxy")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class RecordingProxy:
    """Listens on 127.0.0.1; `requests` lists each request in order: method, url, headers, body, and
    for the forwarded ones the status and response headers the browser got."""

    def __init__(self, origin: str) -> None:
        self.origin = origin.rstrip("/")
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.proxy = self
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def record(self, method: str, url: str, headers: dict, body: bytes) -> dict:
        entry = {"method": method, "url": url, "headers": headers, "body": body}
        with self._lock:
            self.requests.append(entry)
        return entry

    def capability(self) -> dict:
        """The WebDriver `proxy` capability that sends every request of the browser here."""
        return {"proxyType": "manual", "httpProxy": self.address, "sslProxy": self.address}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
