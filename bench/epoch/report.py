#!/usr/bin/python3
"""Helpers of bench/epoch/run.sh (standard library only).

  report.py time OUT.json -- CMD ARGS...   run CMD (stdio inherited), write its wall, user
                                           and system seconds (the process and every child it
                                           waited for), exit status and /proc/loadavg before
                                           and after; exit with CMD's status
  report.py collect STORE DEST             copy the manifest.json and train_log.csv of every
                                           train artifact in STORE to DEST/<address>/
  report.py machine                        CPU model, flags, cores, versions as JSON
  report.py summary OUTDIR                 the Markdown tables of a run.sh output folder
"""
import glob
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cmd_time(out, cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    la0 = loadavg()
    t0 = time.perf_counter()
    rc = subprocess.call(cmd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = {"cmd": cmd, "rc": rc, "wall_s": wall,
           "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
           "loadavg_before": la0, "loadavg_after": loadavg()}
    with open(out, "w") as f:
        json.dump(rec, f, indent=1)
    return rc


def cmd_collect(store, dest):
    n = 0
    for m in sorted(glob.glob(os.path.join(store, "??", "*", "manifest.json"))):
        with open(m) as f:
            man = json.load(f)
        if man.get("stage") not in ("train", "dataset"):
            continue
        d = os.path.join(dest, re.sub(r"[^A-Za-z0-9_.=-]", "_", man["addr"]))
        os.makedirs(d, exist_ok=True)
        for name in ("manifest.json", "train_log.csv", "log.txt"):
            src = os.path.join(os.path.dirname(m), name)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(d, name))
        n += 1
    if n == 0:
        sys.exit("report.py collect: no train or dataset artifact in %s" % store)


def cmd_machine():
    info = {"cpu": platform.processor(), "cores": os.cpu_count(), "flags": {}}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    with open("/proc/cpuinfo") as f:
        flags = set()
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    info["flags"] = {fl: fl in flags for fl in FLAGS}
    info["kernel"] = platform.release()
    json.dump(info, sys.stdout, indent=1)
    print()


# ---- summary ---------------------------------------------------------------------------


def load_json(p):
    with open(p) as f:
        return json.load(f)


def read_csv(p):
    with open(p) as f:
        lines = [l.rstrip("\n").split(",") for l in f if l.strip()]
    head = lines[0]
    return [dict(zip(head, r)) for r in lines[1:]]


def ref_epochs(p):
    """epoch.py's "key=value" lines: the epoch rows and the done line."""
    rows, done = [], None
    with open(p) as f:
        for line in f:
            kv = dict(t.split("=", 1) for t in line.split() if "=" in t)
            if line.startswith("epoch="):
                rows.append(kv)
            elif line.startswith("done "):
                done = kv
    return rows, done


def iso(s):
    """RFC 3339 with nanoseconds (Go's time.RFC3339Nano) to seconds since the epoch; Python
    parses at most microseconds, so the fraction is cut to 6 digits."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    if not m:
        raise ValueError("report.py: bad timestamp %r in a manifest" % s)
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + "." + (m.group(2) or "0")[:6].ljust(6, "0") + tz)


def node_span(man):
    p = man["provenance"]
    return iso(p["start"]).timestamp(), iso(p["end"]).timestamp()


def dataset_seconds(d):
    """The dataset node's run time (listing, digest, decoding every image once), or None."""
    for m in glob.glob(os.path.join(d, "nodes", "*", "manifest.json")):
        man = load_json(m)
        if man["stage"] == "dataset":
            s, e = node_span(man)
            return e - s
    return None


def dmlrun_nodes(d):
    """Per train node: address, train_log rows, start/end and threads from its manifest."""
    out = []
    for nd in sorted(glob.glob(os.path.join(d, "nodes", "*"))):
        man = load_json(os.path.join(nd, "manifest.json"))
        if man["stage"] != "train":
            continue
        s, e = node_span(man)
        out.append({"addr": man["addr"], "seed": man["params"].get("seed"), "loss": man["params"]["loss"]["kind"],
                    "rows": read_csv(os.path.join(nd, "train_log.csv")), "start": s, "end": e,
                    "threads": man["provenance"].get("threads")})
    return out


def fmt(v, nd=2):
    return "-" if v is None else ("%.*f" % (nd, v))


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def spread(vals, nd=2):
    """min (min-max) of the rounds: the minimum is the least disturbed round."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, "-"
    lo, hi = min(vals), max(vals)
    if len(vals) == 1 or hi == lo:
        return lo, fmt(lo, nd)
    return lo, "%s (%s-%s)" % (fmt(lo, nd), fmt(lo, nd), fmt(hi, nd))


def epoch_round(rd):
    """The figures of one epoch-level round of each side, or None for a side that failed."""
    res = {}
    dm = os.path.join(rd, "dmlrun")
    t = load_json(os.path.join(dm, "time.json")) if os.path.exists(os.path.join(dm, "time.json")) else None
    nodes = dmlrun_nodes(dm) if t and t["rc"] == 0 else []
    if nodes:
        n = nodes[0]
        secs = [float(r["seconds"]) for r in n["rows"]]
        node_s = n["end"] - n["start"]
        # eval_seconds: train version 5 and later (empty on epochs without evaluation).
        evals = [float(r["eval_seconds"]) for r in n["rows"] if r.get("eval_seconds")]
        res["dmlrun"] = {"epochs": secs, "train_mean": statistics.mean(secs), "node_s": node_s,
                         "eval_mean": statistics.mean(evals) if evals else None, "dataset_s": dataset_seconds(dm),
                         "other_s": node_s - sum(secs), "wall_s": t["wall_s"], "cpu_s": t["user_s"] + t["sys_s"],
                         "recall": float(n["rows"][-1].get("test_e_recall@1") or "nan"),
                         "nmi": float(n["rows"][-1].get("test_nmi") or "nan"), "load": t["loadavg_before"]}
    rf = os.path.join(rd, "ref")
    t = load_json(os.path.join(rf, "time.json")) if os.path.exists(os.path.join(rf, "time.json")) else None
    if t and t["rc"] == 0:
        rows, done = ref_epochs(os.path.join(rf, "out.txt"))
        secs = [float(r["train_s"]) for r in rows]
        total = float(done["total_s"])
        res["ref"] = {"epochs": secs, "train_mean": statistics.mean(secs), "node_s": total,
                      "eval_mean": statistics.mean(float(r["eval_s"]) for r in rows), "dataset_s": None,
                      "other_s": total - sum(secs), "wall_s": t["wall_s"], "cpu_s": t["user_s"] + t["sys_s"],
                      "recall": float(rows[-1]["recall@1"]), "nmi": float(rows[-1]["nmi"]), "load": t["loadavg_before"]}
    return res


def precision_order(ac):
    return (ac != "none", ac)


def last_error(path):
    """The last line of a failed run's log that says what went wrong, for the table."""
    try:
        with open(path) as f:
            lines = [l.strip() for l in f if l.strip()]
    except OSError:
        return "(no log)"
    errs = [l for l in lines if l.startswith("Error") or "Error:" in l or "error" in l.lower()]
    return (errs or lines or ["(empty log)"])[-1].replace("|", "/")[:200]


def summary_epoch(out):
    base = os.path.join(out, "epoch")
    if not os.path.isdir(base):
        return
    print("### Epoch level: `dmlrun apply bench/epoch/epoch.hcl` vs `bench/epoch/epoch.py`\n")
    print("Minimum over the rounds, with the range in brackets; the ratio is of the minima.\n")
    print("| autocast | measure | dmlrun | reference | dmlrun / reference |")
    print("|---|---|---:|---:|---:|")
    best = {}  # (autocast, side) -> minimum over rounds of the mean train s / epoch
    for ac in sorted(os.listdir(base), key=precision_order):
        rds = sorted(glob.glob(os.path.join(base, ac, "r*")))
        rounds = [epoch_round(rd) for rd in rds]
        dm = [r["dmlrun"] for r in rounds if "dmlrun" in r]
        rf = [r["ref"] for r in rounds if "ref" in r]
        if not dm and not rf:
            print("| %s | (both sides failed in every round) | | | |" % ac)
            continue
        n_ep = min(len(x[0]["epochs"]) for x in (dm, rf) if x)
        measures = [("train s, epoch %d" % e, lambda x, e=e: x["epochs"][e], 2) for e in range(n_ep)]
        measures += [
            ("train s / epoch (mean)", lambda x: x["train_mean"], 2),
            ("evaluation s / epoch (dmlrun: eval_seconds)", lambda x: x["eval_mean"], 2),
            ("rest of the run s (evaluations, set-up, checkpoints)", lambda x: x["other_s"], 2),
            ("dataset node s (dmlrun: list, digest, decode once)", lambda x: x["dataset_s"], 2),
            ("in-process s (train node / epoch.py main)", lambda x: x["node_s"], 2),
            ("process wall s (dmlrun apply / python3 epoch.py)", lambda x: x["wall_s"], 2),
            ("process CPU s (user + sys)", lambda x: x["cpu_s"], 2),
            ("test Recall@1, last epoch", lambda x: x["recall"], 4),
            ("test NMI, last epoch", lambda x: x["nmi"], 4),
        ]
        for name, f, nd in measures:
            a, sa = spread([f(x) for x in dm if len(x["epochs"]) >= n_ep], nd)
            b, sb = spread([f(x) for x in rf if len(x["epochs"]) >= n_ep], nd)
            r = ratio(a, b) if nd == 2 else None
            print("| %s | %s | %s | %s | %s |" % (ac, name, sa, sb, fmt(r) if r is not None else ""))
            if name == "train s / epoch (mean)":
                best[(ac, "dmlrun")], best[(ac, "reference")] = a, b
        print("| %s | rounds ok (dmlrun, reference) / load before each | %d, %d | %s | |"
              % (ac, len(dm), len(rf), "; ".join(x["load"] for x in dm + rf)))
        for rd, r in zip(rds, rounds):
            for side, f in (("dmlrun", "dmlrun/apply.log"), ("ref", "ref/err.txt")):
                if side not in r:
                    print("| %s | %s failed in %s | %s | | |" % (ac, "dmlrun" if side == "dmlrun" else "reference",
                                                              os.path.basename(rd), last_error(os.path.join(rd, f))))
    print()
    others = sorted({ac for ac, _ in best if ac != "none"})
    if others and best.get(("none", "reference")):
        # The goal of issue 17 compares dmlrun with autocast against the original as it runs
        # on a CPU, in float32 (its use_float16 is CUDA autocast).
        print("Train s / epoch (mean, minimum over rounds) across precisions:\n")
        print("| ratio | value |")
        print("|---|---:|")
        for ac in others:
            for num, den in (((ac, "dmlrun"), ("none", "reference")), ((ac, "dmlrun"), ("none", "dmlrun")),
                             ((ac, "reference"), ("none", "reference"))):
                print("| %s %s / %s %s | %s |" % (num[1], num[0], den[1], den[0], fmt(ratio(best.get(num), best.get(den)))))
        print()


def max_overlap(nodes):
    ev = sorted([(n["start"], 1) for n in nodes] + [(n["end"], -1) for n in nodes])
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def summary_sweep(out):
    base = os.path.join(out, "sweep")
    if not os.path.isdir(base):
        return
    print("### Sweep level: `dmlrun apply -j J bench/epoch/sweep.hcl` vs 6 `epoch.py` runs one after another\n")
    print("| autocast | side | wall s | CPU s | dmlrun / reference (wall) | trains at once (max) | threads per train |")
    print("|---|---|---:|---:|---:|---:|---:|")
    recalls = {}
    for ac in sorted(os.listdir(base), key=precision_order):
        ref_wall = ref_cpu = None
        refs = sorted(glob.glob(os.path.join(base, ac, "ref", "*")))
        if refs:
            ts = [load_json(os.path.join(r, "time.json")) for r in refs if os.path.exists(os.path.join(r, "time.json"))]
            ok = [t for t in ts if t["rc"] == 0]
            if len(ok) == len(refs):
                ref_wall = sum(t["wall_s"] for t in ok)
                ref_cpu = sum(t["user_s"] + t["sys_s"] for t in ok)
            for r in refs:
                m = re.match(r"(\w+)-s(\d+)$", os.path.basename(r))
                if m and os.path.exists(os.path.join(r, "out.txt")):
                    rows, _ = ref_epochs(os.path.join(r, "out.txt"))
                    if rows:
                        recalls.setdefault((ac, "pa" if m.group(1) == "oproxy" else m.group(1), int(m.group(2))), {})["ref"] = \
                            (float(rows[-1]["recall@1"]), float(rows[-1]["nmi"]))
        for jd in sorted(glob.glob(os.path.join(base, ac, "j*")), key=lambda p: int(os.path.basename(p)[1:])):
            j = os.path.basename(jd)[1:]
            t = load_json(os.path.join(jd, "time.json"))
            nodes = dmlrun_nodes(jd) if os.path.isdir(os.path.join(jd, "nodes")) else []
            status = "" if t["rc"] == 0 else " (failed, rc %d)" % t["rc"]
            print("| %s | dmlrun -j %s%s | %s | %s | %s | %s | %s |" % (
                ac, j, status, fmt(t["wall_s"]), fmt(t["user_s"] + t["sys_s"]),
                fmt(ratio(t["wall_s"], ref_wall)) if t["rc"] == 0 else "",
                max_overlap(nodes) if nodes else "-", ",".join(sorted({str(n["threads"]) for n in nodes})) or "-"))
            for n in nodes:
                last = n["rows"][-1]
                recalls.setdefault((ac, n["addr"].split(".")[1].split("[")[0], n["seed"]), {})["j" + j] = \
                    (float(last.get("test_e_recall@1") or "nan"), float(last.get("test_nmi") or "nan"))
        if refs:
            print("| %s | reference, 6 runs in a row | %s | %s | | 1 | - |" % (ac, fmt(ref_wall), fmt(ref_cpu)))
    print()
    if not recalls:
        return
    cols = sorted({c for v in recalls.values() for c in v}, key=lambda c: (c != "ref", c))
    cols = [c for c in cols if c != "ref"] + ["ref"]
    print("Test Recall@1 / NMI after the last epoch, per seed (dmlrun at each -j; reference):\n")
    print("| autocast | loss | seed | " + " | ".join("dmlrun -j %s" % c[1:] if c != "ref" else "reference" for c in cols) + " |")
    print("|---|---|---:|" + "---:|" * len(cols))
    for (ac, loss) in sorted({(k[0], k[1]) for k in recalls}, key=lambda k: (precision_order(k[0]), k[1])):
        seeds = sorted(k[2] for k in recalls if k[:2] == (ac, loss))
        for seed in seeds:
            v = recalls[(ac, loss, seed)]
            print("| %s | %s | %s | " % (ac, loss, seed) + " | ".join(
                "%.4f / %.4f" % v[c] if c in v else "-" for c in cols) + " |")
        cells = []  # Recall@1 over the seeds: mean and sample standard deviation
        for c in cols:
            rs = [recalls[(ac, loss, s)][c][0] for s in seeds if c in recalls[(ac, loss, s)]]
            cells.append("%.4f ± %.4f" % (statistics.mean(rs), statistics.stdev(rs)) if len(rs) > 1 else "-")
        print("| %s | %s | Recall@1 mean ± sd | " % (ac, loss) + " | ".join(cells) + " |")
    print()


def summary(out):
    m = load_json(os.path.join(out, "machine.json"))
    settings = {}
    with open(os.path.join(out, "settings.txt")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                settings[k] = v
    up = {}
    for w in ("before", "after"):
        p = os.path.join(out, "uptime." + w)
        if os.path.exists(p):
            with open(p) as f:
                up[w] = f.read().strip()
    flags = ", ".join("%s %s" % (k, "yes" if v else "no") for k, v in m["flags"].items())
    print("## bench/epoch results\n")
    print("- Machine: %s, %d cores; %s; kernel %s" % (m["cpu"], m["cores"], flags, m["kernel"]))
    print("- Settings: " + ", ".join("%s=%s" % kv for kv in sorted(settings.items())))
    for w in ("before", "after"):
        if w in up:
            print("- `uptime` %s: %s" % (w, up[w]))
    print()
    summary_epoch(out)
    summary_sweep(out)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "time" and sys.argv[3] == "--":
        sys.exit(cmd_time(sys.argv[2], sys.argv[4:]))
    if len(sys.argv) == 4 and sys.argv[1] == "collect":
        return cmd_collect(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 2 and sys.argv[1] == "machine":
        return cmd_machine()
    if len(sys.argv) == 3 and sys.argv[1] == "summary":
        return summary(sys.argv[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
