#!/usr/bin/python3
"""A scripted stand-in for an OpenAI-compatible Chat Completions server, for tests (no network).

Listens on 127.0.0.1 on a random free port, written to --port_file once it is ready. Every request
is logged as one JSON line to --log when it arrives (before any scripted delay), so request counts
are exact even for requests the client gave up on; "in_flight" is how many requests were being
answered at that moment, this one included.

Answers are deterministic: the text for a conversation depends only on the request's "seed" and its
turn (the number of assistant messages already in it), see answer_text(). Faults are scripted per
"SEED:TURN" key as a list consumed one per request; once the list is used up, requests get the
normal answer. Faults:
  500           HTTP 500 with an OpenAI-style error body
  429:S         HTTP 429 with "Retry-After: S"
  401           HTTP 401 whose message echoes the bearer token (as some servers do)
  malformed     HTTP 200 whose body is cut off in the middle of the JSON
  empty         HTTP 200 with empty content
  refusal       HTTP 200 with a refusal as the content
  length        HTTP 200 with the first half of the answer and finish_reason "length"
  copy:SEED     the normal answer of another seed (same turn): a duplicated text
  slow:S        the normal answer after S seconds (for client timeouts)
  delay:S       same as slow:S; used to make answers arrive out of order
  drop          close the connection without answering
  ids           HTTP 200 whose text contains an identifier string [SYNTHETIC_EXAMPLE_NNNNN]
  huge          HTTP 200 with no Content-Length and 17 MiB of body, then close (an endless stream)
  redirect      HTTP 301 to /elsewhere/v1/chat/completions on this server
"""
import argparse
import hashlib
import json
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = """river harbor council lantern orchard granite meadow ferry archive festival copper valley
library engineer merchant village station bridge museum garden factory workshop theatre market
summer winter autumn spring morning evening northern southern eastern western ancient modern quiet
busy narrow broad painted wooden stone iron silver golden ledger journal letter treaty charter
census survey mill canal quarry vineyard lighthouse observatory bakery foundry tannery school
chapel hospital courthouse warehouse railway tramway harbourmaster mayor clerk teacher surgeon
carpenter weaver baker sailor farmer miller printer botanist geologist architect historian
committee society guild company union parish county district province island peninsula coast
built opened closed repaired expanded founded recorded measured delivered signed visited
described planted harvested printed launched elected appointed restored moved sold bought""".split()
NAMES = """Agnes Bertram Clara Dmitri Eleanor Fenwick Greta Horace Ingrid Jasper Katya Leopold
Marisol Niall Odette Percival Quilla Rosalind Soren Tobias Ursula Viktor Wilhelmina Yusuf Zelda""".split()
PLACES = """Ashcombe Briarwell Caldmoor Dunhollow Eastmere Farrowgate Glenmarsh Holloway Ironbridge
Juniper Kestrel Larkspur Millbrook Northwick Oakhaven Pembridge Queensferry Ravensdale""".split()


def answer_text(seed, turn, words):
    """The normal answer for (seed, turn): sentences of invented but specific detail."""
    rng = random.Random(hashlib.sha256(f"{seed}:{turn}".encode()).digest())
    out, count = [], 0
    while count < words:
        n = rng.randint(6, 12)
        sentence = [rng.choice(NAMES), "of", rng.choice(PLACES)]
        sentence += [rng.choice(WORDS) for _ in range(n - 5)]
        sentence += ["in", str(rng.randint(1701, 1999))]
        out.append(" ".join(sentence) + ".")
        count += n
    return " ".join(out)


