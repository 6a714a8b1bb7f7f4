"""Table 2's tables from the per-instance rows (:func:`.table2.per_instance_rows`).

* :func:`assemble`: the tidy summary, one row per (category, setting, method): median, mean and the
  bootstrap 95 % interval of the median Chamfer x 1000 in each frame, the median silhouette IoU, ``n``
  (instances evaluated, failures included), ``n_failed`` and ``n_skipped`` (instances the data stage
  skipped, not in ``n``). ``setting`` and ``method`` are ordered categoricals (the paper's column and row
  order: :data:`SETTINGS`, :data:`.table2.METHODS`).
* :func:`paired`: the methods are fitted on the same instances, so each claim is tested per instance: the
  median of the paired difference (method - baseline; < 0 means the method is better) with a paired
  bootstrap interval and the Wilcoxon signed-rank p-value (:func:`dist_core.metrics.paired_comparison`).
* :func:`document`: ``table2.md``, the paper's layout with the intervals and the paired marks, the claims,
  the oracle, the skipped instances, the priors and the protocol.
"""

from __future__ import annotations

import math

import numpy as np

from .. import metrics
from ..data.sparse import PAPER_LABELS
from .table2 import METHOD_LABELS, METHODS, RENDERER_METHODS, SETTINGS

__all__ = ["PAPER_TABLE2", "FRAMES", "COMPARISONS", "assemble", "paired", "skipped_frame", "markdown_table",
           "claims_markdown", "document"]

#: The paper's Table 2 (median Chamfer x 1000, first 200 test instances of ShapeNet), by (category, method);
#: the paper's "Ours" is the depth-only fit (``ours_depth``).
PAPER_TABLE2 = {
    ("sofa", "deepsdf"): (5.37, 5.56, 5.50, 5.93, 6.03, 7.63),
    ("sofa", "ours_depth"): (4.12, 5.75, 5.49, 5.72, 5.57, 6.95),
    ("sofa", "ours_mask"): (4.12, 3.98, 4.31, 3.98, 4.30, 4.94),
    ("plane", "deepsdf"): (3.71, 3.73, 4.29, 4.44, 4.40, 5.39),
    ("plane", "ours_depth"): (2.18, 4.08, 4.81, 4.44, 4.51, 5.30),
    ("plane", "ours_mask"): (2.18, 2.08, 2.62, 2.26, 2.55, 3.60),
    ("table", "deepsdf"): (12.93, 12.78, 11.67, 12.87, 13.76, 15.77),
    ("table", "ours_depth"): (5.37, 12.05, 11.42, 11.70, 13.76, 15.83),
    ("table", "ours_mask"): (5.37, 5.15, 5.16, 5.26, 6.33, 7.62),
}
#: Chamfer frames: the per-instance column of each, and how the tables name it.
FRAMES = {"normalized": "chamfer_normalized_x1000", "mesh": "chamfer_mesh_x1000"}
FRAME_LABELS = {"normalized": "normalised frame (DIST's evaluator)",
                "mesh": "mesh frame (DeepSDF's evaluate.py, x / scale - offset)"}
#: (method, baseline) pairs tested per instance: the paper's claims against DeepSDF, and each method's gap to
#: the prior's floor.
COMPARISONS = (("ours_mask", "deepsdf"), ("ours", "deepsdf"), ("ours_depth", "deepsdf"),
               ("ours_mask", "oracle"), ("ours", "oracle"), ("ours_depth", "oracle"), ("deepsdf", "oracle"))


def _ordered(values, order):
    import pandas as pd

    present = [v for v in dict.fromkeys(values) if isinstance(v, str)]  # NaN: a category without results
    categories = [v for v in order if v in present] + [v for v in present if v not in order]
    return pd.Categorical(values, categories=categories, ordered=True)


