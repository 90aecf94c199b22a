"""A tiny raw ICAP/1.0 client for the integration tests (standard library only).

It builds requests byte by byte (so that tests can also send broken ones) and
reads replies with a deadline: the ICAP head, the encapsulated HTTP header
blocks named by the Encapsulated header, and a chunked body, which it decodes.
Nothing here loops without a bound in both count and time.
"""

import select
import socket
import ssl
import struct
import time

CRLF = b"\r\n"
DEFAULT_TIMEOUT = 10.0
MAX_HEAD = 256 * 1024
MAX_BODY = 64 * 1024 * 1024


class ICAPError(Exception):
    """The peer sent something this client cannot parse, or went silent."""


class Timeout(ICAPError):
    pass


class Closed(ICAPError):
    """The peer closed the connection before a complete reply."""


def http_request_head(method="GET", url="http://origin.test/", host="origin.test", extra=()):
    """An encapsulated HTTP request header block, ending with the empty line."""
    lines = ["%s %s HTTP/1.1" % (method, url), "Host: %s" % host]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_response_head(status=200, reason="OK", length=None, extra=()):
    """An encapsulated HTTP response header block, ending with the empty line."""
    lines = ["HTTP/1.1 %d %s" % (status, reason), "Content-Type: application/octet-stream"]
    if length is not None:
        lines.append("Content-Length: %d" % length)
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data, size=None):
    """Chunk-encodes data (without the last chunk); size None means one chunk."""
    if not data:
        return b""
    size = size or len(data)
    out = []
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out.append(b"%x\r\n" % len(piece) + piece + CRLF)
    return b"".join(out)


def last_chunk(ieof=False):
    return b"0; ieof\r\n\r\n" if ieof else b"0\r\n\r\n"


def build(method, uri, headers=(), req_hdr=None, res_hdr=None, body=None,
          preview=None, chunk_size=None, encapsulated=None, version="ICAP/1.0"):
    """Builds one ICAP request.

    method, uri: the request line (uri is the whole icap:// URI).
    headers: extra ICAP header lines (strings, without CRLF), e.g. "Host: x".
    req_hdr / res_hdr: encapsulated HTTP header blocks (bytes) or None.
    body: bytes for a req-body / res-body, or None for null-body.
    preview: None (no Preview header), or the preview size n. With a preview
      the returned message holds only the first n body bytes and the
      preview terminator ("0; ieof" when the whole body fits); the caller
      sends the rest with continuation(body, n) after a 100 Continue.
    encapsulated: overrides the computed Encapsulated value (a string), or
      False to leave the header out.
    Returns the bytes to send.
    """
    parts = []
    enc = []
    off = 0
    blocks = b""
    if req_hdr is not None:
        enc.append("req-hdr=%d" % off)
        off += len(req_hdr)
        blocks += req_hdr
    if res_hdr is not None:
        enc.append("res-hdr=%d" % off)
        off += len(res_hdr)
        blocks += res_hdr
    if method == "OPTIONS" and req_hdr is None and res_hdr is None and body is None:
        enc = []  # OPTIONS carries no Encapsulated by default
    elif body is None:
        enc.append("null-body=%d" % off)
    else:
        kind = "res-body" if (res_hdr is not None or method == "RESPMOD") else "req-body"
        enc.append("%s=%d" % (kind, off))
    lines = ["%s %s %s" % (method, uri, version)]
    lines += list(headers)
    if preview is not None:
        lines.append("Preview: %d" % preview)
    if encapsulated is None:
        if enc:
            lines.append("Encapsulated: " + ", ".join(enc))
    elif encapsulated is not False:
        lines.append("Encapsulated: " + encapsulated)
    parts.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    parts.append(blocks)
    if body is not None:
        if preview is None:
            parts.append(chunk(body, chunk_size) + last_chunk())
        else:
            head = body[:preview]
            parts.append(chunk(head, chunk_size) + last_chunk(ieof=len(body) <= preview))
    return b"".join(parts)


def continuation(body, preview, chunk_size=None):
    """What follows a 100 Continue: the body after the preview, and the end."""
    return chunk(body[preview:], chunk_size) + last_chunk()


