"""Draws the crowd benchmark's scaling chart from its summary.json (tests/bench/crowd.sh).

    python3 tests/bench/crowd_chart.py target/bench/crowd/summary.json docs/bench/crowd.png

Three panels against the crowd size: the server's frame p50/p99 with the 16 ms target, the
bytes each client receives a second (median, p99) with the 12 and 20 KB/s targets, and the
server's CPU. A dotted line on each grows in proportion to N from the first size, so where
a measure bends above it, its cost grows faster than N.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(summary, png):
    rows = sorted(json.load(open(summary)), key=lambda r: r["n"])
    n = [r["n"] for r in rows]

    def linear(values):
        return [values[0] * x / n[0] for x in n]

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    frame, down, cpu = axes

    p50 = [r["frame_p50_ms"] for r in rows]
    p99 = [r["frame_p99_ms"] for r in rows]
    frame.plot(n, p50, "o-", label="frame p50")
    frame.plot(n, p99, "o-", label="frame p99")
    frame.plot(n, linear(p99), ":", color="grey", label="p99 if linear in N")
    frame.axhline(16, color="red", linestyle="--", label="target p99 16 ms")
    frame.set_title("Server frame time")
    frame.set_ylabel("ms (log)")
    frame.set_yscale("log")

    median = [r["down_kb_s_median"] for r in rows]
    high = [r["down_kb_s_p99"] for r in rows]
    down.plot(n, median, "o-", label="median client")
    down.plot(n, high, "o-", label="p99 client")
    down.axhline(12, color="red", linestyle="--", label="target median 12 KB/s")
    down.axhline(20, color="darkred", linestyle=":", label="target p99 20 KB/s")
    down.set_title("Downstream per client")
    down.set_ylabel("KB/s")

    load = [r["server_cpu_percent"] for r in rows]
    cpu.plot(n, load, "o-", label="server CPU")
    cpu.plot(n, linear(load), ":", color="grey", label="if linear in N")
    cpu.axhline(100, color="red", linestyle="--", label="one core")
    cpu.set_title("Server CPU")
    cpu.set_ylabel("% of one core")

    for axis in axes:
        axis.set_xlabel("people in one place")
        axis.set_xticks(n)
        if axis.get_yscale() != "log":
            axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    profile = rows[0].get("profile", "?")
    fig.suptitle(
        f"A crowd on the capital's plaza: server on one core, bots on the other ({profile} build)"
    )
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
