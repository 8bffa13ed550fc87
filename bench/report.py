"""Turns a bench run into ratios measured in the same run: markdown on stdout, bench/out/results.json and an SVG
chart (bench/out/benchmarks.svg). Arguments: results.txt evals idle_rss_kb duration connections openloop.jsonl
yarp_idle_rss_kb ramp.txt [before-revision]"""
import json
import os
import statistics
import sys

results_path, evals, idle_rss, duration, connections, openloop_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
yarp_idle_rss, ramp_path = int(sys.argv[7]), sys.argv[8]
before_rev = sys.argv[9] if len(sys.argv) > 9 else ""
out_dir = os.path.dirname(results_path)
all_rows = {}
for line in open(results_path):
    name, rps, p50, p99, requests, cpu, rss, bad, hwm, alloc, gen0, pause = line.split()
    all_rows[name] = dict(rps=float(rps), p50_ms=float(p50), p99_ms=float(p99), requests=int(requests), cpu_s=float(cpu), rss_kb=int(rss),
                          non_2xx=int(bad), peak_rss_kb=int(hwm), alloc_bytes=float(alloc), gen0=int(gen0), gc_pause_s=float(pause))
rows = {n: r for n, r in all_rows.items() if not n.startswith("before:")}
befores = {n[len("before:"):]: r for n, r in all_rows.items() if n.startswith("before:")}
loops = {}
for line in open(openloop_path):
    d = json.loads(line)
    loops[d["name"]] = d
ramps = {}
for line in open(ramp_path):
    name, *windows = line.split()
    ramps[name] = [float(w) for w in windows]

direct, nginx, pt, yarp = rows["direct"], rows["nginx-proxy"], rows["sidecar-passthrough"], rows["plain-yarp"]
out = {"duration": duration, "connections": connections, "idle_rss_kb": idle_rss, "plain_yarp_idle_rss_kb": yarp_idle_rss, "modes": {}, "open_loop": loops, "ramp": ramps}


def per_request(r, key, scale):
    return r[key] * scale / r["requests"] if r[key] and r["requests"] else 0


