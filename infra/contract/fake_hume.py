"""A stand-in for Hume's API while Schemathesis fuzzes the local host: every chat exists, started
now, with a two-message transcript; access tokens are issued. Without it the three Hume routes
could only answer 503 (not configured), which says nothing about them.

Usage: fake_hume.py PORT_FILE  (binds 127.0.0.1 on a free port and writes the port there).
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/oauth2-cc/token":
            self.answer({"access_token": "fake-hume-token", "expires_in": 1800})
        else:
            self.send_error(404)

    def do_GET(self):
        url = urlparse(self.path)
        if not url.path.startswith("/v0/evi/chats/"):
            self.send_error(404)
            return
        page = int(parse_qs(url.query).get("page_number", ["0"])[0])
        events = []
        if page == 0:
            events = [
                {"role": "AGENT", "type": "AGENT_MESSAGE", "message_text": "Tell me about a system you built."},
                {"role": "USER", "type": "USER_MESSAGE", "message_text": "I built a payments API in Rust.",
                 "emotion_features": json.dumps({"Calmness": 0.6, "Determination": 0.4})},
            ]
        self.answer({"start_timestamp": int(time.time() * 1000), "events_page": events})

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as port_file:
        port_file.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
