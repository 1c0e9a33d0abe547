"""bench/results/<date>.{json,md}, latest.json and the lag plot of the steady-rate scenario."""
import json
import os
import subprocess

from .common import FIELDS


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def write_markdown(path, doc, plot_name):
    m = doc["machine"]
    lines = [f"# pg_duckpipe benchmark, {m['date']} ({m['mode']})", ""]
    if m["mode"] == "quick":
        lines += ["**Quick run (`make bench-quick`)**: sizes and durations are scaled down (see `sizes`); it shows "
                  "that every scenario works end to end, its figures are not the issue's measurements.", ""]
    lines += [f"Commit `{m['commit']}`, {m['cpus']} CPUs ({m['cpu_model']}), {m['mem_gb']} GB RAM, "
              f"load average {m['loadavg_start']} at the start and {m['loadavg_end']} at the end. "
              f"Took {m['duration_s'] / 60:.1f} min. Lag read via: {m.get('lag_via')}.", "",
              "PostgreSQL settings: " + ", ".join(f"`{k}={v}`" for k, v in m["pg_settings"].items()), "",
              "Sizes: " + ", ".join(f"`{k}={v}`" for k, v in m["sizes"].items()), "",
              "| scenario | " + " | ".join(FIELDS) + " |", "|---" * (len(FIELDS) + 1) + "|"]
    for name, figs in doc["scenarios"].items():
        lines.append(f"| {name} | " + " | ".join(fmt(figs.get(k)) for k in FIELDS) + " |")
    lines += ["", "Ratios: throughput over its baseline (COPY to /dev/null for snapshots, the faster pg_recvlogical "
              "for streaming), heap time over lake time for analytics. Definitions: bench/README.md.", ""]
    if plot_name:
        lines += [f"![lag over time, steady 10k rows/s]({plot_name})", ""]
    lines += ["## Details", ""]
    for name, det in doc["details"].items():
        lines.append(f"- **{name}**: " + ", ".join(f"{k}={fmt(v) if not isinstance(v, (list, dict)) else json.dumps(v)}"
                                                   for k, v in det.items()))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_plot(path, series, work):
    """Lag (ms) over time (s) of each steady-rate run, one line per runner and flush interval."""
    series = {k: v for k, v in series.items() if v}
    if not series:
        return False
    plots = []
    for name, points in sorted(series.items()):
        data = os.path.join(work, f"{name}.dat")
        with open(data, "w") as f:
            for t, lag in points:
                f.write(f"{t:.3f} {lag * 1000:.1f}\n")
        plots.append(f"'{data}' using 1:2 with lines title '{name}'")
    script = "\n".join([
        "set terminal pngcairo size 1000,500" if _has_cairo() else "set terminal png size 1000,500",
        f"set output '{path}'", "set title 'Lag (source commit to visible in the lake) at a steady 10k rows/s'",
        "set termoption noenhanced", "set xlabel 'seconds'", "set ylabel 'lag (ms)'", "set grid", "set key top left",
        "plot " + ", ".join(plots)])
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return True


def _has_cairo():
    out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (out.stdout + out.stderr)
