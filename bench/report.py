#!/usr/bin/env python3
"""Turns a lowbit_bench JSON run into a Markdown table, and optionally an SVG plot (gnuplot).

    lowbit_bench --benchmark_format=json --benchmark_out=run.json --benchmark_out_format=json ...
    python3 bench/report.py run.json [--svg docs/bench.svg] [--title "..."]

Table: one row per (backend, bits, group, types), one column per size; a cell is G output elements/s
and, in parentheses, the fraction of the store roofline measured in the same run: of memset for
cache-sized outputs, of non-temporal stores for outputs larger than 32 MiB.
Plot: throughput against output size, one line per bits value, for the active backend, group 64,
float->float and half->half.
"""
import argparse
import json
import re
import subprocess
import sys

NAME = re.compile(r"dequantize/(?P<backend>\w+)/b(?P<bits>\d)/g(?P<group>\d+)/(?P<types>[\w>-]+)/"
                  r"(?P<rows>\d+)x(?P<cols>\d+)(?P<rest>(/[\w]+)*)")
SIZE_BYTES = {"float->float": 4, "half->half": 2, "bfloat16->bfloat16": 2, "half->float": 4}


def load(path):
    with open(path) as f:
        run = json.load(f)
    rows = []
    for b in run["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        m = NAME.match(b["name"])
        if not m:
            continue
        rest = m.group("rest").replace("/real_time", "")
        rows.append(dict(backend=m.group("backend"), bits=int(m.group("bits")), group=int(m.group("group")),
                         types=m.group("types"), rows=int(m.group("rows")), cols=int(m.group("cols")),
                         variant=rest.strip("/"), items=b["items_per_second"] / 1e9,
                         of_memset=b.get("of_memset", 0), of_nt=b.get("of_nt", 0)))
    return run["context"], rows


def table(rows):
    sizes = sorted({(r["rows"], r["cols"]) for r in rows}, key=lambda s: s[0] * s[1])
    keys = sorted({(r["backend"], r["bits"], r["group"], r["types"]) for r in rows if not r["variant"]},
                  key=lambda k: (k[0] != "active", k[0], k[3], k[1], k[2]))
    out = ["| backend | bits | group | types | " + " | ".join("%dx%d" % s for s in sizes) + " |",
           "|---|---|---|---|" + "---|" * len(sizes)]
    for k in keys:
        cells = []
        for s in sizes:
            hit = [r for r in rows if (r["backend"], r["bits"], r["group"], r["types"]) == k and
                   (r["rows"], r["cols"]) == s and not r["variant"]]
            if not hit:
                cells.append("")
                continue
            r = hit[0]
            big = r["rows"] * r["cols"] * SIZE_BYTES.get(r["types"], 4) > (32 << 20)
            ratio = r["of_nt"] if big else r["of_memset"]
            cells.append("%.2f (%.2f %s)" % (r["items"], ratio, "nt" if big else "ms"))
        out.append("| %s | %d | %d | %s | " % k + " | ".join(cells) + " |")
    variants = [r for r in rows if r["variant"]]
    if variants:
        out += ["", "| variant | size | G elements/s | of memset | of nt |", "|---|---|---|---|---|"]
        for r in variants:
            out.append("| b%d g%d %s %s | %dx%d | %.2f | %.2f | %.2f |" % (
                r["bits"], r["group"], r["types"], r["variant"], r["rows"], r["cols"], r["items"],
                r["of_memset"], r["of_nt"]))
    return "\n".join(out)


def plot(rows, svg, title):
    lines = []
    data = []
    for types in ("float->float", "half->half"):
        for bits in sorted({r["bits"] for r in rows}):
            pts = sorted((r["rows"] * r["cols"] * SIZE_BYTES[types], r["items"]) for r in rows
                         if r["backend"] == "active" and r["group"] == 64 and r["types"] == types and
                         r["bits"] == bits and not r["variant"])
            if not pts:
                continue
            data.append("\n".join("%d %f" % p for p in pts) + "\ne")
            lines.append("'-' using 1:2 with linespoints title '%d-bit %s'" % (bits, types))
    script = "\n".join([
        "set terminal svg size 900,500 dynamic background rgb 'white'",
        "set output '%s'" % svg,
        "set title '%s'" % title.replace("'", ""),
        "set logscale x 2", "set xlabel 'output bytes'", "set ylabel 'G output elements / s'",
        "set key outside right", "set grid",
        "plot " + ", ".join(lines)] + data) + "\n"
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--svg")
    ap.add_argument("--title", default="lowbit dequantize throughput")
    a = ap.parse_args()
    context, rows = load(a.json)
    print("Machine: %s, %d CPUs at %s MHz; backend: %s\n" % (
        context.get("host_name", "?"), context.get("num_cpus", 0), context.get("mhz_per_cpu", "?"),
        context.get("lowbit_backend", "?")))
    print(table(rows))
    if a.svg:
        plot(rows, a.svg, a.title)


if __name__ == "__main__":
    sys.exit(main())
