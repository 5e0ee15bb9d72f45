#!/usr/bin/env python3
"""Assemble the device check's results file from its logs (scripts/device-check.sh).

Usage: python3 bench/device/results.py --out DIR --mode device|cpu --start EPOCH

Reads DIR/steps.tsv and DIR/logs/ (env.log, test-*.log from `go test -c` binaries run with
-test.v, bench-*.json with their nvidia-smi samples, apply*.{log,md,json}) and writes
DIR/results.json (the results file) and DIR/results.md (the same as tables). Standard
library only; safe to run after every step (missing logs are simply absent).
"""
import argparse
import datetime
import glob
import json
import os
import re
import sys

NOTES = [
    "Tolerances are derived from dtype and length (internal/tol): a sum of k float32 terms is "
    "within Sum(eps32, k) = k*2^-24 of sum|terms|; network outputs within tol.Layers or the "
    "per-layer bound stated in each row. CUDA convolutions may run in TF32 (cuDNN's default, "
    "torch.backends.cudnn.allow_tf32 = True; the shim cannot change it): their bounds carry "
    "u_conv = 2^-11 per operand. cuBLAS matmuls are full float32 by default.",
    "max_diff is the measured difference in the unit of its tolerance (absolute, or norm-wise "
    "relative where the tolerance says so); worst_ratio = max_diff / tolerance (elementwise "
    "maximum for elementwise bounds); a row passes at worst_ratio <= 1.",
    "Peak GPU memory: the shim exposes no allocator statistics (no "
    "torch.cuda.max_memory_allocated), so both sides are measured with nvidia-smi sampled "
    "every 100 ms: the largest per-process used_memory seen, and the largest rise of the "
    "device's memory.used over its value before the run. Both include the CUDA context. "
    "PyTorch's own max_memory_allocated / max_memory_reserved are reported beside them.",
]


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def parse_steps(out):
    rows = []
    text = read(os.path.join(out, "steps.tsv")) or ""
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) < 4:
            continue
        rows.append({"name": f[0], "status": f[1], "exit": f[2], "seconds": float(f[3] or 0),
                     "note": f[4] if len(f) > 4 else "", "log": "logs/%s.log" % f[0]})
    return rows


def parse_env(out):
    env = {}
    for line in (read(os.path.join(out, "logs", "env.log")) or "").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


RUN = re.compile(r"^=== (RUN|CONT|PAUSE|NAME)\s+(\S+)")
DONE = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)")
LOG = re.compile(r"^\s+\S+\.go:\d+: (.*)$")


def parse_gotest(text):
    """Tests with status, seconds and log lines, the parity records, and panics."""
    tests, parity, order, panics = {}, [], [], []
    cur = None
    for line in text.splitlines():
        m = RUN.match(line)
        if m:
            cur = m.group(2)
            if cur not in tests:
                tests[cur] = {"test": cur, "status": "RUNNING", "log": []}
                order.append(cur)
            continue
        m = DONE.match(line)
        if m:
            t = tests.setdefault(m.group(2), {"test": m.group(2), "log": []})
            if m.group(2) not in order:
                order.append(m.group(2))
            t["status"], t["seconds"] = m.group(1), float(m.group(3))
            continue
        m = LOG.match(line)
        if m and cur:
            msg = m.group(1)
            if msg.startswith("parity: "):
                try:
                    rec = json.loads(msg[len("parity: "):])
                    rec["go_test"] = cur
                    parity.append(rec)
                except ValueError:
                    tests[cur]["log"].append(msg)
            else:
                tests[cur]["log"].append(msg)
            continue
        if line.startswith("panic:") or line.startswith("fatal error:"):
            panics.append(line)
    out = []
    for name in order:
        t = tests[name]
        if t["status"] == "SKIP" and t["log"]:
            t["reason"] = t["log"][0]
        if t["status"] in ("PASS", "SKIP"):
            t["log"] = t["log"][:3]
        else:
            t["log"] = t["log"][:20]
        out.append(t)
    return out, parity, panics


