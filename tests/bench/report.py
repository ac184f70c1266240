#!/usr/bin/env python3
"""Turn the "key value" lines of one `make bench` run into BENCHMARKS.md:
each figure next to its goal and floor, and MISSED written out where a
goal was missed.  usage: report.py RESULTS BENCHMARKS.md"""

import sys


def load(path):
    vals = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            if k:
                vals[k] = v
    return vals


def num(vals, k):
    try:
        return float(vals[k])
    except (KeyError, ValueError):
        return None


def percentiles(vals, key):
    """ "p50 A ms, p99 B ms, max C ms" from key_p50_ms, key_p99_ms and
    key_max_ms."""
    return ", ".join(f"{p} {vals.get(f'{key}_{p}_ms')} ms"
                     for p in ("p50", "p99", "max"))


def main():
    vals = load(sys.argv[1])
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Written by `make bench` (scripts/bench.sh); every figure below comes "
      "from one run on one fresh stack, and every ratio is to a floor "
      "measured in that same run.  Re-run `make bench` to refresh.")
    w("")
    w("Machine: %s, %s cores, %s GiB, kernel %s; run at %s; load average "
      "before %s, after %s." % (
          vals.get("meta.cpu", "?").replace("_", " "), vals.get("meta.cores", "?"),
          vals.get("meta.mem_gib", "?"), vals.get("meta.kernel", "?"),
          vals.get("meta.date", "?"), vals.get("meta.load_before", "?"),
          vals.get("meta.load_after", "?")))
    w("The load generators run on the same cores as the server.")
    w("")

    def table(title):
        w(title)
        w("")
        w("| figure | measured | goal | |")
        w("|---|---|---|---|")

    def row(what, value, goal, met):
        status = "" if met is None else ("met" if met else "**MISSED**")
        w("| %s | %s | %s | %s |" % (what, value, goal, status))

    table("## API (issue 2): wrk, 64 connections, HTTPS keep-alive")
    names = [("floor", "floor: one PK SELECT per request"),
             ("queue_length_20", "GET queue length (20 queued)"),
             ("queue_position_20", "GET queue position (19 ahead)"),
             ("queue_length", "GET queue length (1000 queued)"),
             ("queue_position", "GET queue position (999 ahead)"),
             ("config_get", "GET grading_config"),
             ("status_1000", "GET status of a 1000-job run")]
    for key, what in names:
        rps = num(vals, "api.%s.rps" % key)
        if rps is None:
            row(what, "not measured", "", None)
            continue
        ratio = num(vals, "api.%s.ratio" % key)
        meas = "%.0f req/s (p50 %s ms, p99 %s ms)" % (
            rps, vals.get("api.%s.p50_ms" % key), vals.get("api.%s.p99_ms" % key))
        if key == "floor":
            row(what, meas, "the reference", None)
        elif key == "status_1000":
            row(what, meas + ", %.0f %% of floor" % (100 * ratio), "reported", None)
        else:
            row(what, meas + ", %.0f %% of floor" % (100 * ratio), ">= 70 % of floor",
                ratio >= 0.70)
    ms = num(vals, "api.post_10k.ms")
    if ms is not None:
        row("POST grading_run, 10 000 students (median of 3)", "%.0f ms" % ms,
            "< 1000 ms", ms < 1000)
    w("")

    table("## Dispatch (issue 5): 64 simulated workers, no containers")
    jps = num(vals, "dispatch.jobs_per_s")
    if jps is not None:
        row("claim + result of %s no-op jobs" % vals.get("dispatch.jobs"),
            "%.0f jobs/s (%s s)" % (jps, vals.get("dispatch.seconds")),
            ">= 2000 jobs/s", jps >= 2000)
        p99 = num(vals, "dispatch.latency_p99_ms")
        row("queued -> claimed by an idle worker (%s samples)" %
            vals.get("dispatch.latency_samples"),
            percentiles(vals, "dispatch.latency"), "p99 < 100 ms", p99 < 100)
    else:
        row("dispatch", "not measured", "", None)
    w("")

    table("## SSE (issue 3): streams through nginx into one broadway-sse")
    if "sse_streams" in vals:
        row("streams open / ended cleanly / failed", "%s / %s / %s" % (
            vals.get("sse_streams"), vals.get("sse_ended"), vals.get("sse_failed")),
            "all end", vals.get("sse_failed") == "0")
        for kind in ("state", "position"):
            p99 = num(vals, "sse_lat_%s_p99_ms" % kind)
            if p99 is not None:
                row("commit -> receipt, %s events" % kind,
                    percentiles(vals, f"sse_lat_{kind}"), "p99 < 200 ms",
                    p99 < 200)
        for k in sorted(vals):
            if k.startswith("sse_") and ("_rss_" in k or "_cpu_" in k):
                goal, met = "", None
                if k.endswith("rss_sse_mb"):
                    goal, met = "< 100 MB", float(vals[k]) < 100
                if k.startswith("sse_idle") and k.endswith("cpu_sse_pct"):
                    goal, met = "~0", float(vals[k]) < 2
                row(k, vals[k], goal, met)
    else:
        row("sse", "not measured", "", None)
    w("")

    table("## Worker (issue 4): podman, busybox image, trivial stages")
    wk = sorted(k for k in vals if k.startswith("worker."))
    if not wk:
        row("worker", "not measured", "", None)
    for k in wk:
        goal, met = "", None
        if k == "worker.stage_overhead_pct":
            goal, met = "<= 5 %", float(vals[k]) <= 5
        elif k.startswith("worker.ratio."):
            goal, met = ">= 90 % of raw podman", float(vals[k]) >= 0.9
        row(k, vals[k], goal, met)
    w("")

    w("## Memory under load")
    w("")
    w("| process | RSS now / peak |")
    w("|---|---|")
    seen = set()
    for k in sorted(vals):
        if k.startswith("mem.") and k.endswith(".rss_kb"):
            base = k[:-len(".rss_kb")]
            seen.add(base)
            w("| %s | %s kB / %s kB |" % (base[4:], vals[k], vals.get(base + ".hwm_kb", "?")))
    w("")
    w("## Raw results")
    w("")
    w("```")
    for k in sorted(vals):
        w("%s %s" % (k, vals[k]))
    w("```")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
