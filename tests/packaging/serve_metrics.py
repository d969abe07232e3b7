#!/usr/bin/env python3
"""serve_metrics.py PORT RAMPART_BINARY: serves `rampart metrics` (run anew
for every request) at http://127.0.0.1:PORT/metrics, so a test Prometheus
can scrape a real exposition without running the agent."""

import http.server
import subprocess
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        out = subprocess.run([sys.argv[2], "metrics"], capture_output=True, timeout=20)
        if out.returncode != 0:
            self.send_error(500, out.stderr.decode(errors="replace")[:200])
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(out.stdout)))
        self.end_headers()
        self.wfile.write(out.stdout)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
