"""Turns bench/out/results.txt into ratios measured in the same run (stdout: markdown; bench/out/results.json)."""
import json
import sys

results_path, evals, idle_rss, duration, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = {}
for line in open(results_path):
    name, rps, p50, p99, requests, cpu, rss, bad = line.split()
    rows[name] = dict(rps=float(rps), p50_ms=float(p50), p99_ms=float(p99), requests=int(requests), cpu_s=float(cpu), rss_kb=int(rss), non_2xx=int(bad))

direct, nginx = rows["direct"], rows["nginx-proxy"]
redis_requests = 200  # run.sh counts Redis calls over exactly 200 sequential requests
out = {"duration": duration, "connections": connections, "idle_rss_kb": idle_rss, "modes": {}}
print(f"| mode | req/s | × direct | × nginx-proxy | p50 ms | p99 ms | added p50 vs direct ms | CPU µs/req | RSS MB | non-2xx |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, r in rows.items():
    cpu_us = (r["cpu_s"] * 1e6 / r["requests"]) if r["cpu_s"] and r["requests"] else 0
    entry = dict(r, x_direct=r["rps"] / direct["rps"], x_nginx=r["rps"] / nginx["rps"], added_p50_ms=r["p50_ms"] - direct["p50_ms"], cpu_us_per_req=cpu_us)
    out["modes"][name] = entry
    rss = f'{r["rss_kb"] / 1024:.0f}' if r["rss_kb"] else "-"
    print(f'| {name} | {r["rps"]:.0f} | {entry["x_direct"]:.2f} | {entry["x_nginx"]:.2f} | {r["p50_ms"]:.2f} | {r["p99_ms"]:.2f} | {entry["added_p50_ms"]:+.2f} | {cpu_us:.0f} | {rss} | {r["non_2xx"]} |')

trips = evals / max(1, redis_requests)
out["redis_scripts_per_request"] = trips
mem, red = rows["sidecar-limits-memory"], rows["sidecar-limits-redis"]
pt = rows["sidecar-passthrough"]
print()
print(f"- limiter in memory: {mem['rps'] / pt['rps']:.2f}× pass-through throughput, p50 {mem['p50_ms'] - pt['p50_ms']:+.3f} ms")
print(f"- limiter in Redis:  {red['rps'] / pt['rps']:.2f}× pass-through throughput, p50 {red['p50_ms'] - pt['p50_ms']:+.3f} ms")
for mode, label in (("sidecar-cache-hit-memory", "cache hit in memory"), ("sidecar-cache-hit-redis", "cache hit in Redis")):
    if mode in rows:
        c = rows[mode]
        print(f"- {label}: {c['rps'] / pt['rps']:.2f}× proxied (pass-through) throughput, {c['rps'] / nginx['rps']:.2f}× nginx-proxy, p50 {c['p50_ms'] - pt['p50_ms']:+.3f} ms vs proxied")
sizes = [kb for kb in (1, 16, 64) if f"redaction-on-{kb}kb" in rows]
for kb in sizes:
    on, off = rows[f"redaction-on-{kb}kb"], rows[f"redaction-off-{kb}kb"]
    cpu_on = on["cpu_s"] * 1e6 / max(1, on["requests"])
    cpu_off = off["cpu_s"] * 1e6 / max(1, off["requests"])
    out.setdefault("redaction", {})[f"{kb}kb"] = dict(x_passthrough=on["rps"] / off["rps"], added_cpu_us=cpu_on - cpu_off, added_cpu_us_per_kb=(cpu_on - cpu_off) / kb)
    print(f"- redaction, {kb} KB prompt: {on['rps'] / off['rps']:.2f}× the same route without redaction, +{cpu_on - cpu_off:.0f} CPU µs/request = {(cpu_on - cpu_off) / kb:.1f} µs per KB")
print(f"- Redis scripts per request: {trips:.2f} (1 reserve on the request path + 1 reconcile after the response)")
print(f"- sidecar idle RSS: {idle_rss / 1024:.0f} MB")
json.dump(out, open(results_path.replace("results.txt", "results.json"), "w"), indent=2)
