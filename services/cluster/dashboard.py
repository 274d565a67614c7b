"""A live cluster page: ``zactor dashboard --seed ADDR`` serves one small page that shows the members, their status
and phi, the actors of each node, messages per second, mailbox depth, failures and store documents, refreshed every
second. No build step and nothing fetched from outside: the page is one HTML string with its script inline, and it
polls ``/api/cluster`` (JSON) on the same server.

The HTTP side is the standard library's threading server; the cluster side is a client node sampling the cluster
on an asyncio loop (:class:`~zactor.services.cluster.observer.ClusterLoad`). The server binds 127.0.0.1 by default.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from zactor.config import NodeConfig
from zactor.errors import ActorError
from zactor.node import Node
from zactor.services.cluster.observer import ClusterLoad, LoadSample, replica_note
from zactor.services.replication.frontend import KV_ACTOR
from zactor.transport.curve import is_loopback_endpoint

__all__ = ["DashboardServer", "snapshot_json", "run_dashboard"]

log = logging.getLogger("zactor.dashboard")


def snapshot_json(sample: LoadSample, seed: str) -> dict[str, Any]:
    """The JSON document of ``/api/cluster`` for one sample."""
    members = []
    for row in sample.table.rows:
        node_id, actors = row[0], list(row[5])
        load = sample.stats.get(node_id)
        msgs_s, _, sync_s = sample.rates.get(node_id, (0.0, 0.0, 0.0))
        members.append(
            {
                "node": node_id,
                "address": row[1],
                "dc": row[2],
                "status": row[3],
                "phi": row[4],
                "actors": sorted(a for a in actors if not a.startswith("zactor.")),
                "store": KV_ACTOR in actors,
                "answered": load is not None,
                "msgs_per_s": round(msgs_s, 1),
                "sync_docs_per_s": round(sync_s, 1),
                "mailbox": sum(a[2] for a in load.actors.values()) if load else None,
                "failures": sum(a[1] for a in load.actors.values()) if load else None,
                "store_documents": load.store_documents if load and load.store_documents >= 0 else None,
            }
        )
    note = replica_note(sample.table, seed)
    return {"seed": seed, "seen_by": sample.table.node_id, "updated": time.time(), "members": members, "note": note}


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zactor cluster</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } th, td { padding: .3em .8em; text-align: left; border-bottom: 1px solid #ddd; }
.live { color: #1a7f37; } .dead, .left, .gone { color: #cf222e; } #error { color: #cf222e; }
</style></head><body>
<h1>zactor cluster</h1>
<p>Seen by <span id="seen-by">-</span>; <span id="updated" data-refreshes="0">not yet updated</span>.
<span id="error"></span></p>
<table><thead><tr><th>node</th><th>status</th><th>phi</th><th>dc</th><th>actors</th><th>msgs/s</th>
<th>mailbox</th><th>failures</th><th>store docs</th></tr></thead><tbody id="members"></tbody></table>
<p id="note"></p>
<script>
let refreshes = 0;
function cell(row, text, cls) {
  const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; row.appendChild(td);
}
async function refresh() {
  try {
    const response = await fetch("/api/cluster", {cache: "no-store"});
    const data = await response.json();
    if (data.error) throw new Error(data.error);
    const body = document.getElementById("members"); body.replaceChildren();
    for (const m of data.members) {
      const row = document.createElement("tr"); row.dataset.node = m.node;
      cell(row, m.node); cell(row, m.status, m.status); cell(row, m.phi.toFixed(2)); cell(row, m.dc);
      cell(row, m.actors.join(", ") || "-"); cell(row, m.answered ? m.msgs_per_s : "-");
      cell(row, m.mailbox ?? "-"); cell(row, m.failures ?? "-"); cell(row, m.store_documents ?? "-");
      body.appendChild(row);
    }
    refreshes += 1;
    const updated = document.getElementById("updated");
    updated.dataset.refreshes = refreshes;
    updated.textContent = "updated " + new Date(data.updated * 1000).toLocaleTimeString();
    document.getElementById("seen-by").textContent = data.seen_by;
    document.getElementById("note").textContent = data.note;
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "no data: " + e.message;
  }
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
"""


class DashboardServer:
    """The page and its JSON over HTTP, from the latest snapshot (swapped in whole, read by the server threads).

    Args:
        host: the address to bind. port: the port (0: a free one).

    Attributes:
        url: the page's address, with the port bound.

    Raises:
        OSError: the port cannot be bound.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.snapshot: bytes = json.dumps({"error": "no sample yet"}).encode()
        dashboard = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server protocol)
                if self.path == "/":
                    self._send(200, "text/html; charset=utf-8", PAGE.encode())
                elif self.path == "/api/cluster":
                    self._send(200, "application/json", dashboard.snapshot)
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server signature)
                log.debug(format, *args)

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot serve the page on {host}:{port}: {exc.strerror}") from None
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="zactor-dashboard", daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


async def run_dashboard(
    seed: str,
    client: NodeConfig,
    *,
    host: str,
    port: int,
    interval_s: float,
    timeout_s: float,
    insecure: bool = False,
) -> None:
    """Serve the page for the cluster of ``seed`` until cancelled, sampling it every ``interval_s`` seconds; prints
    the page's URL.

    Raises:
        ValueError: ``host`` is not a loopback address and ``insecure`` is not set (the page shows the cluster,
            unauthenticated, to whoever reaches it).
        OSError: the HTTP port cannot be bound.
    """
    if not is_loopback_endpoint(f"tcp://{host}:{port}"):
        if not insecure:
            raise ValueError(
                f"refusing to serve the page on {host}: other hosts could read the cluster's state unauthenticated;"
                " use a loopback host, or --insecure"
            )
        log.warning("serving the cluster's page on %s:%d to the network, unauthenticated (--insecure)", host, port)
    server = DashboardServer(host, port)
    server.start()
    print(f"dashboard of {seed} at {server.url}", flush=True)
    try:
        async with Node(client) as node:
            load = ClusterLoad(node, seed, client, timeout_s)
            while True:
                try:
                    server.snapshot = json.dumps(snapshot_json(await load.sample(), seed)).encode()
                except ActorError as exc:
                    server.snapshot = json.dumps({"error": str(exc)}).encode()
                await asyncio.sleep(interval_s)
    finally:
        server.close()