def ints(path):
    vals = []
    for line in (read(path) or "").splitlines():
        try:
            vals.append(float(line.strip()))
        except ValueError:
            pass
    return vals


def parse_bench(out):
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "logs", "bench-*.json"))):
        tag = os.path.basename(path)[:-len(".json")]
        text = (read(path) or "").strip().splitlines()
        row = {"tag": tag}
        if text:
            try:
                row.update(json.loads(text[-1]))
            except ValueError:
                row["error"] = text[-1][:300]
        else:
            row["error"] = "no output (see logs/%s.log)" % tag
        base = ints(path[:-5] + ".smi-base")
        samples = ints(path[:-5] + ".smi")
        if samples:
            row["nvidia_smi_device_peak_rise_mib"] = max(samples) - (base[0] if base else min(samples))
            row["nvidia_smi_samples"] = len(samples)
        procs = {}
        for line in (read(path[:-5] + ".smi-apps") or "").splitlines():
            f = [x.strip() for x in line.split(",")]
            if len(f) == 2:
                try:
                    procs[f[0]] = max(procs.get(f[0], 0.0), float(f[1]))
                except ValueError:
                    pass
        if procs:
            row["nvidia_smi_process_peak_mib"] = max(procs.values())
        rows.append(row)
    return rows


def bench_table(rows):
    by = {}
    for r in rows:
        if "s_per_step" in r:
            by[(r.get("precision"), r.get("side"))] = r
    table = []
    for prec in ("fp32", "bf16", "f16"):
        d, p = by.get((prec, "dmlrun")), by.get((prec, "pytorch"))
        if not d and not p:
            continue
        e = {"precision": prec}
        for side, r in (("dmlrun", d), ("pytorch", p)):
            if r:
                e[side + "_s_per_step"] = r["s_per_step"]
                e[side + "_img_per_s"] = r["img_per_s"]
                for k in ("nvidia_smi_process_peak_mib", "nvidia_smi_device_peak_rise_mib", "max_memory_allocated_mib", "max_memory_reserved_mib"):
                    if k in r:
                        e[side + "_" + k] = r[k]
        if d and p:
            e["ratio_dmlrun_over_pytorch"] = d["s_per_step"] / p["s_per_step"]
            e["within_1.05"] = e["ratio_dmlrun_over_pytorch"] <= 1.05
        table.append(e)
    return table


def fmt(v, nd=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) < 1e-3 or abs(v) >= 1e5:
            return "%.3g" % v
        return ("%." + str(nd) + "g") % v
    return str(v)


