"""Server instructions per bot request, counted by valgrind: BotApp vs bare handlers.

Each server runs alone under `valgrind --tool=callgrind`, serves a fixed number of
realistic custom-bot requests (each with a new message key, so every one runs the
handler) sent one at a time from this process (not counted), and exits. Twice, N
and 3N requests, so start-up cancels out:

  aiohttp-raw   a minimal aiohttp.web handler: read the body, one msgspec typed
                decode, answer the same reply bytes
  aiohttp-bot   BotApp.aiohttp_app(): header auth, body timeout, typed decode,
                dedupe store, reply deadline, the same reply
  asgi-raw      a minimal ASGI app under uvicorn: the same work
  asgi-bot      BotApp.asgi() under uvicorn

    python -m benchmarks.bench_bot [--requests 100]     (needs valgrind; ~1.5 minutes)

With `--redis`: the per-request cost of `RedisReplyStore` and its ticket lock against
the memory store, in one run (benchmarks/bench_bot_redis.py; needs redis-server).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile

import aiohttp
import msgspec

from benchmarks._common import emit, free_port, table

SERVER = r"""
import asyncio, sys
import msgspec

mode, total, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
SECRET = "bench-s3cret"

class Request(msgspec.Struct):
    key: str
    groupId: int
    botId: str = ""
    message: str = ""
    metadata: dict = {}

decode = msgspec.json.Decoder(Request).decode
encode = msgspec.json.Encoder().encode
served = 0
done = asyncio.Event()

def count():
    global served
    served += 1
    if served >= total:
        done.set()

def build_bot():
    from kommunicate_async.bots import BotApp
    bot = BotApp(None, bot_header=("X-Bot-Token", SECRET))

    @bot.on_message
    async def answer(request, ctx):
        count()
        return "You said: " + request.text

    return bot

async def main():
    if mode.startswith("aiohttp"):
        from aiohttp import web
        if mode == "aiohttp-raw":
            async def handle(request):
                req = decode(await request.read())
                count()
                return web.Response(
                    body=encode([{"message": "You said: " + req.message}]),
                    content_type="application/json",
                )
            app = web.Application()
            app.router.add_post("/bot", handle)
        else:
            app = build_bot().aiohttp_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("READY", flush=True)
        await done.wait()
        await runner.cleanup()
        return
    import uvicorn
    if mode == "asgi-raw":
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            body, more = b"", True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            req = decode(body)
            count()
            out = encode([{"message": "You said: " + req.message}])
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(out)).encode()),
            ]})
            await send({"type": "http.response.body", "body": out})
    else:
        app = build_bot().asgi()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
        access_log=False,
    ))
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    print("READY", flush=True)
    await done.wait()
    server.should_exit = True
    await task

asyncio.run(main())
"""

MODES = ("aiohttp-raw", "aiohttp-bot", "asgi-raw", "asgi-bot")
WARM = 10
"""Requests before the counted ones (in both runs: they cancel out)."""


def request(i: int) -> bytes:
    """A custom-bot request as Kommunicate sends it (docs/wire.md#bots)."""
    return msgspec.json.encode(
        {
            "botId": "helper-bot",
            "key": f"5-{i:012d}",
            "from": "user-1",
            "message": f"where is my order {i}?",
            "groupId": 4242,
            "metadata": {
                "KM_CHAT_CONTEXT": {
                    "kmUserLocale": "en",
                    "groupId": "4242",
                    "botId": "helper-bot",
                    "from": "user-1",
                    "attachments": [],
                }
            },
            "contentType": 0,
            "applicationKey": "app-key",
            "source": 1,
            "createdAt": 1700000000000 + i,
        }
    )


async def drive(port: int, n: int) -> None:
    url = f"http://127.0.0.1:{port}/bot"
    headers = {"X-Bot-Token": "bench-s3cret", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        for i in range(n):
            async with http.post(url, data=request(i), headers=headers) as reply:
                body = await reply.read()
                assert reply.status == 200 and body.startswith(b'[{"message":"You'), (
                    body
                )


def count(script: str, mode: str, n: int) -> int:
    port = free_port()
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        proc = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out.name}",
                sys.executable,
                script,
                mode,
                str(n + WARM),
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", line
        asyncio.run(drive(port, n + WARM))
        _, stderr = proc.communicate(timeout=300)
    found = re.search(r"Collected : (\d+)", stderr)
    assert found, stderr[-500:]
    return int(found.group(1))


def main(requests: int) -> None:
    if shutil.which("valgrind") is None:
        print("valgrind not found: skipped (apt-get install valgrind)")
        emit("bot", {"skipped": True})
        return
    per: dict[str, float] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(SERVER)
        script.flush()
        for mode in MODES:
            low = count(script.name, mode, requests)
            high = count(script.name, mode, 3 * requests)
            per[mode] = (high - low) / (2 * requests)
    rows = [
        [
            mode,
            round(v),
            round(v - per[mode.split("-")[0] + "-raw"]),
            per[mode.split("-")[0] + "-raw"] / v,
        ]
        for mode, v in per.items()
    ]
    print(table(["server", "instructions/request", "+ vs raw", "raw/server"], rows))
    emit(
        "bot",
        {mode: round(v) for mode, v in per.items()}
        | {
            "aiohttp_ratio": round(per["aiohttp-raw"] / per["aiohttp-bot"], 3),
            "asgi_ratio": round(per["asgi-raw"] / per["asgi-bot"], 3),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--redis", action="store_true", help="the replica stores' cost instead"
    )
    args = parser.parse_args()
    if args.redis:
        from benchmarks import bench_bot_redis

        bench_bot_redis.main(max(args.requests, 500))
    else:
        main(args.requests)