def assemble(rows, skipped=(), seed: int = 0, with_paper: bool = False):
    """The tidy Table 2 (see the module docstring); ``skipped`` are the rows of :func:`skipped_frame`.

    A method whose every run failed keeps its rows, with NaN statistics and ``n_failed == n``."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    skipped = pd.DataFrame(list(skipped), columns=["category", "instance", "file", "reason"])
    categories = list(dict.fromkeys(list(frame["category"]) if len(frame) else []))
    categories += [c for c in dict.fromkeys(skipped["category"]) if c not in categories]
    settings = list(_ordered(frame["setting"], SETTINGS).categories) if len(frame) else []
    methods = list(_ordered(frame["method"], METHODS).categories) if len(frame) else []
    out = []
    for category in categories:
        n_skipped = int((skipped["category"] == category).sum())
        for method in methods:
            for setting in settings:
                chosen = frame[(frame.category == category) & (frame.method == method) & (frame.setting == setting)]
                if chosen.empty:
                    continue
                ok = chosen[~chosen.failed.astype(bool)]
                row = {"category": category, "setting": setting, "method": method}
                for name, column in FRAMES.items():
                    s = metrics.summarize(ok[column].to_numpy(), seed=seed)
                    row.update({f"median_chamfer_{name}_x1000": s.median, f"mean_chamfer_{name}_x1000": s.mean,
                                f"ci95_low_chamfer_{name}_x1000": s.median_low,
                                f"ci95_high_chamfer_{name}_x1000": s.median_high})
                row.update({"median_silhouette_iou": float(ok["silhouette_iou"].median()) if len(ok) else math.nan,
                            "n": int(len(chosen)), "n_failed": int(len(chosen) - len(ok)), "n_skipped": n_skipped,
                            "seconds_per_step": float(chosen["seconds_per_step"].mean()),
                            "forward_queries_per_step": float(chosen["forward_queries_per_step"].mean())})
                if with_paper:
                    paper = PAPER_TABLE2.get((category, method))
                    row["paper_median_chamfer_x1000"] = (paper[SETTINGS.index(setting)]
                                                         if paper and setting in SETTINGS else math.nan)
                out.append(row)
        if n_skipped and not any(row["category"] == category for row in out):  # every instance skipped
            out.append({"category": category, "n": 0, "n_failed": 0, "n_skipped": n_skipped})
    table = pd.DataFrame(out)
    if len(table) and "setting" in table:
        table["setting"] = _ordered(table["setting"], SETTINGS)
        table["method"] = _ordered(table["method"], METHODS)
    return table


def paired(rows, comparisons=COMPARISONS, seed: int = 0):
    """``table2_paired.csv``: for each category x setting x (method, baseline) x frame, the paired comparison
    over the instances where both ran (failed fits left out): ``n_pairs``, ``median_difference_x1000``
    (method - baseline), ``ci95_low_x1000`` / ``ci95_high_x1000`` (paired bootstrap of that median),
    ``p_value`` (Wilcoxon signed-rank, two-sided), ``method_better`` / ``baseline_better`` (pairs each way),
    ``holds`` (median difference < 0) and ``holds_with_interval`` (the whole interval < 0)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    out = []
    if frame.empty:
        return pd.DataFrame(out)
    for category in dict.fromkeys(frame["category"]):
        for setting in _ordered(frame["setting"], SETTINGS).categories:
            here = frame[(frame.category == category) & (frame.setting == setting)]
            for method, baseline in comparisons:
                a, b = here[here.method == method], here[here.method == baseline]
                if a.empty or b.empty:
                    continue
                for name, column in FRAMES.items():
                    values = {m: x.set_index("instance")[column].where(~x.set_index("instance").failed.astype(bool))
                              for m, x in ((method, a), (baseline, b))}
                    instances = [i for i in values[method].index if i in values[baseline].index]
                    c = metrics.paired_comparison(values[method][instances].to_numpy(),
                                                  values[baseline][instances].to_numpy(), seed=seed)
                    out.append({"category": category, "setting": setting, "method": method, "baseline": baseline,
                                "frame": name, "n_pairs": c.count, "median_difference_x1000": c.median_difference,
                                "ci95_low_x1000": c.low, "ci95_high_x1000": c.high, "p_value": c.p_value,
                                "method_better": c.a_better, "baseline_better": c.b_better,
                                "holds": bool(c.count and c.median_difference < 0),
                                "holds_with_interval": bool(c.count and c.high < 0)})
    table = pd.DataFrame(out)
    if len(table):
        table["setting"] = _ordered(table["setting"], SETTINGS)
    return table


def skipped_frame(records):
    """``table2_skipped.csv`` from ``(category, instance, file, reason)`` records."""
    import pandas as pd

    return pd.DataFrame([dict(zip(("category", "instance", "file", "reason"), r)) for r in records],
                        columns=["category", "instance", "file", "reason"])


def _mark(pairs, category: str, setting: str, method: str, frame: str) -> str:
    """'‡' when the paired median difference against DeepSDF is < 0 with its interval below 0, '†' when only
    the median is, '' otherwise."""
    if pairs is None or not len(pairs) or method not in RENDERER_METHODS:
        return ""
    row = pairs[(pairs.category == category) & (pairs.setting == setting) & (pairs.method == method)
                & (pairs.baseline == "deepsdf") & (pairs.frame == frame)]
    if row.empty:
        return ""
    return "‡" if bool(row.iloc[0].holds_with_interval) else "†" if bool(row.iloc[0].holds) else ""