def markdown(res):
    L = []
    env = res["environment"]
    L.append("# dmlrun device check (%s mode)" % res["mode"])
    L.append("")
    L.append("%s, %s s. %s; torch %s (%s); GPU: %s; %s; %s." % (
        env.get("date", "?"), fmt(res["elapsed_s"]), env.get("host", "?"), env.get("torch", "?"),
        env.get("python", "?"), env.get("gpu", env.get("nvidia_smi", "none")), env.get("glibc", "?"), env.get("gxx", "?")))
    if res["mode"] == "cpu":
        L.append("")
        L.append("CPU mode: the CUDA subtests skip and the benchmark runs at toy sizes; "
                 "these numbers only show that every path of the script runs. No GPU has run it yet.")
    L.append("")
    L.append("## Steps")
    L.append("")
    L.append("| step | status | seconds | log |")
    L.append("|---|---|---|---|")
    for s in res["steps"]:
        L.append("| %s | %s | %s | %s |" % (s["name"], s["status"] + ("" if s["status"] == "pass" else " (exit %s)" % s["exit"]),
                                            fmt(s["seconds"]), s["log"]))
    L.append("")
    L.append("## Tests")
    for b in res["tests"]:
        ran = [t for t in b["results"] if t.get("status") == "PASS"]
        sk = [t for t in b["results"] if t.get("status") == "SKIP"]
        fl = [t for t in b["results"] if t.get("status") not in ("PASS", "SKIP")]
        L.append("")
        L.append("**%s** (`-test.run '%s'`): %d passed, %d skipped, %d failed or unfinished." % (
            b["binary"], b["pattern"], len(ran), len(sk), len(fl)))
        L.append("")
        for t in ran:
            L.append("- pass: %s (%ss)" % (t["test"], fmt(t.get("seconds"))))
        for t in sk:
            L.append("- skip: %s: %s" % (t["test"], t.get("reason", "")))
        for t in fl:
            L.append("- **%s: %s**: %s" % (t.get("status", "?").lower(), t["test"], " / ".join(t.get("log", [])[:3])))
        for p in b.get("panics", []):
            L.append("- **%s**" % p)
    L.append("")
    L.append("## Parity (measured difference and its tolerance)")
    L.append("")
    L.append("| test | device | quantity | max_diff | tolerance | worst_ratio |")
    L.append("|---|---|---|---|---|---|")
    for p in res["parity"]:
        L.append("| %s | %s | %s | %s | %s | %s |" % (p.get("test"), p.get("device"), p.get("quantity"), fmt(p.get("max_diff")),
                                                    str(p.get("tolerance", "")).replace("|", "\\|"), fmt(p.get("worst_ratio"))))
    L.append("")
    L.append("## Step benchmark: ResNet50 frozen BN, oproxy, Adam, grad scaler")
    L.append("")
    if res["bench"]:
        r0 = res["bench"][0]
        L.append("batch %s, %s px, %s warm-up + %s timed steps, device %s." % (
            r0.get("batch"), r0.get("size"), r0.get("warmup"), r0.get("steps"), r0.get("device")))
        L.append("")
    L.append("| precision | dmlrun s/step | PyTorch s/step | dmlrun / PyTorch | dmlrun img/s | PyTorch img/s | "
             "dmlrun peak MiB (nvidia-smi process / device rise) | PyTorch peak MiB (nvidia-smi process / device rise) | PyTorch max allocated / reserved MiB |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for e in res["bench_table"]:
        def mem(side):
            return "%s / %s" % (fmt(e.get(side + "_nvidia_smi_process_peak_mib")), fmt(e.get(side + "_nvidia_smi_device_peak_rise_mib")))
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            e["precision"], fmt(e.get("dmlrun_s_per_step")), fmt(e.get("pytorch_s_per_step")),
            fmt(e.get("ratio_dmlrun_over_pytorch"), 3), fmt(e.get("dmlrun_img_per_s")), fmt(e.get("pytorch_img_per_s")),
            mem("dmlrun"), mem("pytorch"), fmt(e.get("pytorch_max_memory_allocated_mib")), fmt(e.get("pytorch_max_memory_reserved_mib"))))
    for r in res["bench"]:
        if "error" in r:
            L.append("")
            L.append("- %s: %s" % (r["tag"], r["error"]))
    settings = [r.get("settings") for r in res["bench"] if r.get("settings")]
    if settings:
        L.append("")
        L.append("PyTorch settings: %s; scaler: %s." % (json.dumps(settings[0]), res["bench"][0].get("scaler", "?")))
    L.append("")
    L.append("## dmlrun apply (bench/device/tiny.hcl)")
    L.append("")
    if res["apply"].get("table"):
        L.append(res["apply"]["table"].strip())
    else:
        L.append("(no report table)")
    L.append("")
    L.append("## Notes")
    L.append("")
    for n in res["notes"]:
        L.append("- " + n)
    L.append("")
    return "\n".join(L)


