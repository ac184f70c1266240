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

    load_section(vals, w, row, "")
    asan = {k[len("asan."):]: v for k, v in vals.items() if k.startswith("asan.")}
    if asan:
        load_section(asan, w, row, " under ASan+UBSan (a second stack built "
                     "with SANITIZE=1, load generator too)")

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


LOAD_KINDS = [("claim", "POST claim"), ("result", "POST result"),
              ("heartbeat", "POST heartbeat"), ("status", "GET grading_run_status"),
              ("position", "GET queue position"), ("length", "GET queue length"),
              ("config", "POST grading_config"), ("run", "POST grading_run"),
              ("stream", "job stream: open -> first event"),
              ("event", "claim answered -> stream sees the job's end")]


def load_section(vals, w, row, title):
    """Issue 10: everything at once; failure counts next to throughput."""
    w("## Combined load (issue 10)%s" % (
        title or ": workers, streams, polling, a course starting runs, at once"))
    w("")
    if "load.jobs_per_s" not in vals:
        w("not measured")
        w("")
        return
    g = vals.get
    w("%s simulated workers (nudge streams, heartbeats) on a backlog of %s "
      "jobs in one course, topped up at half; %s job streams kept open on "
      "its queued jobs plus one on every job of a second course that uploads "
      "a config and starts a %s-student run (and a post-processing job) "
      "every second; %s pollers (status, positions) every %s ms; %s s.  "
      "The floor is the same workers draining %s jobs alone, just before."
      % (g("load.workers"), g("load.backlog"), g("load.streams_target"),
         g("load.run_students"), g("load.pollers"), g("load.poll_ms"),
         g("load.seconds"), g("load.floor.jobs")))
    w("")
    w("| figure | measured | goal | |")
    w("|---|---|---|---|")
    row("workers alone (the floor)", "%s jobs/s, %s req/s" % (
        g("load.floor.jobs_per_s"), g("load.floor.rps")), "the reference", None)
    ratio = num(vals, "load.ratio_jobs")
    row("claim + result under the load", "%s jobs/s (%s claims/s), %.0f %% of "
        "the floor" % (g("load.jobs_per_s"), g("load.claims_per_s"),
                       100 * (ratio or 0)), "reported", None)
    rps, floor = num(vals, "load.rps"), num(vals, "api.floor.rps")
    row("requests answered under the load (every kind)", "%.0f req/s%s" % (
        rps, ", %.0f %% of the API floor (one PK SELECT, wrk)" % (100 * rps / floor)
        if floor else ""), "reported", None)
    row("job streams", "%s opened (%s on the backlog, %s on course B's runs); "
        "%s..%s open during the load; first %s connected in %s s" % (
            g("load.streams.opened"), g("load.streams.opened_a"),
            g("load.streams.opened_b"), g("load.streams.open_min"),
            g("load.streams.open_max"), g("load.streams_connected"),
            g("load.streams_connect_s")), "", None)
    row("runs started / not FINISHED at the end", "%s / %s (drained in %s s)" % (
        g("load.runs"), g("load.runs.unfinished"), g("load.drain_s")), "all finish",
        g("load.runs.unfinished") == "0" and g("load.drained") == "1")
    fails = sorted(k for k in vals if k.startswith("load.fail."))
    detail = ", ".join("%s %s" % (k[len("load.fail."):], vals[k]) for k in fails)
    for key, what in [
            ("load.failures.non2xx", "non-2xx answers"),
            ("load.failures.socket", "socket errors"),
            ("load.failures.nudge_drops", "nudge streams dropped"),
            ("load.jobs.ended_twice", "jobs ended more than once (workers' view)"),
            ("load.db.ended_twice", "jobs with two end events (database)"),
            ("load.jobs.never_ended", "jobs never ended (workers' view)"),
            ("load.db.not_ended", "jobs not ended (database)"),
            ("load.db.infra_failures", "jobs failed as infrastructure"),
            ("load.jobs.claimed_again", "jobs claimed again (a lease lost)"),
            ("load.streams.missed_end", "streams that missed their job's end"),
            ("load.streams.missed_started", "streams that missed STARTED"),
            ("load.streams.still_open", "streams never ended"),
            ("load.log.api", "warnings/errors in the API log"),
            ("load.log.sse", "warnings/errors in the SSE log"),
            ("load.log.error", "nginx error log lines")]:
        v = g(key)
        if v is None:
            continue
        extra = " (%s)" % detail if key == "load.failures.non2xx" and detail else ""
        row(what, v + extra, "0", v == "0")
    w("")
    w("| request | alone: p50 / p99 / max | under the load: p50 / p99 / max | "
      "count under the load |")
    w("|---|---|---|---|")
    for kind, what in LOAD_KINDS:
        def lat(ph):
            n = g("load.lat.%s.%s.n" % (kind, ph))
            if n is None:
                return ""
            return "%s / %s / %s ms" % tuple(
                g("load.lat.%s.%s.%s_ms" % (kind, ph, q)) for q in ("p50", "p99", "max"))
        load_n = g("load.lat.%s.load.n" % kind, "0")
        w("| %s | %s | %s | %s |" % (what, lat("floor"), lat("load"), load_n))
    w("")


if __name__ == "__main__":
    main()