def markdown_table(table, frame: str = "normalized", pairs=None, with_paper: bool = False) -> str:
    """The paper's layout in one Chamfer frame: a block per category, a row per method, the settings as
    columns; each cell ``median [95 % interval]``, the paired mark against DeepSDF (:func:`_mark`), the failed
    count and, with ``with_paper``, the paper's value in brackets."""
    settings = [s for s in table["setting"].cat.categories if s in set(table["setting"])]
    header = "| | " + " | ".join(PAPER_LABELS.get(s, s) for s in settings) + " |"
    lines = [header, "|" + "---|" * (len(settings) + 1)]
    for category in dict.fromkeys(table["category"]):
        lines.append(f"| **{category}** |" + " |" * len(settings))
        for method in [m for m in table["method"].cat.categories if m in set(table["method"])]:
            cells = []
            for s in settings:
                row = table[(table.category == category) & (table.method == method) & (table.setting == s)]
                if row.empty:
                    cells.append("")
                    continue
                row = row.iloc[0]
                median = row[f"median_chamfer_{frame}_x1000"]
                if math.isnan(median):
                    cell = "all failed"
                else:
                    cell = (f"{median:.2f} [{row[f'ci95_low_chamfer_{frame}_x1000']:.2f}, "
                            f"{row[f'ci95_high_chamfer_{frame}_x1000']:.2f}]{_mark(pairs, category, s, method, frame)}")
                if row.n_failed:
                    cell += f" ({int(row.n_failed)} failed)"
                if with_paper and not math.isnan(row.get("paper_median_chamfer_x1000", math.nan)):
                    cell += f" ({row.paper_median_chamfer_x1000:.2f})"
                cells.append(cell)
            lines.append(f"| {METHOD_LABELS.get(method, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def claims_markdown(pairs, frame: str = "normalized") -> str:
    """The paper's claims cell by cell: each renderer method against DeepSDF, with the paired median
    difference, its interval, the Wilcoxon p-value and the pairs each way."""
    if pairs is None or not len(pairs):
        return "No paired comparison (a method is missing).\n"
    chosen = pairs[(pairs.baseline == "deepsdf") & (pairs.frame == frame)]
    lines = ["| category | setting | method | n | median difference x 1000 [95 % interval] | Wilcoxon p | better / worse | holds |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in chosen.sort_values(["category", "method", "setting"], key=_sort_key).iterrows():
        verdict = "yes, interval < 0" if r.holds_with_interval else "yes (median only)" if r.holds else "no"
        lines.append(f"| {r.category} | {PAPER_LABELS.get(r.setting, r.setting)} | {METHOD_LABELS.get(r.method, r.method)} | "
                     f"{r.n_pairs} | {r.median_difference_x1000:+.2f} [{r.ci95_low_x1000:+.2f}, {r.ci95_high_x1000:+.2f}] | "
                     f"{r.p_value:.3g} | {r.method_better} / {r.baseline_better} | {verdict} |")
    summary = []
    for method in [m for m in RENDERER_METHODS if m in set(chosen.method)]:
        m = chosen[chosen.method == method]
        summary.append(f"- {METHOD_LABELS[method]} < DeepSDF: {int(m.holds.sum())} of {len(m)} cells by the paired "
                       f"median, {int(m.holds_with_interval.sum())} with the 95 % interval below 0.")
    return "\n".join(summary) + "\n\n" + "\n".join(lines) + "\n"


def _sort_key(column):
    order = {"setting": SETTINGS, "method": METHODS}.get(column.name)
    if order is None:
        return column
    return column.map(lambda v: order.index(v) if v in order else len(order))


def document(table, pairs, skipped, priors: dict, protocol: list[str], instances: int,
             with_paper: bool = False) -> str:
    """``table2.md``: the tables in both frames, the claims, the oracle, the skipped instances, the priors
    (``{category: description line}``) and the protocol (one line per setting, e.g. what differs from
    DIST's code)."""
    paper = " Paper's value (first 200 ShapeNet test instances) in brackets." if with_paper else ""
    parts = [
        "# Table 2: shape completion from one depth image\n",
        f"Median Chamfer x 1000 over the first {instances} test instances per category, with the bootstrap 95 % "
        "interval of the median in square brackets. † the paired median difference against DeepSDF on the same "
        "instances is below 0 (the method is better); ‡ and its 95 % interval is below 0 too "
        f"(`table2_paired.csv`).{paper} The oracle row is the prior's own fit to the instance's complete SDF "
        "samples: the floor that any single-view method using this prior can reach.\n",
        f"## Normalised frame (DIST's evaluator)\n\n{markdown_table(table, 'normalized', pairs, with_paper)}",
        f"## Mesh frame (DeepSDF's evaluate.py)\n\n{markdown_table(table, 'mesh', pairs)}",
        f"## The paper's claims, per instance (normalised frame)\n\n{claims_markdown(pairs)}",
        _oracle_markdown(table),
        _skipped_markdown(table, skipped),
        "## Priors\n\n" + "\n".join(f"- {category}: {line}" for category, line in priors.items()) + "\n",
        "## Protocol\n\n" + "\n".join(f"- {line}" for line in protocol) + "\n",
    ]
    return "\n".join(p for p in parts if p)


def _oracle_markdown(table) -> str:
    if "oracle" not in set(table["method"]):
        return ""
    lines = ["## The prior's floor\n", "| category | oracle Chamfer x 1000 (normalised) [95 %] | oracle silhouette IoU | "
             "Ours (mask) silhouette IoU, dense | n |", "|---|---|---|---|---|"]
    for category in dict.fromkeys(table["category"]):
        here = table[table.category == category]
        oracle = here[here.method == "oracle"]
        if oracle.empty:
            continue
        o = oracle.iloc[0]
        mask = here[(here.method == "ours_mask") & (here.setting == "dense")]
        iou = f"{mask.iloc[0].median_silhouette_iou:.3f}" if len(mask) else ""
        lines.append(f"| {category} | {o.median_chamfer_normalized_x1000:.2f} [{o.ci95_low_chamfer_normalized_x1000:.2f}, "
                     f"{o.ci95_high_chamfer_normalized_x1000:.2f}] | {o.median_silhouette_iou:.3f} | {iou} | {int(o.n)} |")
    return "\n".join(lines) + "\n"


def _skipped_markdown(table, skipped) -> str:
    if skipped is None or not len(skipped):
        return "No instance was skipped.\n"
    lines = [f"## Skipped instances\n\n{len(skipped)} instance(s) skipped by the data stage and left out of every "
             "row above (`table2_skipped.csv`):\n"]
    lines += [f"- {r.category} {r.instance}: {r.reason}" for r in skipped.itertuples()]
    return "\n".join(lines) + "\n"


def protocol_lines(table2: dict, renderer: dict, resolution: int, instances: int) -> list[str]:
    """What the run did, each against DIST's public code / the paper where they differ (the config of
    ``config/paper.yaml`` follows them)."""
    ours, deepsdf = table2["ours"], table2["deepsdf"]
    checks = [
        ("input resolution", f"{resolution} px", "137 px (Choy et al.'s renderings)", resolution == 137),
        ("instances", f"first {instances} test instances per category", "first 200", instances >= 200),
        ("settings", ", ".join(table2["settings"]), "all six", len(table2["settings"]) == len(SETTINGS)),
        ("optimiser of ours", f"Adam, lr {ours.get('lr')}, {ours.get('iterations')} iterations",
         "lr 1e-3, 200 iterations (run_single_shape.py)", ours.get("lr") == 1e-3 and ours.get("iterations") == 200),
        ("depth-gradient samples per ray", str(renderer.get("grad_samples", 1)), "3 (--buffer_size)",
         renderer.get("grad_samples", 1) == 3),
        ("marching steps", str(renderer.get("max_steps")), "100 (run_single_shape.py's renderer)",
         renderer.get("max_steps") == 100),
        ("loss weights of ours", f"depth {ours.get('w_depth')}, mask {ours.get('w_mask_gt')} / {ours.get('w_mask_out')}, "
         f"normal {ours.get('w_normal', 0.0)}, l2 {ours.get('w_l2')} x mean(z^2)",
         "10, 1 / 1, normal 0 (paper eq. 5; run_single_shape.py adds 5 with GT normals), l2 1 x mean(z^2)",
         ours.get("w_depth") == 10 and ours.get("w_mask_gt") == 1 and ours.get("w_mask_out") == 1
         and not ours.get("w_normal", 0.0) and ours.get("w_l2") == 1),
        ("DeepSDF's samples", f"+-{deepsdf.get('offsets')} along the GT normal"
         + (" plus SDF-0 samples at the pixels" if deepsdf.get("surface_points") else ""),
         "+-eta along the GT normal only", not deepsdf.get("surface_points")),
        ("meshes for scoring", f"{table2['mesh_resolution']}^3", "256^3 (DIST, DeepSDF)", table2["mesh_resolution"] >= 256),
        ("points on each mesh", str(table2["chamfer_samples"]), "30,000", table2["chamfer_samples"] == 30000),
    ]
    return [f"{name}: {ours_value}" + ("" if same else f" (DIST / paper: {theirs})") for name, ours_value, theirs, same in checks]
