"""The benchmark's report: a Markdown table (every figure with its ratio to the floor of the
same run) and a plot."""

import sys

SYSTEMS = [("floor", "floor"), ("armd", "armd"),
           ("armd_process_group", "armd, process groups (no cgroups)"),
           ("armd_default", "armd (100 ms backoff)"),
           ("supervisord", "supervisord"), ("s6", "s6"), ("runit", "runit")]


def _ratio(value, floor):
    return f" ({value / floor:.2f}×)" if floor else ""


def _cell(measure, who, row):
    result = row.get(who)
    floor = row["floor"]
    if result is None:
        return "–"
    if measure == "start":
        s = result["start_all_ms"]
        return (f"{s['median']:.1f} [{s['min']:.0f}–{s['max']:.0f}]"
                f"{_ratio(s['median'], floor['start_all_ms']['median'])}")
    if measure == "stop":
        s = result["stop_all_ms"]
        return (f"{s['median']:.1f} [{s['min']:.0f}–{s['max']:.0f}]"
                f"{_ratio(s['median'], floor['stop_all_ms']['median'])}")
    if measure in ("restart", "p99"):
        r = result.get("restart")
        if not r:
            return "–"
        key = "median_ms" if measure == "restart" else "p99_ms"
        base = floor["restart"][key] if floor.get("restart") else 0
        return f"{r[key]:.2f}{_ratio(r[key], base)}"
    if measure in ("rtt", "pipelined"):
        key = "status_round_trips_per_s" if measure == "rtt" else "status_pipelined_per_s"
        value = result.get(key)
        if not value:
            return "–"
        base = floor.get(key)
        # A rate: the ratio that compares with the others is floor / measured.
        return f"{value:,.0f}" + (f" ({base / value:.2f}×)" if base and who != "floor" else "")
    if measure == "memory":
        m = result["memory_kib"]
        return f"{m['rss'] / 1024:.1f} / {m['pss'] / 1024:.1f} ({m['processes']} proc.)"
    if who == "floor":
        return "–"
    if measure == "idle":
        idle = result.get("idle")
        return f"{idle['cpu_s']:.2f} / {idle['context_switches']}" if idle else "–"
    if measure == "status_json":
        value = result.get("status_json_ms")
        return f"{value:.1f}" if value else "–"
    return "–"


MEASURES = [("start", "start-all, ms: median [min–max]"),
            ("restart", "restart after SIGKILL, median ms"),
            ("p99", "restart after SIGKILL, p99 ms"),
            ("stop", "stop-all, ms: median [min–max]"),
            ("idle", "idle: CPU-s / context switches"),
            ("memory", "supervisor RSS / PSS, MiB"),
            ("rtt", "`status` round trips/s, one connection (floor: echo server)"),
            ("pipelined", "`status` requests/s, one connection, 64 in flight"),
            ("status_json", "`armctl --json status`, ms")]


def table(results):
    out = []
    for n, row in results["sizes"].items():
        present = [(key, label) for key, label in SYSTEMS if key in row]
        out.append(f"### N = {n}\n")
        out.append("| measure | " + " | ".join(label for _, label in present) + " |")
        out.append("|---|" + "---|" * len(present))
        for measure, label in MEASURES:
            cells = [_cell(measure, key, row) for key, _ in present]
            if all(c == "–" for c in cells):
                continue
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    sizes = [n for n in results["sizes"] if "armd" in results["sizes"][n]]
    if len(sizes) >= 2:
        small, large = sizes[-2], sizes[-1]
        grow = (results["sizes"][large]["armd"]["memory_kib"]["rss"] -
                results["sizes"][small]["armd"]["memory_kib"]["rss"]) * 1024
        out.append(f"armd bytes per additional service (RSS, N={small} → {large}): "
                   f"{grow / (int(large) - int(small)):.0f}\n")
        first = results["sizes"][sizes[0]]
        last = results["sizes"][sizes[-1]]
        if first["armd"].get("restart") and last["armd"].get("restart"):
            out.append(f"armd restart median at N={sizes[-1]} over N={sizes[0]}: "
                       f"{last['armd']['restart']['median_ms'] / first['armd']['restart']['median_ms']:.2f}×\n")
    embedding = results.get("embedding")
    if embedding:
        out.append("### Embedding: spawn until the child executes, from a host of 10 MiB and "
                   "of 4 GiB touched memory (median ms)\n")
        out.append("| spawner | 10 MiB host | 4 GiB host | 4 GiB / 10 MiB |")
        out.append("|---|---|---|---|")
        for kind, label in (("libarm", "libarm PosixSpawner"),
                            ("posix_spawn", "glibc posix_spawn"), ("fork", "fork + exec")):
            small, large = embedding["10"][kind]["median_ms"], embedding["4096"][kind]["median_ms"]
            out.append(f"| {label} | {small:.3f} | {large:.3f} | {large / small:.2f}× |")
        out.append("")
    core = results.get("core")
    if core:
        out.append("### The pure core under a do-nothing spawner (Google Benchmark, median)\n")
        if "note" in core:
            out.append(core["note"] + "\n")
        else:
            out.append("| benchmark | inputs per second |")
            out.append("|---|---|")
            for name, bench in core.items():
                rate = bench.get("items_per_second")
                out.append(f"| `{name}` | {rate:,.0f} |" if rate else f"| `{name}` | – |")
            out.append("")
    for note in results.get("notes", []):
        out.append(f"Note: {note}.")
    return "\n".join(out) + "\n"


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    sizes = [n for n in results["sizes"]]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    panels = [("start-all (ms)", lambda r: r["start_all_ms"]["median"]),
              ("restart after SIGKILL, median (ms)",
               lambda r: r["restart"]["median_ms"] if r.get("restart") else None),
              ("stop-all (ms)", lambda r: r["stop_all_ms"]["median"])]
    for axis, (title, value) in zip(axes.flat, panels):
        present = [(key, label) for key, label in SYSTEMS
                   if any(key in results["sizes"][n] for n in sizes)]
        width = 0.8 / len(present)
        for offset, (key, label) in enumerate(present):
            xs, ys = [], []
            for i, n in enumerate(sizes):
                r = results["sizes"][n].get(key)
                v = value(r) if r else None
                if v:
                    xs.append(i + offset * width)
                    ys.append(v)
            axis.bar(xs, ys, width, label=label)
        axis.set_yscale("log")
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(sizes))],
                        [f"N={n}" for n in sizes])
        axis.set_title(f"{title}, log scale, lower is better")
        axis.legend(fontsize=7)
    axis = axes.flat[3]
    embedding = results.get("embedding")
    if embedding:
        kinds = [("libarm", "libarm"), ("posix_spawn", "posix_spawn"), ("fork", "fork+exec")]
        for offset, host in enumerate(("10", "4096")):
            ys = [embedding[host][kind]["median_ms"] for kind, _ in kinds]
            axis.bar([i + offset * 0.4 for i in range(len(kinds))], ys, 0.4,
                     label="10 MiB host" if host == "10" else "4 GiB host")
        axis.set_xticks([i + 0.2 for i in range(len(kinds))], [label for _, label in kinds])
        axis.set_yscale("log")
        axis.set_title("spawn latency from an embedding host (ms, log scale)")
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