def cut_answer(text):
    """What a server returns when the answer hits max_tokens: the first half, mid-sentence."""
    words = text.split(" ")
    return " ".join(words[: len(words) // 2])


class State:
    def __init__(self, args):
        self.args = args
        self.faults = json.loads(args.faults) if args.faults else {}
        self.lock = threading.Lock()
        self.active = 0   # requests being answered right now
        self.log = open(args.log, "a", encoding="utf-8")

    def enter(self):
        with self.lock:
            self.active += 1
            return self.active

    def leave(self):
        with self.lock:
            self.active -= 1

    def next_fault(self, key):
        with self.lock:
            queue = self.faults.get(key)
            return queue.pop(0) if queue else None

    def record(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # keep the test output clean
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass   # the client went away (a timeout or Ctrl-C): nothing to answer

    def send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_raw(status, data, extra_headers)

    def send_raw(self, status, data, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        state = self.server.state
        in_flight = state.enter()
        try:
            self.answer(state, in_flight)
        finally:
            state.leave()

    def answer(self, state, in_flight):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        entry = {"time": time.time(), "path": self.path, "authorization": self.headers.get("Authorization"),
                 "body_ok": False, "model": None, "seed": None, "turn": None, "fault": None,
                 "in_flight": in_flight}
        try:
            body = json.loads(raw)
            messages = body["messages"]
            entry.update(body_ok=isinstance(messages, list) and all("role" in m and "content" in m for m in messages),
                         model=body.get("model"), seed=body.get("seed"),
                         turn=sum(1 for m in messages if m["role"] == "assistant"),
                         temperature=body.get("temperature"), prompt=messages[0]["content"])
        except (ValueError, KeyError, TypeError):
            state.record(entry)
            self.send_json(400, {"error": {"message": "request body is not valid JSON"}})
            return
        if not self.path.endswith("/chat/completions"):
            state.record(entry)
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        key = f"{entry['seed']}:{entry['turn']}"
        fault = state.next_fault(key)
        entry["fault"] = fault
        state.record(entry)

        content = answer_text(entry["seed"], entry["turn"], state.args.words)
        finish = "stop"
        if state.args.latency > 0:
            time.sleep(state.args.latency)
        try:
            if fault is None:
                pass
            elif fault == "500":
                self.send_json(500, {"error": {"message": "The server had an error while processing your request."}})
                return
            elif fault.startswith("429:"):
                self.send_json(429, {"error": {"message": "Rate limit reached."}}, [("Retry-After", fault[4:])])
                return
            elif fault == "401":
                auth = self.headers.get("Authorization") or ""
                self.send_json(401, {"error": {"message": f"Incorrect API key provided: {auth[7:]}."}})
                return
            elif fault == "malformed":
                full = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
                self.send_raw(200, full[: len(full) // 2])
                return
            elif fault == "empty":
                content = ""
            elif fault == "refusal":
                content = "I'm sorry, but I can't help with that request."
            elif fault.startswith("copy:"):
                content = answer_text(int(fault[5:]), entry["turn"], state.args.words)
            elif fault == "length":
                content, finish = cut_answer(content), "length"
            elif fault.startswith("slow:") or fault.startswith("delay:"):
                time.sleep(float(fault.split(":")[1]))
            elif fault == "ids":
                content = "[SYNTHETIC_EXAMPLE_12345]\n" + content
            elif fault == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chunk = b" " * (1 << 20)
                for _ in range(17):
                    self.wfile.write(chunk)
                return
            elif fault == "redirect":
                host, port = self.server.server_address
                self.send_json(301, {}, [("Location", f"http://{host}:{port}/elsewhere/v1/chat/completions")])
                return
            elif fault == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            else:
                raise SystemExit(f"mock_openai_server: unknown fault {fault!r}")
            self.send_json(200, {
                "id": f"chatcmpl-{key}", "object": "chat.completion", "created": int(time.time()),
                "model": entry["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                             "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(content.split()), "total_tokens": 0},
            })
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up (timeout); that is the point of slow:S


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port_file", required=True, help="where to write the port once listening")
    p.add_argument("--log", required=True, help="JSONL log, one line per request")
    p.add_argument("--faults", default="", help='JSON object {"SEED:TURN": [fault, ...]}')
    p.add_argument("--words", type=int, default=60, help="words per normal answer")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before every answer (for benchmarks)")
    args = p.parse_args()
    ThreadingHTTPServer.request_queue_size = 256   # the default (5) drops connections under --concurrency
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
