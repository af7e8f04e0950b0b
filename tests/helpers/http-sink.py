#!/usr/bin/env python3
"""http-sink.py - a local HTTP/1.1 server that records what it is sent.

    http-sink.py --port-file FILE --log FILE [--statuses 503,503,200]
                 [--default-status 200] [--lifetime SECONDS]

Listens on 127.0.0.1 on a free port (keep-alive, one thread per
connection). When ready it writes the port number to --port-file (written
to a temporary name and renamed, so a reader never sees a partial number)
and prints it on stdout.

Every request appends one JSON line to --log before the response is sent
(so a client that has its answer can read the line at once):
    {"n": 1, "conn": 1, "method": "POST", "path": "/x?status=503",
     "headers": [["Host", "127.0.0.1:4711"], ...], "body_b64": "...",
     "status": 503}
"conn" numbers TCP connections from 1 in accept order: N requests with
one "conn" value went over one connection. Header values are recorded as
the bytes received (ISO-8859-1 decoded, as http.server reads them).

The status answered is, in order of precedence: the query parameter
"status" (e.g. /path?status=429), the next entry of --statuses, then
--default-status. The query parameter "retry_after" adds a Retry-After
header. The response body is the status number and a newline.

The server exits when its stdin reaches end of file (the test that started
it has gone, even if it crashed), on SIGTERM, or after --lifetime seconds.
Standard library only.
"""
import argparse
import base64
import http.server
import json
import os
import socketserver
import sys
import threading
import urllib.parse


class Sink(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, args):
        super().__init__(addr, handler)
        self.lock = threading.Lock()
        self.nreq = 0
        self.nconn = 0
        self.statuses = [int(s) for s in args.statuses.split(",") if s.strip()]
        self.default_status = args.default_status
        self.log = open(args.log, "a", encoding="utf-8")

    def next_conn(self):
        with self.lock:
            self.nconn += 1
            return self.nconn


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = self.server.next_conn()

    def log_message(self, fmt, *a):
        pass  # stderr stays quiet; the log file is the record

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        body = self.read_body()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        srv = self.server
        with srv.lock:
            srv.nreq += 1
            if "status" in q:
                status = int(q["status"][0])
            elif srv.statuses:
                status = srv.statuses.pop(0)
            else:
                status = srv.default_status
            rec = {
                "n": srv.nreq,
                "conn": self.conn_id,
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_b64": base64.b64encode(body).decode("ascii"),
                "status": status,
            }
            srv.log.write(json.dumps(rec, separators=(",", ":")) + "\n")
            srv.log.flush()
        payload = b"%d\n" % status
        self.send_response(status)
        if "retry_after" in q:
            self.send_header("Retry-After", q["retry_after"][0])
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--statuses", default="")
    ap.add_argument("--default-status", type=int, default=200)
    ap.add_argument("--lifetime", type=float, default=300.0)
    args = ap.parse_args()

    srv = Sink(("127.0.0.1", 0), Handler, args)
    port = srv.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    print(port, flush=True)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
