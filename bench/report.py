"""Rewrite the results section of bench/README.md from the latest line of each results/<scenario>.jsonl.

    .venv/bin/python -m bench.report      (each scenario also does this when it finishes)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_DIR, RESULTS_DIR

README = BENCH_DIR / "README.md"
BEGIN = "<!-- results:begin (written by python -m bench.report) -->"
END = "<!-- results:end -->"
SCENARIOS = ("intake", "propagation", "stats", "streams")


def latest(scenario: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{scenario}.jsonl"
    if not path.exists():
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _context(result: dict[str, Any]) -> str:
    machine = result["machine"]
    quick = " **(quick smoke run)**" if result.get("quick") else ""
    return (f"{result['date']}, commit `{result['commit']}`, {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"{machine['cpu']}, load average (1 min) at the end {machine['load_1m']}{quick}")


def intake_section(result: dict[str, Any]) -> list[str]:
    lines = [
        "### intake", "", _context(result), "",
        "| rps (max sustained) | p50 ms | p99 ms | errors | p99 ms at 500/s | baseline rps | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {result['rps']:,.0f} | {_ms(result['p50_ms'])} | {_ms(result['p99_ms'])} | {result['errors']} | "
        f"{_ms(result['p99_ms_at_500'])} | {result['baseline_rps']:,.0f} | {result['ratio']} |", "",
        f"Sustained means: {result['sustained_rule']}. {result['duration_s']:.0f} s per rate.", "",
        "| system | offered/s | achieved/s | ok | errors | p50 ms | p95 ms | p99 ms | sustained |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for system, key in (("platform", "steps"), ("baseline", "baseline_steps")):
        for step in result[key]:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in step["error_kinds"].items())
            lines.append(f"| {system} | {step['offered_rps']:,.0f} | {step['achieved_rps']:,.0f} | {step['ok']:,} | "
                         f"{step['errors']:,}{f' ({kinds})' if kinds else ''} | {_ms(step['p50_ms'])} | "
                         f"{_ms(step['p95_ms'])} | {_ms(step['p99_ms'])} | {'yes' if step['sustained'] else 'no'} |")
    return [*lines, "", "![intake](results/intake.png)", ""]


def propagation_section(result: dict[str, Any]) -> list[str]:
    lines = [
        "### propagation", "", _context(result), "",
        "| rate | filed | filed/s | case list p50 ms | case list p99 ms | webhook p50 ms | webhook p99 ms | "
        "filing errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for step in result["steps"]:
        lines.append(f"| {step['rate']} | {step['filed']:,} | {step['filed_rps']:,.1f} | "
                     f"{_ms(step['visible_p50_ms'])} | {_ms(step['visible_p99_ms'])} | {_ms(step['webhook_p50_ms'])} | "
                     f"{_ms(step['webhook_p99_ms'])} | {step['filing_errors'] or '-'} |")
    return [*lines, "", f"Case list polled every {result['poll_interval_ms']:.0f} ms (adds at most that).", "",
            "![propagation](results/propagation.png)", ""]


def stats_section(result: dict[str, Any]) -> list[str]:
    lines = [
        "### stats", "", _context(result), "",
        "| cases | load s (rows added) | rebuild s | database | query | p50 ms | p95 ms | samples | via |",
        "| ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for size in result["sizes"]:
        for name, timing in size["queries"].items():
            rebuild = f"{size['rebuild_s']:,.0f}" if "rebuild_s" in size else "-"
            lines.append(f"| {size['cases']:,} | {size['load_s']:,.0f} | {rebuild} | {size['database_size']} | "
                         f"{name} | {_ms(timing['p50_ms'])} | {_ms(timing['p95_ms'])} | {timing.get('samples', '-')} | "
                         f"{timing.get('via', 'gateway')} |")
        lines.append(f"| {size['cases']:,} | | | | **headline** (median query's p50, slowest query's p95) | "
                     f"{_ms(size['p50_ms'])} | {_ms(size['p95_ms'])} | | |")
    return [*lines, "", "![stats](results/stats.png)", ""]


def streams_section(result: dict[str, Any]) -> list[str]:
    lines = [
        "### streams", "", _context(result), "",
        "| streams | opened in s | platform RSS MiB | RSS MiB per process | changes delivered | p50 ms | p99 ms | "
        "failures |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for entry in result["levels"]:
        per_process = ", ".join(f"{name} {value:,.0f}" for name, value in entry["rss_mib"].items())
        lines.append(f"| {entry['streams']:,} | {entry['opened_s']} | {entry['platform_rss_mib']:,.0f} | "
                     f"{per_process} | {entry['delivered']:,} | {_ms(entry['p50_ms'])} | {_ms(entry['p99_ms'])} | "
                     f"{entry['failures'] or '-'} |")
    return [*lines, "", "![streams](results/streams.png)", ""]


SECTIONS = {"intake": intake_section, "propagation": propagation_section, "stats": stats_section,
            "streams": streams_section}


def render() -> str:
    parts: list[str] = []
    for scenario in SCENARIOS:
        result = latest(scenario)
        parts += SECTIONS[scenario](result) if result else [f"### {scenario}", "", "(not run yet)", ""]
    return "\n".join(parts)


def update_readme() -> None:
    """Replace what lies between the markers; the rest of the README is left as written."""
    text = README.read_text(encoding="utf-8") if README.exists() else f"{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{BEGIN}\n{render()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    update_readme()
