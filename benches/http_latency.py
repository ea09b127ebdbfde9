#!/usr/bin/env python3
"""Latency of the read-only queries over HTTP: 1,000 requests of each, one after another on
one keep-alive connection, each timed to its last byte (docs/benchmarks.md, sessions 8, 9).
With a third argument N: N clients at once, each on its own connection, send 250 requests
of the country-pair query, and the latency over all of them is given.

    huella demo --events 50000 --listen 127.0.0.1:18222 &    # a release build
    python3 benches/http_latency.py 127.0.0.1 18222
    python3 benches/http_latency.py 127.0.0.1 18222 16
"""
import http.client
import sys
import threading
import time

QUERIES = [
    "/v1/stats",
    "/v1/stats?group_by=kind",
    "/v1/stats?group_by=requesting_country,holder_country,month&kind=access",
    "/v1/stats?group_by=requesting_agency,purpose,outcome&from=2026-03&to=2026-03",
    "/v1/stats?group_by=day&category=biometric_fingerprint",
    "/v1/search?purpose=criminal_investigation&limit=20",
    "/?lang=en",
]


def concurrent(host: str, port: int, clients: int) -> None:
    query, each, times, lock = QUERIES[2], 250, [], threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(host, port)
        mine = []
        for _ in range(each):
            start = time.perf_counter()
            connection.request("GET", query)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                sys.exit(f"{query}: {response.status}")
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    times.sort()
    print(f"{query}, {clients} clients: {len(times)} requests in {took:.1f} s "
          f"({len(times) / took:.0f}/s), p50 {times[len(times) // 2]:.1f} ms, "
          f"p99 {times[int(len(times) * 0.99)]:.1f} ms, max {times[-1]:.1f} ms")


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3:
        concurrent(host, port, int(sys.argv[3]))
        return
    connection = http.client.HTTPConnection(host, port)
    for query in QUERIES:
        times = []
        for _ in range(1000):
            start = time.perf_counter()
            connection.request("GET", query)
            response = connection.getresponse()
            body = response.read()
            times.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                sys.exit(f"{query}: {response.status}")
        times.sort()
        print(f"{query}: p50 {times[500]:.2f} ms, p99 {times[990]:.2f} ms, "
              f"max {times[-1]:.2f} ms, {len(body)} bytes")


if __name__ == "__main__":
    main()
