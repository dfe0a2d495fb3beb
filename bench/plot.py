"""Plots and tables for docs/performance.md from the JSON in bench/results/.

Reads the newest api-*.json (bench/api.py), api-*-scale.json (bench/api.py --scale),
growth-*.json (bench/growth.py) and webhooks-*-scale.json (bench/webhooks.py --scale; a
table only), or the files given, and writes

  docs/images/perf-api.png     req/s per row, bare next to each openlinq target
  docs/images/perf-growth.png  GET message and page latency against stored messages
  docs/images/perf-scale.png   req/s against API processes, per dedicated-worker count

and prints the same figures as markdown tables with the machine. --write-doc also puts
those tables into docs/performance.md, between its "figures" markers. Missing inputs are
skipped. Matplotlib's Agg backend: no display, no network.

Run: .venv/bin/python bench/plot.py [--write-doc]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchlib import RESULTS, ROOT

IMAGES = ROOT / "docs" / "images"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
ROWS = ("send", "get", "page")
ROW_TITLES = {"send": "durable send", "get": "GET message", "page": "GET 20-message page"}


def newest(pattern: str, exclude: str | None = None) -> Path | None:
    found = sorted(
        p for p in RESULTS.glob(pattern) if exclude is None or not p.name.endswith(exclude)
    )
    return found[-1] if found else None


def load(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    report: dict[str, Any] = json.loads(path.read_text())
    shown = path.resolve()
    report.setdefault("file", str(shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown))
    return report


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    package = m.get("openlinq_package", "src/openlinq")
    source = "" if package == "src/openlinq" else f", openlinq from `{package}`"
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}, SQLite {m['sqlite']}, "
        f"commit {m['git_commit'] or '?'}{source}, load average "
        f"{m['load_average_at_start']:.2f} at start (`{report['file']}`)"
    )


def plot_api(report: dict[str, Any], out: Path) -> None:
    results = report["results"]
    targets = list(dict.fromkeys(r["target"] for r in results))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(targets)
    for t, target in enumerate(targets):
        rates = []
        for row in ROWS:
            match = [r for r in results if r["target"] == target and r["row"] == row]
            rates.append(match[0]["per_second"] if match else 0.0)
        xs = [i + (t - (len(targets) - 1) / 2) * width for i in range(len(ROWS))]
        bars = ax.bar(xs, rates, width, label=target)
        for bar, row in zip(bars, ROWS, strict=True):
            match = [r for r in results if r["target"] == target and r["row"] == row]
            ratio = match[0]["ratio_to_bare"] if match else None
            if ratio is not None:
                ax.annotate(
                    f"{ratio:.0%}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    ax.set_xticks(range(len(ROWS)), [ROW_TITLES[r] for r in ROWS])
    ax.set_ylabel("requests / s (wrk)")
    s = report["settings"]
    ax.set_title(
        f"openlinq next to a bare FastAPI app (% of bare), "
        f"wrk -t{s['threads']} -c{s['connections']}, {s['duration']} s"
    )
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def size_label(size: int) -> str:
    for unit, name in ((1_000_000, " M"), (1_000, " k")):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{name}"
    return f"{size:,}"


def plot_growth(report: dict[str, Any], out: Path) -> None:
    steps = report["steps"]
    sizes = [step["messages"] for step in steps]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    for ax, load_name in zip(axes, ("loaded", "low"), strict=True):
        connections = steps[0]["get"][load_name]["connections"]
        for row, style in (("get", "o"), ("page", "s")):
            for figure, line in (("p50_ms", "-"), ("p99_ms", "--")):
                ys = [step[row][load_name][figure] for step in steps]
                label = f"{ROW_TITLES[row]} {figure.removesuffix('_ms')}"
                ax.plot(sizes, ys, line, marker=style, label=label)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [size_label(size) for size in sizes])
        ax.minorticks_off()
        ax.set_xlabel("stored messages")
        ax.set_ylabel("latency, ms")
        ax.set_title(f"{connections} connection{'s' * (connections > 1)}")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Read latency as the table grows ({report['database']})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_scale(report: dict[str, Any], out: Path) -> None:
    results = report["results"]
    fig, axes = plt.subplots(1, len(ROWS), figsize=(12, 4))
    for ax, row in zip(axes, ROWS, strict=True):
        series: dict[str, list[tuple[int, float]]] = {}
        for r in results:
            if r["row"] != row:
                continue
            label = "bare" if r["kind"] == "bare" else f"openlinq, {r['worker']} worker(s)"
            series.setdefault(label, []).append((r["processes"], r["per_second"]))
        for label, points in series.items():
            points.sort()
            ax.plot([p for p, _ in points], [v for _, v in points], marker="o", label=label)
        ax.set_xticks([1, 2, 4])
        ax.set_xlabel("API processes")
        ax.set_ylabel("requests / s")
        ax.set_yscale("log")
        ax.set_title(ROW_TITLES[row])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Scale-out on PostgreSQL (same machine: processes share its cores)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def api_table(report: dict[str, Any]) -> str:
    lines = [
        "| target | row | req/s | p50 ms | p99 ms | server CPU | wrk CPU | of bare "
        "| at ½ peak: req/s | p50 ms | p99 ms | generator CPU |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report["results"]:
        o = r.get("open_loop") or {}
        ratio = "" if r["ratio_to_bare"] is None else f"{r['ratio_to_bare']:.1%}"
        cpu = r["server_cpu_pct"] + r["worker_cpu_pct"]
        half = (
            f"{o['achieved_per_second']:.0f} | {o['p50_ms']:.1f} | {o['p99_ms']:.1f} "
            f"| {o['generator_cpu_pct']:.0f} %"
            if o
            else " | | |"
        )
        lines.append(
            f"| {r['target']} | {ROW_TITLES[r['row']]} | {r['per_second']:.0f} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {cpu:.0f} % | {r['wrk_cpu_pct']:.0f} % "
            f"| {ratio} | {half} |"
        )
    for r in report["results"]:
        d = r.get("durability")
        if d:
            lines.append("")
            lines.append(
                f"{r['target']}: {d['accepted']} sends accepted, {d['found']} found through the "
                f"API afterwards, {d['missing']} missing."
            )
    return "\n".join(lines)


def growth_table(report: dict[str, Any]) -> str:
    lines = [
        "| stored messages | GET message p50 / p99 ms | (1 connection) "
        "| page p50 / p99 ms | (1 connection) |",
        "|--:|--:|--:|--:|--:|",
    ]
    for step in report["steps"]:
        cells = [
            f"{step[row][load]['p50_ms']:.1f} / {step[row][load]['p99_ms']:.1f}"
            for row in ("get", "page")
            for load in ("loaded", "low")
        ]
        lines.append(f"| {step['messages']:,} | " + " | ".join(cells) + " |")
    ratios = ", ".join(f"{k} {v}x" for k, v in report["ratios"].items())
    lines += ["", f"Largest over smallest: {ratios} (aim: at most 1.3x)."]
    direct = [
        f"{step['messages']:,}: GET message {step['sqlite']['get']['p50_us']:.0f} µs, "
        f"page {step['sqlite']['page']['p50_us']:.0f} µs"
        for step in report["steps"]
        if step.get("sqlite")
    ]
    if direct:
        lines += ["", "The same reads straight on the SQLite file, p50: " + "; ".join(direct) + "."]
        plans = {name: read["plan"] for name, read in report["steps"][-1]["sqlite"].items()}
        lines += [
            "",
            "Query plans: " + "; ".join(f"{k}: `{' / '.join(v)}`" for k, v in plans.items()),
        ]
    return "\n".join(lines)


def scale_table(report: dict[str, Any]) -> str:
    lines = [
        "| target | API processes | send req/s | GET req/s | page req/s | of bare (send) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    targets = list(dict.fromkeys(r["target"] for r in report["results"]))
    for target in targets:
        rows = {r["row"]: r for r in report["results"] if r["target"] == target}
        first = next(iter(rows.values()))
        send = rows.get("send")
        ratio = "" if not send or send["ratio_to_bare"] is None else f"{send['ratio_to_bare']:.1%}"
        rates = " | ".join(f"{rows[r]['per_second']:.0f}" if r in rows else "" for r in ROWS)
        lines.append(f"| {target} | {first['processes']} | {rates} | {ratio} |")
    return "\n".join(lines)


def markdown(sections: list[tuple[str, dict[str, Any], str]]) -> str:
    parts: list[str] = []
    for title, report, table in sections:
        parts += [f"### {title}", "", f"Machine: {machine_line(report)}", "", table, ""]
    return "\n".join(parts).rstrip() + "\n"


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{DOC} has no {START} ... {END} section")
    DOC.write_text(pattern.sub(lambda _: f"{START}\n{text}{END}", doc))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", type=Path, help="bench/api.py JSON (default: the newest)")
    parser.add_argument("--scale", type=Path, help="bench/api.py --scale JSON")
    parser.add_argument("--growth", type=Path, help="bench/growth.py JSON")
    parser.add_argument(
        "--webhooks-scale", type=Path, help="bench/webhooks.py --scale JSON (a table)"
    )
    parser.add_argument("--out", type=Path, default=IMAGES, help="where the PNGs go")
    parser.add_argument(
        "--write-doc", action="store_true", help="put the tables into docs/performance.md"
    )
    args = parser.parse_args()
    api = load(args.api or newest("api-*.json", exclude="-scale.json"))
    scale = load(args.scale or newest("api-*-scale.json"))
    growth = load(args.growth or newest("growth-*.json"))
    hooks = load(args.webhooks_scale or newest("webhooks-*-scale.json"))
    args.out.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, dict[str, Any], str]] = []
    if api:
        plot_api(api, args.out / "perf-api.png")
        sections.append(("openlinq next to a bare FastAPI app", api, api_table(api)))
    if growth:
        plot_growth(growth, args.out / "perf-growth.png")
        sections.append(("Read latency as the table grows", growth, growth_table(growth)))
    if scale:
        plot_scale(scale, args.out / "perf-scale.png")
        sections.append(("Scale-out on PostgreSQL", scale, scale_table(scale)))
    if hooks:
        from webhooks import scale_table as webhooks_table

        sections.append(("Webhooks, scaled out on PostgreSQL", hooks, webhooks_table(hooks)))
    if not sections:
        raise SystemExit("no results in bench/results/: run bench/api.py or bench/growth.py")
    text = markdown(sections)
    print(text)
    if args.write_doc:
        write_doc(text)
        print(f"wrote the tables into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