def parse_encapsulated(value):
    """'res-hdr=0, res-body=12' -> [('res-hdr', 0), ('res-body', 12)]."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, num = item.partition("=")
        out.append((name.strip().lower(), int(num.strip())))
    return out


class Reply:
    """One ICAP reply: status line, headers, encapsulated blocks and body."""

    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []        # [(name, value)] in order
        self.head = b""          # raw ICAP head including the empty line
        self.encapsulated = []   # [(name, offset)]
        self.blocks = {}         # 'req-hdr'/'res-hdr' -> bytes
        self.body = None         # decoded body bytes, or None for null-body
        self.body_kind = None    # 'res-body', 'req-body', 'null-body', None
        self.raw = b""           # every byte of this reply as received
        self.ieof = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __repr__(self):
        return "<Reply %s %s %r>" % (self.status, self.reason, self.raw[:300])


class Conn:
    """One ICAP connection with a buffered, deadline-bound reader.

    tls: an ssl.SSLContext to speak ICAP over TLS (icaps://) with; the
    handshake happens here, checking the server's certificate against host
    as the context says. source: a local address to connect from (e.g.
    "127.0.0.2"), for tests of access lists."""

    def __init__(self, host, port, timeout=DEFAULT_TIMEOUT, tls=None, source=None):
        self.host, self.port = host, port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                self.sock = tls.wrap_socket(self.sock, server_hostname=host)
            except BaseException:
                self.sock.close()
                raise
        self.buf = b""
        self.eof = False

    # -- plumbing ---------------------------------------------------------
    def close(self):
        """Closes the connection, also for any duplicate descriptor (a Sender)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Resets the connection (RST) instead of closing it cleanly."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_reading(self, data, piece=65536, timeout=None):
        """Sends data while buffering whatever arrives meanwhile, in one
        thread: for replies that stream back before the request is all sent
        when a Sender cannot be used (a TLS connection cannot be shared with
        a second thread). Read the reply afterwards as usual."""
        deadline = time.monotonic() + (timeout or self.timeout)
        sent = 0
        self.sock.setblocking(False)
        try:
            for _ in range(10 * len(data) // piece + 100000):
                if sent >= len(data):
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("sent %d of %d bytes before the deadline" % (sent, len(data)))
                pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
                r, w, _ = select.select([self.sock], [self.sock], [], 0 if pending else left)
                if r or pending:
                    try:
                        d = self.sock.recv(256 * 1024)
                        if not d:
                            raise Closed("closed while sending, after %d bytes" % sent)
                        self.buf += d
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        pass
                if w:
                    try:
                        sent += self.sock.send(data[sent:sent + piece])
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        pass
            raise ICAPError("send_reading did not finish")
        finally:
            self.sock.settimeout(self.timeout)

    def _fill(self, deadline):
        """Reads at least one more byte into the buffer; False on EOF."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("no data before the deadline; have %r" % self.buf[:200])
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(256 * 1024)
        except socket.timeout:
            raise Timeout("no data before the deadline; have %r" % self.buf[:200])
        except (ConnectionResetError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_until(self, marker, deadline, limit):
        start = 0
        while True:
            i = self.buf.find(marker, start)
            if i >= 0:
                out, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
                return out
            if len(self.buf) > limit:
                raise ICAPError("no %r within %d bytes" % (marker, limit))
            start = max(0, len(self.buf) - len(marker))
            if not self._fill(deadline):
                raise Closed("connection closed; have %r" % self.buf[:300])

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Closed("connection closed after %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_some(self, timeout=None):
        """Returns whatever bytes are buffered or next arrive (b'' on EOF)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if not self.buf:
            self._fill(deadline)
        out, self.buf = self.buf, b""
        return out

    # -- replies -----------------------------------------------------------
    def read_head(self, timeout=None):
        """Reads just the ICAP status line and headers into a Reply."""
        deadline = time.monotonic() + (timeout or self.timeout)
        r = Reply()
        r.head = self._take_until(b"\r\n\r\n", deadline, MAX_HEAD)
        r.raw = r.head
        text = r.head.decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("ICAP/"):
            raise ICAPError("bad status line %r" % lines[0])
        r.version = parts[0]
        r.status = int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            if not line:
                continue
            if line[0] in " \t" and r.headers:
                # A folded continuation line, as X-Violations-Found uses.
                name, value = r.headers[-1]
                r.headers[-1] = (name, value + "\n" + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ICAPError("bad header line %r" % line)
            r.headers.append((name.strip(), value.strip()))
        enc = r.header("Encapsulated")
        if enc is not None:
            r.encapsulated = parse_encapsulated(enc)
        return r

    def read_blocks(self, r, timeout=None):
        """Reads the encapsulated header blocks of r (after read_head)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if r.status in (100, 204) or not r.encapsulated:
            return r
        for idx, (name, off) in enumerate(r.encapsulated):
            if name.endswith("-hdr"):
                nxt = r.encapsulated[idx + 1][1] if idx + 1 < len(r.encapsulated) else None
                if nxt is None or nxt < off:
                    raise ICAPError("bad Encapsulated %r" % r.encapsulated)
                r.blocks[name] = self._take(nxt - off, deadline)
                r.raw += r.blocks[name]
            else:
                r.body_kind = name
        return r

    def read_chunk(self, timeout=None):
        """Reads one chunk; returns (data, is_last)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        line = self._take_until(b"\r\n", deadline, 8192)
        size_s = line[:-2].split(b";", 1)
        try:
            size = int(size_s[0].strip(), 16)
        except ValueError:
            raise ICAPError("bad chunk size line %r" % line)
        if size == 0:
            trailers = b""
            for _ in range(100):
                t = self._take_until(b"\r\n", deadline, 8192)
                trailers += t
                if t == b"\r\n":
                    break
            else:
                raise ICAPError("too many trailer lines")
            self._last_raw = line + trailers
            self._last_ieof = len(size_s) > 1 and b"ieof" in size_s[1]
            return b"", True
        data = self._take(size + 2, deadline)
        if data[-2:] != b"\r\n":
            raise ICAPError("chunk data not followed by CRLF: %r" % data[-10:])
        self._last_raw = line + data
        return data[:-2], False

    def read_body(self, r, timeout=None):
        """Reads and decodes the chunked body of r (after read_blocks)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if r.body_kind not in ("res-body", "req-body", "opt-body"):
            return r
        out = []
        total = 0
        for _ in range(MAX_BODY):
            data, last = self.read_chunk(max(0.001, deadline - time.monotonic()))
            r.raw += self._last_raw
            if last:
                r.ieof = self._last_ieof
                break
            out.append(data)
            total += len(data)
            if total > MAX_BODY:
                raise ICAPError("body larger than %d" % MAX_BODY)
        r.body = b"".join(out)
        return r

    def read_reply(self, timeout=None):
        """Reads one complete reply: head, header blocks and decoded body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        r = self.read_head(timeout)
        left = lambda: max(0.001, deadline - time.monotonic())
        self.read_blocks(r, left())
        self.read_body(r, left())
        return r

    def wait_closed(self, timeout=5.0):
        """True if the peer closes the connection within timeout (any unread
        bytes are kept in self.buf); False if it is still open then."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            if self.eof:
                return True
            try:
                if not self._fill(deadline):
                    return True
            except Timeout:
                return False
            except OSError:
                return True
        return False

    def transact(self, data, timeout=None):
        self.send(data)
        return self.read_reply(timeout)


def request(host, port, data, timeout=DEFAULT_TIMEOUT):
    """Sends one request on a new connection and returns the reply."""
    with Conn(host, port, timeout) as c:
        return c.transact(data, timeout)


def dechunk(data):
    """Decodes a complete chunked body (bytes) -> (payload, rest)."""
    out = []
    pos = 0
    for _ in range(len(data) + 1):
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            end = data.index(b"\r\n\r\n", eol) + 4 if data[pos:pos + 2] != b"\r\n" else pos + 2
            return b"".join(out), data[end:]
        out.append(data[pos:pos + size])
        pos += size + 2
    raise ICAPError("unterminated chunked body")


class Sender:
    """Sends data on a connection from a thread, so that a test can read the
    reply while a large request is still going out (a streaming server may
    answer before it has read everything, and both sides would otherwise
    block on full socket buffers). Call join() to collect the outcome."""

    def __init__(self, conn, data, piece=65536, pause=0.0):
        import threading
        self.error = None
        self.sent = 0
        self._data, self._piece, self._pause = data, piece, pause
        # A duplicate descriptor has its own timeout: the reader's deadlines
        # must not cut the sender short.
        self._sock = conn.sock.dup()
        self._sock.settimeout(30.0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for i in range(0, len(self._data), self._piece):
                self._sock.sendall(self._data[i:i + self._piece])
                self.sent += len(self._data[i:i + self._piece])
                if self._pause:
                    time.sleep(self._pause)
        except Exception as e:  # reported by join()
            self.error = e
        finally:
            self._sock.close()

    def stop(self):
        """Unblocks a send in progress (the connection is shut down)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def join(self, timeout=30.0):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise Timeout("sender still blocked after %.1fs (%d bytes sent)" % (timeout, self.sent))
        return self.error
