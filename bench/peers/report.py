"""Markdown tables from the workers' JSON results, written into a marked section of a doc.

Only the text between ``<!-- peers:begin -->`` and ``<!-- peers:end -->`` is ever replaced; if
the markers are missing the section is appended, so other sections of the file are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peers.cases import Case, tolerance_macs
from bench.peers.tools import Tool

__all__ = ["BEGIN", "END", "Results", "accuracy_cell", "rel_error", "render", "write_section"]

BEGIN = "<!-- peers:begin -->"
END = "<!-- peers:end -->"
TITLE = "## Side by side with other counters (`bench/peers`)"


@dataclass
class Results:
    """Everything one run produced."""

    env: dict[str, Any]
    tools: list[Tool]
    cases: list[Case]
    data: dict[str, dict[str, Any]]  # tool name -> worker JSON

    def result(self, tool: str, case: str) -> dict[str, Any]:
        """The count used for accuracy: the real run, or the meta run of a meta-only case."""
        entry = self.data.get(tool, {}).get("cases", {}).get(case)
        if entry is None:
            return {"error": "not run"}
        return entry.get("real") or entry.get("meta") or {"error": "not run"}

    def meta(self, tool: str, case: str) -> dict[str, Any]:
        entry = self.data.get(tool, {}).get("cases", {}).get(case) or {}
        return entry.get("meta") or {"error": "not run"}

    def status(self, tool: str) -> str:
        return self.data.get(tool, {}).get("status", "not run")

    def runnable(self) -> list[Tool]:
        return [tool for tool in self.tools if self.status(tool.name) == "ok"]


# -- cells ----------------------------------------------------------------------------------------
def rel_error(value: int, reference: int) -> float:
    """(value − reference) / reference."""
    return (value - reference) / reference


def _pct(x: float) -> str:
    text = f"{x:+.2%}"
    return "0.00%" if text in ("+0.00%", "-0.00%") else text.replace("-", "−")


def accuracy_cell(case: Case, res: dict[str, Any]) -> tuple[str, bool | None]:
    """The relative error of one count and whether it is within tolerance (``None``: no count)."""
    if res.get("error"):
        return _error_label(case, res["error"]), None
    if res.get("macs") is None:
        return "—", None
    if case.ref_macs is None:
        return f"{res['macs'] / 1e9:.3f} G", None
    ok = abs(res["macs"] - case.ref_macs) <= tolerance_macs(case)
    return f"{_pct(rel_error(res['macs'], case.ref_macs))}{' ✓' if ok else ''}", ok


def _error_label(case: Case, error: str) -> str:
    if case.meta_only and not error.startswith("ran past"):
        return "no meta support"
    if error.startswith("ran past"):
        return "timed out"
    return "error"


def _params_cell(case: Case, res: dict[str, Any]) -> str:
    if res.get("error"):
        return _error_label(case, res["error"])
    if res.get("params") is None:
        return "—"
    if case.ref_params is None:
        return f"{res['params']:,}"
    if res["params"] == case.ref_params:
        return "exact ✓"
    return f"{res['params'] - case.ref_params:+,}".replace("-", "−")


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -- sections -------------------------------------------------------------------------------------
def _load(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f}"


def _header(r: Results) -> str:
    env = r.env
    versions = ", ".join(f"{t.name} {r.data.get(t.name, {}).get('version', '—')}"
                         for t in r.tools if t.name not in ("ptflops-aten", "FlopCounterMode"))
    work_s = sum(d.get("features_wall_s", 0.0) + sum(c.get("wall_s", 0.0)
                                                     for c in d.get("cases", {}).values())
                 for d in r.data.values())
    produced = (f"Produced by `{env['command']}` on {env['date']}. Measuring took "
                f"{work_s / 60:.1f} min (all tools and models, imports and installation not "
                f"included); the last invocation ran {env['runtime_s'] / 60:.1f} min (cached "
                f"results are reused).")
    machine = (f"- Machine: {env['cpu']}, {env['cores']} cores, {env['memory_gib']:.0f} GiB; "
               f"{env['platform']}; Python {env['python']}; one thread "
               f"(`torch.set_num_threads(1)`). The machine is shared: load average "
               f"{_load(env['load'][0])} when the run started, {_load(env['load'][1])} when the "
               f"tables were written (absolute times vary with it; the interleaved ratios much "
               f"less).")
    software = (f"- Versions: torch {env['torch']} (FlopCounterMode is torch's), torchvision "
                f"{env['torchvision']}, transformers {env['transformers']}; {versions}.")
    source = r.data.get("flopwise", {}).get("source", "unknown")
    return "\n".join([produced, "", machine, software, f"- flopwise measured at commit {source}."])


def _tools_table(r: Results) -> str:
    rows = []
    for tool in r.tools:
        status = r.status(tool.name)
        features = r.data.get(tool.name, {}).get("features", {})
        units = next((v for k, v in features.items() if k.startswith("units")), "—")
        rows.append([tool.name, r.data.get(tool.name, {}).get("version", "—"),
                     f"`{tool.call}`", tool.normalisation,
                     units if status == "ok" else status])
    return _table(["tool", "version", "call", "normalised to MACs by",
                   "check: one Linear(64→32), batch 4 = 8,192 MACs + 128 bias adds"], rows,
                  ["---"] * 5)


def _accuracy(r: Results) -> tuple[str, dict[str, tuple[int, int]]]:
    tools = r.runnable()
    rows, within = [], {t.name: [0, 0] for t in tools}
    for case in r.cases:
        row = [case.name, f"{case.ref_macs / 1e9:,.3f}" if case.ref_macs else "—"]
        for tool in tools:
            cell, ok = accuracy_cell(case, r.result(tool.name, case.name))
            row.append(cell)
            if case.ref_macs is not None:
                within[tool.name][1] += 1
                within[tool.name][0] += bool(ok)
        rows.append(row)
    rows.append(["**within tolerance**", ""] +
                [f"**{within[t.name][0]} / {within[t.name][1]}**" for t in tools])
    table = _table(["model", "reference GMACs"] + [t.name for t in tools], rows)
    return table, {name: (a, b) for name, (a, b) in within.items()}


def _params(r: Results) -> str:
    tools = r.runnable()
    rows = [[c.name, f"{c.ref_params:,}" if c.ref_params else "—"] +
            [_params_cell(c, r.result(t.name, c.name)) for t in tools] for c in r.cases]
    return _table(["model", "reference params"] + [t.name for t in tools], rows)


def _speed(r: Results) -> tuple[str, list[tuple[str, float, str, float]]]:
    tools = r.runnable()
    rows, versus = [], []
    for case in r.cases:
        if case.meta_only:
            continue
        fw = r.result("flopwise", case.name)
        ratios: dict[str, float | None] = {t.name: r.result(t.name, case.name).get("ratio")
                                           for t in tools}
        peer_ratios = {n: x for n, x in ratios.items() if x is not None and n != "flopwise"}
        best = min(peer_ratios, key=peer_ratios.__getitem__) if peer_ratios else None
        fw_ratio = ratios.get("flopwise")
        vs = None
        if best is not None and fw_ratio is not None:
            vs = fw_ratio / peer_ratios[best]
            versus.append((case.name, fw_ratio, best, vs))
        fw_meta = r.meta("flopwise", case.name).get("count_s")
        meta_ratio = fw_meta / fw["forward_s"] if fw_meta and fw.get("forward_s") else None
        rows.append([case.name, f"{fw.get('forward_s', float('nan')) * 1e3:,.0f}"]
                    + [_ratio(ratios[t.name]) for t in tools]
                    + [f"{best} {_ratio(peer_ratios[best])}" if best else "—",
                       f"**{_ratio(vs)}**", _ratio(meta_ratio)])
    header = (["model", "forward ms"] + [t.name for t in tools]
              + ["fastest peer", "flopwise ÷ fastest peer", "flopwise on meta"])
    return _table(header, rows), versus


def _meta(r: Results) -> str:
    tools = r.runnable()
    rows = []
    for case in r.cases:
        row = [case.name]
        for tool in tools:
            meta = r.meta(tool.name, case.name)
            if meta.get("error"):
                row.append("timed out" if meta["error"].startswith("ran past") else "no")
                continue
            cell = f"{meta['count_s']:.2f} s"
            if case.ref_macs and meta.get("macs") is not None:
                ok = abs(meta["macs"] - case.ref_macs) <= tolerance_macs(case)
                cell += f" ({_pct(rel_error(meta['macs'], case.ref_macs))}{' ✓' if ok else ''})"
            row.append(cell)
        rows.append(row)
    return _table(["model"] + [t.name for t in tools], rows)


def _memory(r: Results) -> str:
    tools = r.runnable()
    rows = []
    for case in r.cases:
        if case.meta_only:
            continue
        cells = []
        for tool in tools:
            peak = r.result(tool.name, case.name).get("py_peak_bytes")
            cells.append("—" if peak is None else f"{peak / 2**20:,.1f}")
        rows.append([case.name] + cells)
    return _table(["model"] + [f"{t.name} MiB" for t in tools], rows)


def _features(r: Results) -> str:
    tools = r.runnable()
    keys: list[str] = []
    for tool in tools:
        for key in r.data[tool.name].get("features", {}):
            if key not in keys and not key.startswith("units"):
                keys.append(key)
    meta_cell = {t.name: _meta_support(r, t.name) for t in tools}
    rows = [[t.name] + [r.data[t.name].get("features", {}).get(k, "—") for k in keys]
            + [meta_cell[t.name]] for t in tools]
    return _table(["tool"] + keys + ["meta device"], rows, ["---"] * (len(keys) + 2))


def _meta_support(r: Results, tool: str) -> str:
    results = [r.meta(tool, c.name) for c in r.cases]
    ok = sum(1 for m in results if not m.get("error"))
    errors = [m["error"] for m in results if m.get("error")]
    if not errors:
        return f"yes ({ok} / {len(results)} models)"
    first = errors[0]
    return f"{'yes' if ok else 'no'} ({ok} / {len(results)} models; e.g. “{first[:90]}”)"


def _errors(r: Results) -> str:
    lines = []
    for tool in r.tools:
        status = r.status(tool.name)
        if status != "ok":
            lines.append(f"- **{tool.name}**: {status}")
            continue
        seen: dict[str, list[str]] = {}
        for case in r.cases:
            for kind, res in (("real", r.result(tool.name, case.name)),
                              ("meta", r.meta(tool.name, case.name))):
                if res.get("error") and not (kind == "real" and case.meta_only):
                    seen.setdefault(res["error"], []).append(f"{case.name} ({kind})")
        for error, where in seen.items():
            lines.append(f"- **{tool.name}** on {', '.join(dict.fromkeys(where))}: `{error}`")
    return "\n".join(lines) if lines else "None."


def _flopwise_worst(r: Results) -> tuple[str, float, int, int, float] | None:
    """flopwise's largest relative deviation: (model, error, count, reference, tolerance)."""
    worst = None
    for case in r.cases:
        res = r.result("flopwise", case.name)
        if case.ref_macs and res.get("macs") is not None and not res.get("error"):
            err = rel_error(res["macs"], case.ref_macs)
            if worst is None or abs(err) > abs(worst[1]):
                worst = (case.name, err, res["macs"], case.ref_macs, tolerance_macs(case))
    return worst


