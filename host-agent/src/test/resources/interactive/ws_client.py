"""A WebSocket client no one on the Berth team wrote (Debian's python3-websockets), as the tests' oracle.

  ws_client.py console BASE TOKEN UUID        log in to the serial console, run echo $((6*7)), print ANSWER <it>
  ws_client.py drop BASE TOKEN UUID N         open N exec sessions mid-stream, print OPENED N, then SIGKILL itself

BASE is http://127.0.0.1:PORT. Every wait is bounded; exit status 0 = done, 1 = failed (reason on stderr).
"""
import asyncio
import json
import os
import re
import signal
import sys
import urllib.request

import websockets

WAIT = 120


def ws_url(base, path):
    return "ws" + base[len("http"):] + path


async def read_until(ws, pattern, seen, limit):
    """Reads binary frames into seen until pattern matches its text; returns the match."""
    async def loop():
        while True:
            m = re.search(pattern, seen.decode("utf-8", "replace"))
            if m:
                return m
            msg = await ws.recv()
            if isinstance(msg, bytes):
                seen.extend(msg)
    return await asyncio.wait_for(loop(), limit)


async def console(base, token, uuid):
    headers = [("Authorization", "Bearer " + token)]
    async with websockets.connect(ws_url(base, "/v1/instances/%s/console" % uuid), extra_headers=headers,
                                  open_timeout=30, close_timeout=5) as ws:
        seen = bytearray()
        # busybox's askfirst: "Please press Enter to activate this console.", then a shell prompt ending in "# "
        for _ in range(10):
            await ws.send(b"\r")
            try:
                # busybox sh ends its prompt with a cursor position query (ESC [6n) on a terminal
                await read_until(ws, r"# (\x1b\[6n)?$", seen, 6)
                break
            except asyncio.TimeoutError:
                continue
        else:
            raise SystemExit("no shell prompt on the console; saw: %r" % bytes(seen[-300:]))
        start = len(seen)
        await ws.send(b"echo $((6*7))\r")

        async def answer():
            while True:
                text = seen[start:].decode("utf-8", "replace")
                # the echo of what we typed contains "$((6*7))"; the answer is a line of its own
                m = re.search(r"\r?\n(\d+)\r?\n", text)
                if m:
                    return m.group(1)
                msg = await ws.recv()
                if isinstance(msg, bytes):
                    seen.extend(msg)
        print("ANSWER " + await asyncio.wait_for(answer(), WAIT), flush=True)


def exec_ticket(base, token, uuid, command):
    req = urllib.request.Request(base + "/v1/instances/%s/exec" % uuid, method="POST",
                                 data=json.dumps({"exec": {"command": command}}).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["exec"]["url"]


async def drop(base, token, uuid, n):
    sessions = []
    for i in range(n):
        # half read their stdin back, half flood their output: both are cut off mid-stream
        command = ["cat"] if i % 2 == 0 else ["sh", "-c", "while :; do echo flood-flood-flood-flood; done"]
        url = exec_ticket(base, token, uuid, command)
        ws = await websockets.connect(ws_url(base, url), open_timeout=30, max_size=None)
        await ws.send(b"some input for session %d\n" % i)
        await asyncio.wait_for(ws.recv(), WAIT)  # it is streaming
        sessions.append(ws)
    print("OPENED %d" % len(sessions), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the client dies: no close frame, no FIN from a polite close


def main():
    mode, base, token, uuid = sys.argv[1:5]
    try:
        if mode == "console":
            asyncio.run(console(base, token, uuid))
        elif mode == "drop":
            asyncio.run(drop(base, token, uuid, int(sys.argv[5])))
        else:
            raise SystemExit("unknown mode " + mode)
    except (asyncio.TimeoutError, websockets.exceptions.WebSocketException, OSError) as e:
        print("ws_client: %s: %r" % (mode, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
