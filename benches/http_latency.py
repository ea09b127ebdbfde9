#!/usr/bin/env python3
"""Latency of the read-only queries over HTTP: 1,000 requests of each, one after another on
one keep-alive connection, each timed to its last byte (docs/benchmarks.md, session 8).

    huella demo --events 50000 --listen 127.0.0.1:18222 &    # a release build
    python3 benches/http_latency.py 127.0.0.1 18222
"""
import http.client
import sys
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


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
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
