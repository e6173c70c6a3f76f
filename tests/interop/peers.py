#!/usr/bin/env python3
"""Peers written with Python's `websockets` library, a different WebSocket stack from ours, that
follow PROTOCOL.md: the producer's exact frames, a consumer, and a minimal broker.

    peers.py produce URL            send the three frames the Python producer sends, one connection each
    peers.py consume URL COUNT      print the welcome and COUNT notifications as JSON lines, then exit
    peers.py broker                 run a broker on 127.0.0.1 (free port); print "listening PORT"

Every loop is bounded by a timeout so a broken peer never hangs a test.
"""

import asyncio
import json
import sys
from datetime import datetime, timezone

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

TIMEOUT = 20

MESA = {
    "furniture_id": "673a2f1b8e4d2a1c3b5e6f7a",
    "nombre": "Mesa de Roble",
    "descripcion": "Mesa elegante de comedor",
    "altura": 75,
    "ancho": 120,
    "material": "roble",
    "autor_username": "Juan",
}


def now():
    ts = datetime.now(timezone.utc).replace(tzinfo=None).isoformat()
    return ts + "Z"


async def produce(url):
    updated = dict(MESA, nombre="Mesa de Roble XL", descripcion="Mesa elegante - tamaño grande",
                   altura=80, ancho=150, material="pino")
    for kind, record in (("furniture_created", MESA), ("furniture_updated", updated),
                         ("furniture_deleted", updated)):
        async with connect(url, open_timeout=TIMEOUT) as ws:
            await ws.send(json.dumps({"type": kind, "furniture": record}))


async def consume(url, count):
    async with connect(url, open_timeout=TIMEOUT) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        print(json.dumps(welcome), flush=True)
        seen = 0
        while seen < count:
            frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            if frame.get("type") == "furniture_notification":
                print(json.dumps(frame), flush=True)
                seen += 1


def message_text(action, f):
    nombre = f.get("nombre", "Sin nombre")
    ancho, altura = f.get("ancho"), f.get("altura")
    if action == "created":
        return f"🪑 Nuevo mueble creado: {nombre} - {f.get('material', 'Material desconocido')} ({ancho}x{altura}cm)"
    if action == "updated":
        return f"🔄 Mueble actualizado: {nombre} - {ancho}x{altura}cm"
    return f"🗑️ Mueble eliminado: {nombre}"


async def broker():
    clients = set()

    async def handler(ws):
        clients.add(ws)
        try:
            await ws.send(json.dumps({"type": "connection",
                                      "message": "Conectado al servidor de notificaciones de muebles",
                                      "timestamp": now(), "client_count": len(clients)}))
            async for raw in ws:
                try:
                    data = json.loads(raw)
                    kind = data.get("type")
                except (ValueError, AttributeError):
                    continue
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong", "timestamp": now()}))
                elif kind in ("furniture_created", "furniture_updated", "furniture_deleted"):
                    f = data.get("furniture", {})
                    if not isinstance(f, dict):
                        continue
                    action = kind.split("_", 1)[1]
                    frame = json.dumps({"type": "furniture_notification", "action": action,
                                        "furniture": f, "message": message_text(action, f),
                                        "timestamp": now()})
                    for c in list(clients):
                        try:
                            await c.send(frame)
                        except Exception:
                            pass
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", 0, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening {port}", flush=True)
        # Bounded: a test broker never outlives its test by much.
        await asyncio.sleep(300)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "produce":
        asyncio.run(produce(sys.argv[2]))
    elif cmd == "consume":
        asyncio.run(consume(sys.argv[2], int(sys.argv[3])))
    elif cmd == "broker":
        asyncio.run(broker())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
