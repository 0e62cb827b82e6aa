#!/usr/bin/python3
"""Plot podgym episode files to a PNG.

    /usr/bin/python3 examples/python/plot_episodes.py DATA_DIR/episodes -o episodes.png
    /usr/bin/python3 examples/python/plot_episodes.py a.csv b.csv --episode b.csv -o out.png

Three panels: the total reward of every episode (in the order of the files:
by run, vector, env and episode number), then for one episode (--episode;
default the last file) the pod count against the offered load, and the
latency, step by step.

The offered load is a column `offered_rps` when the episode file has one
(an observation field of that name in policies/observation.lua), else the
CPU demand the load puts on the pods, next_cpu_percent x next_pods / 100 in
pods' worth of CPU requests: on the simulated cluster the CPU use follows
the offered requests/s, so this is the load in the unit that scaling cares
about. Latency is avg_latency (and p99_latency when observed), in ms.

Needs Debian's python3-matplotlib and python3-pandas (for /usr/bin/python3).
"""
import argparse
import glob
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")                   # no display: files only
import matplotlib.pyplot as plt         # noqa: E402
import pandas as pd                     # noqa: E402


def natural(path):
    """A sort key that orders episode-10 after episode-9."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def episode_files(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            files += glob.glob(os.path.join(a, "**", "episode-*.csv"), recursive=True)
        else:
            files.append(a)
    return sorted(set(files), key=natural)


def read(path):
    """One episode file as a table (its # provenance line skipped)."""
    return pd.read_csv(path, comment="#")


def label(path):
    """env-<i>/episode-<n> or episode-<n>: what names an episode in a plot."""
    parts = path.split(os.sep)
    name = os.path.splitext(parts[-1])[0]
    return "%s/%s" % (parts[-2], name) if len(parts) > 1 and parts[-2].startswith("env-") else name


def plot(files, episode=None, out="episodes.png", title=None):
    """Render the three panels to out (PNG); returns out."""
    if not files:
        raise SystemExit("no episode files")
    tables = [(f, read(f)) for f in files]
    tables = [(f, t) for f, t in tables if len(t)]
    if not tables:
        raise SystemExit("the episode files hold no steps")
    ep_path = episode or tables[-1][0]
    ep = read(ep_path)
    fig, axes = plt.subplots(3, 1, figsize=(9, 10), constrained_layout=True)
    if title:
        fig.suptitle(title)

    ax = axes[0]
    totals = [t["reward"].sum() for _, t in tables]
    ax.plot(range(1, len(totals) + 1), totals, marker="o", color="tab:green")
    ax.set_xlabel("episode (files in order)")
    ax.set_ylabel("total reward")
    ax.set_title("reward per episode (%d episodes)" % len(totals))
    ax.grid(alpha=0.3)

    ax = axes[1]
    x = ep["step"]
    ax.step(x, ep["next_pods"], where="post", color="tab:blue", label="pods")
    ax.set_xlabel("step")
    ax.set_ylabel("pods", color="tab:blue")
    ax2 = ax.twinx()
    if "next_offered_rps" in ep:
        load, unit = ep["next_offered_rps"], "offered load (requests/s)"
    else:
        load, unit = ep["next_cpu_percent"].fillna(0) * ep["next_pods"].fillna(0) / 100.0, \
            "offered load (CPU demand, pods of requests)"
    ax2.plot(x, load, color="tab:orange", label=unit)
    ax2.set_ylabel(unit, color="tab:orange")
    ax.set_title("pods and offered load, %s" % label(ep_path))
    ax.grid(alpha=0.3)

    ax = axes[2]
    ax.plot(x, ep["avg_latency"], color="tab:red", label="avg latency")
    if "next_p99_latency" in ep:
        ax.plot(x, ep["next_p99_latency"], color="tab:purple", alpha=0.7, label="p99 latency")
    ax.set_xlabel("step")
    ax.set_ylabel("latency (ms)")
    ax.set_title("latency, %s" % label(ep_path))
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)

    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="episode files, or folders searched for episode-*.csv")
    ap.add_argument("--episode", help="the episode file of the per-step panels (default: the last)")
    ap.add_argument("-o", "--output", default="episodes.png")
    ap.add_argument("--title")
    a = ap.parse_args()
    files = episode_files(a.paths)
    print(plot(files, a.episode, a.output, a.title))


if __name__ == "__main__":
    sys.exit(main())