def _summary(r: Results, within: dict[str, tuple[int, int]],
             versus: list[tuple[str, float, str, float]]) -> str:
    lines = ["**Summary.** Models within tolerance of the reference (0.5 %, or the published "
             "figure's rounding), per tool: "
             + ", ".join(f"{name} {a}/{b}" for name, (a, b) in within.items()) + "."]
    worst = _flopwise_worst(r)
    if worst:
        name, err, count, ref, tol = worst
        inside = "inside" if abs(count - ref) <= tol else "OUTSIDE"
        lines.append(f"flopwise's largest deviation: {name}, {count:,} MACs against {ref:,} "
                     f"({_pct(err)}; {count - ref:+,} MACs, {inside} the tolerance of "
                     f"±{tol:,.0f}).".replace("-", "−"))
    if versus:
        faster = sum(1 for *_, vs in versus if vs <= 1.0)
        median = sorted(v for *_, v in versus)[len(versus) // 2]
        lines.append(f"flopwise's counting call is as fast as or faster than the fastest peer on "
                     f"{faster} of {len(versus)} models; median flopwise ÷ fastest peer "
                     f"{median:.2f}× (the fastest peer differs from model to model).")
    return " ".join(lines)


METHOD = """\
How to read these tables:

- **Reference.** torchvision models: the published `weights.meta["_ops"]` (GMACs of
  convolutions, linear layers and matmuls at the weights' evaluation crop) of each model's
  `DEFAULT` weights, built with `weights=None` and the architecture arguments those weights
  imply. The published figure has three decimals, so a count is *within tolerance* when
  |count − ref| ≤ max(0.5 % · ref, 0.0005 G); the rounding term only matters below 0.1 GMACs
  (here: mobilenet_v3_small). Other models: hand formulas in `bench/peers/cases.py`
  (`lstm_macs`, `gpt2_macs`, `bert_macs`, `llama_macs`, each derived in its docstring), within
  0.5 %. GPT-2 and BERT: one sequence of 64 tokens; Llama-2: 2,048 tokens, on the meta device
  only (no weights are allocated); LSTM: 2 layers 256→512, 64 steps, batch 8.
- **MACs.** Every tool's output is normalised to MACs (1 multiply-add = 1) as the first table
  says, and checked on one `Linear` layer. A tool that also counts bias adds, normalisation,
  activations or pooling is *not* wrong by its own rules, but it measures something else than
  the reference; the deviation shows how much. Every call runs under `torch.no_grad()`, as
  inference does: there `nn.MultiheadAttention` (ViT) takes torch's fused fast path
  (`aten._native_multi_head_attention`), which a tool must see to count the attention.
- **Speed.** Time of the counting call ÷ time of one plain forward pass of the same model in the
  same process (both under `torch.no_grad()`, one thread, real CPU tensors), the median of 3–5
  interleaved rounds after one warm-up. "flopwise on meta": flopwise counting the same model
  built on the meta device ÷ the real forward pass. Each tool runs in its own process.
- **Memory.** Peak of Python allocations during one counting call, from `tracemalloc` (one call
  per model, apart from the timed ones). Chosen because it is per call, so every model of a
  tool runs in one process (`ru_maxrss` would need a fresh process per tool and model, most of
  whose time would go on importing torch and the tool), and because it isolates what the tool
  itself keeps from the model's tensors, which every tool allocates alike. It does not see C++
  allocations (tensor storage, TorchScript graphs of fvcore and torchprofile).
- **Features** are found by running each tool on a probe model (see `bench/peers/features.py`):
  its printed, logged, warned and returned output is searched; side effects are the differences
  of the model's state (keys, buffers, attributes, hooks, flags, gradients, values) and of torch
  globals before and after the tool's most detailed call."""


def render(r: Results) -> str:
    """The whole generated section (between the markers)."""
    accuracy, within = _accuracy(r)
    speed, versus = _speed(r)
    parts = [
        _header(r), "", _summary(r, within, versus), "", METHOD, "",
        "### Tools and how their numbers become MACs", "", _tools_table(r), "",
        "### Accuracy: MACs against the reference (relative error; ✓ within tolerance)", "",
        accuracy, "",
        "### Parameters (difference from the reference; — not reported)", "", _params(r), "",
        "### Speed: counting call ÷ one forward pass", "", speed, "",
        "### Meta device: counting time (and error against the reference)", "",
        "`no`: the tool fails on meta tensors (its error is listed below).", "", _meta(r), "",
        "### Peak Python memory of one counting call (tracemalloc)", "", _memory(r), "",
        "### Features, checked by running", "", _features(r), "",
        "### Errors and tools that could not run", "", _errors(r),
    ]
    return "\n".join(parts)


def write_section(doc: Path, body: str) -> None:
    """Replace (or append) the marked section of ``doc``; everything else is kept."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{TITLE}\n\nReproduce: `bash bench/peers/run.sh` " \
               f"(details below).\n\n{block}\n"
    doc.write_text(text)