def summary(res):
    """A short text for stdout: steps, test counts, the worst parity ratio per test, benchmark."""
    L = ["device check (%s mode), %s s; full tables in results.md" % (res["mode"], fmt(res["elapsed_s"]))]
    for s in res["steps"]:
        L.append("  step %-20s %-8s %6ss%s" % (s["name"], s["status"], fmt(s["seconds"]), "" if s["status"] == "pass" else "  (exit %s, %s)" % (s["exit"], s["log"])))
    for b in res["tests"]:
        st = [t.get("status") for t in b["results"]]
        bad = [t["test"] for t in b["results"] if t.get("status") not in ("PASS", "SKIP")]
        L.append("  tests %-9s %d pass, %d skip, %d fail%s" % (b["binary"], st.count("PASS"), st.count("SKIP"), len(bad),
                                                             (": " + ", ".join(bad[:8])) if bad else ""))
    worst = {}
    for p in res["parity"]:
        k = (p.get("test", "?").split(" ")[0] + " " + p.get("test", "?").split(" ")[1] if " " in p.get("test", "") else p.get("test", "?"), p.get("device"))
        r = p.get("worst_ratio")
        if isinstance(r, (int, float)) and r >= worst.get(k, (-1, ""))[0]:
            worst[k] = (r, p.get("quantity"))
    for (t, d), (r, q) in sorted(worst.items()):
        L.append("  parity %-22s %-7s worst ratio %-8s (%s)%s" % (t, d, fmt(r, 3), q, "  EXCEEDED" if r > 1 else ""))
    for e in res["bench_table"]:
        L.append("  bench %-5s dmlrun %s s/step (%s img/s), PyTorch %s s/step (%s img/s), ratio %s; peak MiB (nvidia-smi process) %s vs %s" % (
            e["precision"], fmt(e.get("dmlrun_s_per_step")), fmt(e.get("dmlrun_img_per_s")), fmt(e.get("pytorch_s_per_step")),
            fmt(e.get("pytorch_img_per_s")), fmt(e.get("ratio_dmlrun_over_pytorch"), 3),
            fmt(e.get("dmlrun_nvidia_smi_process_peak_mib")), fmt(e.get("pytorch_nvidia_smi_process_peak_mib"))))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--summary", action="store_true", help="also print a short summary on stdout")
    a = ap.parse_args()
    out = a.out
    now = datetime.datetime.now(datetime.timezone.utc)
    res = {
        "mode": a.mode,
        "started": datetime.datetime.fromtimestamp(a.start, datetime.timezone.utc).isoformat(),
        "written": now.isoformat(),
        "elapsed_s": round(now.timestamp() - a.start, 1),
        "environment": parse_env(out),
        "steps": parse_steps(out),
        "tests": [], "parity": [], "bench": [], "bench_table": [], "apply": {}, "notes": list(NOTES),
    }
    patterns = {"torch": "CUDA|ParseDevice", "nir": "CUDA", "evaluate": "CUDA", "train": "CUDA"}
    for name, pat in patterns.items():
        text = read(os.path.join(out, "logs", "test-%s.log" % name))
        if text is None:
            continue
        tests, parity, panics = parse_gotest(text)
        res["tests"].append({"binary": name, "pattern": pat, "results": tests, "panics": panics})
        res["parity"].extend(parity)
    res["bench"] = parse_bench(out)
    res["bench_table"] = bench_table(res["bench"])
    table = read(os.path.join(out, "logs", "apply-table.md"))
    if table:
        res["apply"]["table"] = table
    for path in sorted(glob.glob(os.path.join(out, "logs", "apply-metrics-*.json"))):
        try:
            m = json.loads(read(path))
            res["apply"][os.path.basename(path)[len("apply-metrics-"):-5]] = m.get("metrics", m)
        except (ValueError, TypeError):
            pass
    if a.mode == "cpu":
        res["notes"].insert(0, "CPU mode: CUDA subtests skip with their reason; the benchmark runs at toy sizes "
                               "(batch 4, 32 px, 1 + 2 steps) on the CPU, so its ratio means nothing. No GPU has run this yet.")
    tmp = os.path.join(out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
    os.replace(tmp, os.path.join(out, "results.json"))
    with open(os.path.join(out, "results.md.tmp"), "w") as f:
        f.write(markdown(res))
    os.replace(os.path.join(out, "results.md.tmp"), os.path.join(out, "results.md"))
    if a.summary:
        sys.stdout.write(summary(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