print("### Throughput (wrk, saturated)")
print()
print("*Plain YARP* is YARP 2.3 with one route and nothing else (bench/PlainYarp): the floor any YARP-based proxy starts")
print("from on this machine. Allocation and GC figures come from the sidecar's own `/metrics`.")
print()
print("| mode | req/s | × direct | × nginx-proxy | × plain YARP | CPU µs/req | alloc KB/req | gen0 GCs per 1k req | GC pause µs/req | RSS after run MB | peak RSS MB | non-2xx |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for name, r in rows.items():
    cpu_us = per_request(r, "cpu_s", 1e6)
    entry = dict(r, x_direct=r["rps"] / direct["rps"], x_nginx=r["rps"] / nginx["rps"], x_plain_yarp=r["rps"] / yarp["rps"], cpu_us_per_req=cpu_us,
                 alloc_kb_per_req=per_request(r, "alloc_bytes", 1 / 1024), gen0_per_1k=per_request(r, "gen0", 1000), gc_pause_us_per_req=per_request(r, "gc_pause_s", 1e6))
    out["modes"][name] = entry
    rss = f'{r["rss_kb"] / 1024:.0f}' if r["rss_kb"] else "-"
    peak = f'{r["peak_rss_kb"] / 1024:.0f}' if r["peak_rss_kb"] else "-"
    gc = (f'{entry["alloc_kb_per_req"]:.1f} | {entry["gen0_per_1k"]:.2f} | {entry["gc_pause_us_per_req"]:.1f}') if r["alloc_bytes"] else "- | - | -"
    print(f'| {name} | {r["rps"]:.0f} | {entry["x_direct"]:.2f} | {entry["x_nginx"]:.2f} | {entry["x_plain_yarp"]:.2f} | {cpu_us:.0f} | {gc} | {rss} | {peak} | {r["non_2xx"]} |')

if ramps:
    print()
    print("### Warm-up after a start (req/s in consecutive 2 s windows at full load)")
    print()
    print("Tiered JIT with dynamic PGO recompiles the hot path while it serves; the figures above are measured after the")
    print("warm-up. *90 %* is the first second by which a window reached 90 % of that mode's measured throughput.")
    print()
    print("| process | windows req/s | 90 % of steady after |")
    print("|---|---|---|")
    for name, windows in ramps.items():
        steady = rows[name.split("@")[0]]["rps"] if name.split("@")[0] in rows else max(windows)
        reached = next((2 * (i + 1) for i, w in enumerate(windows) if w >= 0.9 * steady), None)
        out["ramp"][name] = dict(windows=windows, seconds_to_90pct=reached)
        print(f'| {name} | {" ".join(f"{w:.0f}" for w in windows)} | {f"{reached} s" if reached else "not within " + str(2 * len(windows)) + " s"} |')

if befores:
    print()
    print(f"### Before/after (the sidecar at `{before_rev}`, measured in this same run)")
    print()
    print("| mode | before × nginx-proxy | after × nginx-proxy | after ÷ before | before CPU µs/req | after CPU µs/req | before / after peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    out["before"] = {"revision": before_rev, "modes": {}}
    for name, b in befores.items():
        a = rows[name]
        bcpu, acpu = per_request(b, "cpu_s", 1e6), per_request(a, "cpu_s", 1e6)
        out["before"]["modes"][name] = dict(b, x_nginx=b["rps"] / nginx["rps"], cpu_us_per_req=bcpu, after_over_before=a["rps"] / b["rps"])
        print(f'| {name} | {b["rps"] / nginx["rps"]:.2f} | {a["rps"] / nginx["rps"]:.2f} | {a["rps"] / b["rps"]:.2f}× | {bcpu:.0f} | {acpu:.0f} | {b["peak_rss_kb"] / 1024:.0f} / {a["peak_rss_kb"] / 1024:.0f} |')


def added(mode, baseline):
    if mode not in loops or baseline not in loops:
        return None
    m, b = loops[mode], loops[baseline]
    return dict(rate=m["rate"], p50=m["p50_ms"], p99=m["p99_ms"], base_p50=b["p50_ms"], base_p99=b["p99_ms"],
                added_p50=m["p50_ms"] - b["p50_ms"], added_p99=m["p99_ms"] - b["p99_ms"],
                ttfb_p50=m["ttfb_p50_ms"], ttfb_p99=m["ttfb_p99_ms"], base_ttfb_p50=b["ttfb_p50_ms"], base_ttfb_p99=b["ttfb_p99_ms"],
                errors=m["errors"] + m["non_2xx"] + b["errors"] + b["non_2xx"])


print()
print("### Added latency at 50 % of each mode's max throughput (open loop, fixed rate)")
print()
print("| mode | rate req/s | p50 ms | p99 ms | baseline | baseline p50 / p99 ms | added p50 ms | added p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|")
latency = {}
for mode, baseline in (("sidecar-passthrough", "direct@passthrough"), ("everything-on-memory", "direct@everything-memory"),
                       ("everything-on-redis", "direct@everything-redis")):
    a = added(mode, baseline)
    if a:
        latency[mode] = a
        print(f'| {mode} | {a["rate"]:.0f} | {a["p50"]:.2f} | {a["p99"]:.2f} | {baseline} | {a["base_p50"]:.2f} / {a["base_p99"]:.2f} | {a["added_p50"]:+.2f} | {a["added_p99"]:+.2f} | {a["errors"]} |')


# Limits in Redis against pass-through in paired blocks (run.sh): the median over every pair of the two blocks' p50
# difference stands for the added latency; each run's overall p50 difference is shown beside it.
paired_runs = [loops[n] for n in ("limits-redis-vs-passthrough", "limits-redis-vs-passthrough#2", "limits-redis-vs-passthrough#3") if n in loops]
diffs = [d for r in paired_runs for d in r["pair_p50_diffs_ms"]]
if diffs:
    first = paired_runs[0]
    a = dict(rate=first["rate"], added_p50=statistics.median(diffs), pairs=len(diffs),
             p50=statistics.median([r["p50_ms"] for r in paired_runs]), base_p50=statistics.median([r["p50_ms_2"] for r in paired_runs]),
             p99=statistics.median([r["p99_ms"] for r in paired_runs]), base_p99=statistics.median([r["p99_ms_2"] for r in paired_runs]),
             errors=sum(r["errors"] + r["non_2xx"] for r in paired_runs),
             runs=[dict(added_p50_pairs=r["paired_p50_diff_ms"], added_p50_overall=r["p50_ms"] - r["p50_ms_2"], added_p99_overall=r["p99_ms"] - r["p99_ms_2"],
                        p50=r["p50_ms"], base_p50=r["p50_ms_2"]) for r in paired_runs])
    a["added_p99"] = a["p99"] - a["base_p99"]
    latency["sidecar-limits-redis"] = a
    print(f'| sidecar-limits-redis | {a["rate"]:.0f} | {a["p50"]:.2f} | {a["p99"]:.2f} | sidecar-passthrough (paired {first["block_seconds"]:.0f} s blocks, median of {a["pairs"]} pairs) | {a["base_p50"]:.2f} / {a["base_p99"]:.2f} | {a["added_p50"]:+.2f} | {a["added_p99"]:+.2f} | {a["errors"]} |')
    print()
    print(f"Limits in Redis against pass-through, {len(paired_runs)} paired runs at {a['rate']:.0f} req/s (blocks alternate AB, BA, ...): "
          "each run's median pair difference of p50, and its overall p50 and p99 differences, ms: "
          + "; ".join(f'{r["added_p50_pairs"]:+.2f} (overall p50 {r["added_p50_overall"]:+.2f}: {r["p50"]:.2f} against {r["base_p50"]:.2f}; p99 {r["added_p99_overall"]:+.2f})' for r in a["runs"]) + ".")
    if "limits-redis-vs-passthrough@std" in loops:
        r = loops["limits-redis-vs-passthrough@std"]
        a["std_client"] = dict(added_p50_pairs=r["paired_p50_diff_ms"], added_p50_overall=r["p50_ms"] - r["p50_ms_2"], p50=r["p50_ms"], base_p50=r["p50_ms_2"])
        print()
        print(f"The same pairing once with Go's net/http client as the generator (a goroutine per request; it takes more of the two cores): "
              f'{r["paired_p50_diff_ms"]:+.2f} ms median pair difference (overall {r["p50_ms"]:.2f} against {r["p50_ms_2"]:.2f} ms). Not used for the goal.')
out["added_latency"] = latency

frozen = added("sidecar@redis-frozen", "sidecar@redis-answering")
if frozen:
    out["redis_frozen"] = dict(frozen, before=loops.get("before@redis-frozen"))
    print()
    print("### Redis frozen under limits in Redis (`FailureMode: Open`, `RedisTimeout` 50 ms, open loop)")
    print()
    fr = loops["sidecar@redis-frozen"]
    print(f"Redis is stopped with SIGSTOP for {fr['sent'] / fr['rate']:.0f} s: its connections stay open and nothing answers, so only the timeout "
          "notices; about 8 s in (a full run freezes it for 15 s), the Redis client gives up on the silent connection, fails the calls in flight on "
          "it and reconnects.")
    print()
    print("| sidecar | rate req/s | p50 ms | p99 ms | errors + non-2xx |")
    print("|---|---|---|---|---|")
    for label, name in (("Redis answering", "sidecar@redis-answering"), ("Redis frozen", "sidecar@redis-frozen"),
                        (f"Redis frozen, the build at `{before_rev}`", "before@redis-frozen")):
        if name in loops:
            r = loops[name]
            print(f'| {label} | {r["rate"]:.0f} | {r["p50_ms"]:.2f} | {r["p99_ms"]:.2f} | {r["errors"] + r["non_2xx"]} |')

stream = added("sidecar-streaming", "direct@streaming")
if stream:
    out["streaming"] = stream
    print()
    print("### Streaming (fake provider: 50 events 5 ms apart, 100 streams/s, open loop)")
    print()
    print("The direct client asks for usage (`stream_options.include_usage`) as the sidecar does upstream on every stream,")
    print("so both paths get the same events from the provider.")
    print()
    print("| | time to first token p50 / p99 ms | whole stream p50 / p99 ms |")
    print("|---|---|---|")
    print(f'| direct | {stream["base_ttfb_p50"]:.2f} / {stream["base_ttfb_p99"]:.2f} | {stream["base_p50"]:.2f} / {stream["base_p99"]:.2f} |')
    print(f'| through the sidecar | {stream["ttfb_p50"]:.2f} / {stream["ttfb_p99"]:.2f} | {stream["p50"]:.2f} / {stream["p99"]:.2f} |')
    print(f'| added | {stream["ttfb_p50"] - stream["base_ttfb_p50"]:+.2f} / {stream["ttfb_p99"] - stream["base_ttfb_p99"]:+.2f} | {stream["added_p50"]:+.2f} / {stream["added_p99"]:+.2f} |')

refs = [n for n in ("nginx-proxy", "haproxy-proxy", "caddy-proxy", "plain-yarp") if n in rows]
print()
print("### Same-run reference proxies (saturated, in front of the same canned upstream)")
print()
print("nginx runs one worker; HAProxy (one thread per core) and Caddy (Go, GOMAXPROCS = cores) use every core, as the")
print("sidecar does. CPU is not counted for nginx (its worker is a child of the process the bench starts).")
print()
print("| proxy | req/s | × direct | × nginx | sidecar pass-through × this | CPU µs/req | RSS after run MB |")
print("|---|---|---|---|---|---|---|")
for n in refs:
    r = rows[n]
    cpu_us = per_request(r, "cpu_s", 1e6)
    cpu_text = f"{cpu_us:.0f}" if cpu_us else "-"
    rss_text = f'{r["rss_kb"] / 1024:.0f}' if r["rss_kb"] else "-"
    print(f'| {n} | {r["rps"]:.0f} | {r["rps"] / direct["rps"]:.2f} | {r["rps"] / nginx["rps"]:.2f} | {pt["rps"] / r["rps"]:.2f} | {cpu_text} | {rss_text} |')

# Issue 16's table: every row from this one run.
issue = {}
print()
print("### Issue 16 goals, this run")
print()
print("| row | measured | CPU µs/req | goal | met |")
print("|---|---|---|---|---|")


def goal_row(label, value, cpu, goal, ok):
    issue[label] = dict(value=value, cpu_us_per_req=cpu, goal=goal, met=ok)
    print(f"| {label} | {value} | {cpu} | {goal} | {'yes' if ok else 'no'} |")


def cpu_of(name):
    return f'{per_request(rows[name], "cpu_s", 1e6):.0f}' if name in rows else "-"


for name, label, goal in (("sidecar-passthrough", "pass-through", 0.9), ("everything-on-memory", "everything on, memory", 0.75),
                          ("everything-on-redis", "everything on, Redis", 0.6)):
    if name in rows:
        x = rows[name]["rps"] / yarp["rps"]
        goal_row(f"{label}, × plain YARP", f"{x:.2f}×", cpu_of(name), f"≥ {goal}×", x >= goal)
if "redaction-on-64kb" in rows:
    x = rows["redaction-on-64kb"]["rps"] / rows["redaction-off-64kb"]["rps"]
    goal_row("redaction on, 64 KB prompt, × redaction off", f"{x:.2f}×", f'{cpu_of("redaction-on-64kb")} (off: {cpu_of("redaction-off-64kb")})', "≥ 0.8×", x >= 0.8)
for mode, label in (("sidecar-passthrough", "pass-through"), ("everything-on-memory", "everything on, memory"), ("everything-on-redis", "everything on, Redis")):
    if mode in latency:
        a = latency[mode]
        goal_row(f"added latency at half load, {label}", f"p50 {a['added_p50']:+.2f} ms, p99 {a['added_p99']:+.2f} ms (at {a['rate']:.0f} req/s)", "-", "p50 ≤ 0.3 ms, p99 ≤ 1 ms",
                 a["added_p50"] <= 0.3 and a["added_p99"] <= 1)
if stream:
    d = stream["ttfb_p99"] - stream["base_ttfb_p99"]
    goal_row("added time to first token, p99", f"{d:+.2f} ms", "-", "≤ 1 ms", d <= 1)
repeats = [loops[n]["p99_ms"] for n in ("direct@passthrough", "direct@passthrough#2", "direct@passthrough#3") if n in loops]
if repeats:
    issue["baseline_p99_repeats_ms"] = repeats
    print(f"| direct baseline's own p99 across {len(repeats)} repeats (same rate) | {min(repeats):.2f}–{max(repeats):.2f} ms (spread {max(repeats) - min(repeats):.2f} ms) | - | an added p99 inside this spread is noise | - |")
everything_peak = max((rows[n]["peak_rss_kb"] for n in ("everything-on-memory", "everything-on-redis") if n in rows), default=0)
goal_row("idle RSS", f"{idle_rss / 1024:.0f} MB (plain YARP {yarp_idle_rss / 1024:.0f} MB)", "-", "≤ 40 MB (AOT build)", idle_rss / 1024 <= 40)
if everything_peak:
    goal_row("RSS under the everything-on load (peak)", f"{everything_peak / 1024:.0f} MB", "-", "≤ 90 MB (AOT build)", everything_peak / 1024 <= 90)
out["issue16"] = issue

# Issue 13's bench targets: every row from this one run.
print()
print("### Issue 13 goals, this run")
print()
print("| row | measured | goal | met |")
print("|---|---|---|---|")
issue13 = {}


def goal13(label, value, goal, ok):
    issue13[label] = dict(value=value, goal=goal, met=ok)
    print(f"| {label} | {value} | {goal} | {'yes' if ok else 'no'} |")


if "sidecar-limits-redis" in rows and "sidecar-limits-memory" in rows:
    x = rows["sidecar-limits-redis"]["rps"] / rows["sidecar-limits-memory"]["rps"]
    goal13("limits in Redis, × limits in memory (throughput)", f"{x:.2f}× ({rows['sidecar-limits-redis']['rps']:.0f} / {rows['sidecar-limits-memory']['rps']:.0f} req/s)", "≥ 0.8×", x >= 0.8)
if "sidecar-limits-redis" in latency:
    a = latency["sidecar-limits-redis"]
    goal13("Redis limit check, added p50 at half load (vs pass-through at the same rate; median over the paired blocks)", f"{a['added_p50']:+.2f} ms (at {a['rate']:.0f} req/s)", "≤ 0.15 ms", a["added_p50"] <= 0.15)
for name, label in (("sidecar-cache-hit-redis", "cache hit from Redis (near copies on, the default)"), ("sidecar-cache-hit-redis-no-near", "cache hit from Redis, NearCache false (every hit read from Redis)")):
    if name in rows:
        x = rows[name]["rps"] / pt["rps"]
        goal13(f"{label}, × pass-through", f"{x:.2f}×", "≥ 1.5×", x >= 1.5)
if "sidecar@redis-frozen" in loops:
    r = loops["sidecar@redis-frozen"]
    bad = r["errors"] + r["non_2xx"]
    goal13(f"Redis frozen {r['sent'] / r['rate']:.0f} s at {r['rate']:.0f} req/s (Open): requests not answered 2xx", f"{bad} of {r['sent']}", "0", bad == 0)
out["issue13"] = issue13

trips = evals / 200  # run.sh counts Redis scripts over exactly 200 sequential requests
out["redis_scripts_per_request"] = trips
loaded_evals, loaded_requests = (int(v) for v in open(os.path.join(out_dir, "redis-loaded.txt")).read().split())
loaded = loaded_evals / max(1, loaded_requests)
out["redis_scripts_per_request_under_load"] = loaded
print()
print("### Features, each measured against pass-through in the same run")
print()
mem, red = rows["sidecar-limits-memory"], rows["sidecar-limits-redis"]
print(f"- limiter in memory: {mem['rps'] / pt['rps']:.2f}× pass-through throughput")
print(f"- limiter in Redis: {red['rps'] / pt['rps']:.2f}× pass-through throughput; Redis scripts per request: {trips:.2f} one request at a time, {loaded:.2f} under the saturated run (the bench user is far from its limits: requests are admitted from leases and settle within them, and a script only renews or gives back a lease)")
for mode, label in (("sidecar-cache-hit-memory", "cache hit in memory"), ("sidecar-cache-hit-redis", "cache hit in Redis (near copies)"), ("sidecar-cache-hit-redis-no-near", "cache hit in Redis, every hit read from Redis")):
    if mode in rows:
        c = rows[mode]
        print(f"- {label}: {c['rps'] / pt['rps']:.2f}× proxied (pass-through) throughput, {c['rps'] / nginx['rps']:.2f}× nginx-proxy")
for kb in (1, 16, 64):
    if f"redaction-on-{kb}kb" in rows:
        on, off = rows[f"redaction-on-{kb}kb"], rows[f"redaction-off-{kb}kb"]
        cpu_on = on["cpu_s"] * 1e6 / max(1, on["requests"])
        cpu_off = off["cpu_s"] * 1e6 / max(1, off["requests"])
        out.setdefault("redaction", {})[f"{kb}kb"] = dict(x_passthrough=on["rps"] / off["rps"], added_cpu_us=cpu_on - cpu_off, added_cpu_us_per_kb=(cpu_on - cpu_off) / kb)
        print(f"- redaction, {kb} KB prompt: {on['rps'] / off['rps']:.2f}× the same route without redaction, +{cpu_on - cpu_off:.0f} CPU µs/request = {(cpu_on - cpu_off) / kb:.1f} µs per KB")
for mode in ("everything-on-memory", "everything-on-redis"):
    if mode in rows:
        print(f"- {mode}: {rows[mode]['rps'] / pt['rps']:.2f}× pass-through throughput")

peak = max(r["peak_rss_kb"] for n, r in rows.items() if n != "plain-yarp")
steady = max(r["rss_kb"] for n, r in rows.items() if n.startswith(("sidecar", "everything")))
print()
print("### Targets (issue 9) — where this run stands")
print()
print("| target | measured | met |")
print("|---|---|---|")


def target(label, value, goal, ok):
    print(f"| {label} (goal {goal}) | {value} | {'yes' if ok else 'no'} |")


ev = rows.get("everything-on-memory")
if ev:
    target("everything on, × nginx-proxy throughput", f"{ev['rps'] / nginx['rps']:.2f}× (memory), {rows['everything-on-redis']['rps'] / nginx['rps']:.2f}× (Redis)", "≥ 0.6×", ev["rps"] / nginx["rps"] >= 0.6)
if "sidecar-passthrough" in latency:
    a = latency["sidecar-passthrough"]
    target("added latency at 50 % load, pass-through", f"p50 {a['added_p50']:+.2f} ms, p99 {a['added_p99']:+.2f} ms", "p50 ≤ 0.3 ms, p99 ≤ 1 ms", a["added_p50"] <= 0.3 and a["added_p99"] <= 1)
if "everything-on-memory" in latency:
    a = latency["everything-on-memory"]
    target("added latency at 50 % load, everything on", f"p50 {a['added_p50']:+.2f} ms, p99 {a['added_p99']:+.2f} ms", "p50 ≤ 0.3 ms, p99 ≤ 1 ms", a["added_p50"] <= 0.3 and a["added_p99"] <= 1)
if "sidecar-limits-redis" in latency:
    a = latency["sidecar-limits-redis"]
    target("Redis limit check, added p50 vs pass-through", f"{a['added_p50']:+.2f} ms", "≤ 0.15 ms", a["added_p50"] <= 0.15)
c = rows.get("sidecar-cache-hit-memory")
if c:
    target("in-memory cache hit, × nginx-proxy", f"{c['rps'] / nginx['rps']:.2f}×", "≥ 1.0×", c["rps"] / nginx["rps"] >= 1.0)
if stream:
    d = stream["ttfb_p99"] - stream["base_ttfb_p99"]
    target("added time to first token, p99", f"{d:+.2f} ms", "≤ 1 ms", d <= 1)
target("idle RSS", f"{idle_rss / 1024:.0f} MB (plain YARP: {yarp_idle_rss / 1024:.0f} MB)", "≤ 60 MB", idle_rss / 1024 <= 60)
target("RSS under sustained load (peak of all modes)", f"{peak / 1024:.0f} MB", "≤ 150 MB", peak / 1024 <= 150)
out["idle_rss_mb"], out["peak_rss_mb"], out["steady_rss_mb"] = idle_rss / 1024, peak / 1024, steady / 1024
json.dump(out, open(os.path.join(out_dir, "results.json"), "w"), indent=2)

# Chart: × nginx-proxy throughput per mode, with the 0.6× target and nginx-proxy (1.0×) marked.
names = [n for n in rows if n not in ("direct",)]
width, bar, left = 760, 22, 230
height = 40 + bar * len(names) + 30
scale = (width - left - 60) / max(1.5, max(rows[n]["rps"] / nginx["rps"] for n in names))
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       f'<rect width="{width}" height="{height}" fill="white"/>',
       f'<text x="10" y="20" font-size="14" font-weight="bold">Throughput × nginx-as-proxy (same run, {duration} per mode)</text>']
for i, n in enumerate(names):
    x = rows[n]["rps"] / nginx["rps"]
    y = 35 + i * bar
    color = "#888" if n == "nginx-proxy" else ("#2a7" if x >= 0.6 else "#d84")
    svg.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{n}</text>')
    svg.append(f'<rect x="{left}" y="{y + 3}" width="{x * scale:.1f}" height="{bar - 6}" fill="{color}"/>')
    svg.append(f'<text x="{left + x * scale + 4:.1f}" y="{y + 15}">{x:.2f}×</text>')
for mark, label in ((0.6, "target 0.6×"), (1.0, "nginx-proxy")):
    xm = left + mark * scale
    svg.append(f'<line x1="{xm:.1f}" y1="30" x2="{xm:.1f}" y2="{height - 25}" stroke="#333" stroke-dasharray="4 3"/>')
    svg.append(f'<text x="{xm:.1f}" y="{height - 10}" text-anchor="middle">{label}</text>')
svg.append("</svg>")
open(os.path.join(out_dir, "benchmarks.svg"), "w").write("\n".join(svg))
