"""Figures for reports and the leaderboard (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def pareto(points: list[dict], title: str, path: Path) -> Path:
    """Accuracy vs mean total tokens, one point per (run, method); the frontier is drawn."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for p in points:
        ax.scatter(p["tokens"], 100 * p["accuracy"], s=40)
        ax.annotate(p["label"], (p["tokens"], 100 * p["accuracy"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    frontier, best = [], -1.0
    for p in sorted(points, key=lambda q: (q["tokens"], -q["accuracy"])):
        if p["accuracy"] > best:
            frontier.append(p)
            best = p["accuracy"]
    if len(frontier) > 1:
        ax.plot([p["tokens"] for p in frontier], [100 * p["accuracy"] for p in frontier], "--", color="gray", lw=1)
    ax.set_xlabel("mean generated tokens per sample")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def token_histogram(method: list[float], baseline: list[float] | None, title: str, path: Path, labels=("method", "baseline")) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    bins = 20
    data = [method] + ([baseline] if baseline else [])
    ax.hist(data, bins=bins, label=list(labels[: len(data)]), alpha=0.8)
    ax.set_xlabel("generated tokens per sample")
    ax.set_ylabel("samples")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def probe_entropies(traces: list[dict], title: str, path: Path) -> Path:
    """Probe scores along the thinking of a few samples, with the cut marked."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for trace in traces:
        xs = [p["position"] for p in trace["probes"]]
        ys = [p["score"] if p.get("score") is not None else (sum(p["entropies"]) / len(p["entropies"])) for p in trace["probes"]]
        line = ax.plot(xs, ys, marker="o", ms=3, label=trace["label"])[0]
        if trace.get("cut_position") is not None:
            ax.axvline(trace["cut_position"], color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel("thinking tokens at the probe")
    ax.set_ylabel("probe score (entropy / confidence)")
    ax.set_title(title + " (dotted: cut)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
