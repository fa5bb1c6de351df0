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
SCENARIOS = ("intake", "propagation", "consumers", "stats", "streams", "replay", "soak")


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
    busy = ""
    if "busy_before_pct" in machine:
        busy = (f", CPU busy with other work before the run {machine['busy_before_pct']}% (stolen "
                f"{machine['steal_before_pct']}%), busy during it {machine['busy_during_pct']}% (stolen "
                f"{machine['steal_during_pct']}%)")
    return (f"{result['date']}, commit `{result['commit']}`, {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"{machine['cpu']}, load average (1 min) at the end {machine['load_1m']}{busy}{quick}")


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
    lines += ["", f"Case list polled every {result['poll_interval_ms']:.0f} ms (adds at most that).", ""]
    # Recorded since the hop breakdown was added; older lines have neither.
    stepped = [step for step in result["steps"] if step.get("hops")]
    if stepped:
        lines += ["Where the time goes (ms from one hop to the next, p50 / p99):", "",
                  "| hop | " + " | ".join(step["rate"] for step in stepped) + " |",
                  "| --- |" + " ---: |" * len(stepped)]
        for hop in stepped[0]["hops"]:
            cells = [f"{_ms(step['hops'][hop]['p50_ms'])} / {_ms(step['hops'][hop]['p99_ms'])}" for step in stepped]
            lines.append(f"| {hop} | " + " | ".join(cells) + " |")
        lines.append("")
    if result.get("broker_round_trip"):
        lines += ["Baseline: bare aiokafka produce -> consume on the same broker, "
                  + "; ".join(f"{trip['rate']:,.0f}/s: p50 {_ms(trip['p50_ms'])} ms, p99 {_ms(trip['p99_ms'])} ms "
                              f"({trip['received']:,} of {trip['messages']:,})" for trip in result["broker_round_trip"])
                  + ".", ""]
    return [*lines, "![propagation](results/propagation.png)", ""]


def consumers_section(result: dict[str, Any]) -> list[str]:
    lines = [
        "### consumers", "", _context(result), "",
        f"A backlog of {result['filed']:,} routed filings (filed at {result['rate']:g}/s with mediation and merchants "
        f"stopped), drained once both start. Filings a second: over the steady drain (from the group's first commit "
        f"to its last), and from both services' readiness (joining the group included). "
        f"Target {result['target_rps']}/s; keeps up: {'yes' if result['keeps_up'] else '**no**'}.", "",
        "| consumer group | events | first commit s | drained s | filings/s | filings/s from readiness | ratio to "
        "baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {group} | {entry['events']:,} | {entry['first_commit_s']:,.2f} | {entry['drained_s']:,.2f} | "
          f"{_ms(entry['filings_per_s'])} | {_ms(entry['filings_per_s_from_readiness'])} | {entry['ratio']} |"
          for group, entry in result["groups"].items()),
        f"| webhooks received (merchants' deliveries) | {result['webhooks']:,} | | {result['webhook_s']:,.2f} | | "
        f"{_ms(result['webhooks_per_s'])} | |",
        f"| baseline: bare aiokafka + asyncpg consumer, same topic | {result['baseline_events']:,} | | "
        f"{result['baseline_s']:,.2f} | {_ms(result['baseline_filings_per_s'])} | | 1 |", "",
        "CPU ms per filing over the drain: " + ", ".join(f"{name} {value:.2f}"
                                                          for name, value in result["cpu_ms_per_filing"].items()) + ".",
        "",
    ]
    return [*lines, "![consumers](results/consumers.png)", ""]


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


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def _spans(result: dict[str, Any], plan: str) -> str:
    spans = result.get("seconds_to_final", {}).get(plan)
    return " | ".join(f"{spans[key]:,.1f}" for key in ("p50", "p95", "max")) if spans else "- | - | -"


def replay_section(result: dict[str, Any]) -> list[str]:
    enrolment = result["enrolment"]
    lines = [
        "### replay", "", _context(result), "",
        "| rows | exact | wall s | cases/s | filing s | filed/s | full run (59,205 rows) estimate | API calls | "
        "failed cases |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {result['rows']:,} | {'yes' if result['exact'] else '**no**'} | {result['wall_s']:,.1f} | "
        f"{result['cases_per_s']:,.1f} | {result['filing_s']:,.1f} | {result['filed_per_s']:,.1f} | "
        f"{result['full_run_estimate_s']:,} s (target {result['target_s']} s) | {result['api_calls']:,} | "
        f"{result['failed_cases']:,} |", "",
        f"Enrolment: {enrolment['rule']}: {enrolment['enterprises']} enterprises, {enrolment['rows']:,} of the rows "
        f"(green channel); the rest are unregistered respondents. {result['concurrency']} requests in flight, "
        f"{result['consumers']} consumers. Retries: {result['retries'] or 'none'}.", "",
        "| plan (who acts first) | cases | s from filing to final: p50 | p95 | max |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {plan} | {count:,} | {_spans(result, plan)} |" for plan, count in result["plans"].items()), "",
        "| figure (`GET /v1/regulator/stats`, region 630000, the run's days) | from the file | API | equal |",
        "| --- | ---: | ---: | --- |",
        *(f"| {item['figure']} | {_figure(item['expected'])} | {_figure(item['api'])} | "
          f"{'yes' if item['match'] else '**no**'} |" for item in result["figures"]), "",
        "| grouped by | groups (file) | groups (API) | groups that differ |", "| --- | ---: | ---: | ---: |",
        *(f"| {name} | {group['groups']} | {group['groups_api']} | {len(group['mismatches'])} |"
          for name, group in result["groups"].items()),
    ]
    if result["failures"]:
        lines += ["", f"Failures: {result['failures']}"]
    return [*lines, "", "![replay](results/replay.png)", ""]


def soak_section(result: dict[str, Any]) -> list[str]:
    faults = ", ".join(f"{fault} at {at:.0f} s" for at, fault in result["faults"]) or "none"
    restarts = ", ".join(f"{name} {count}" for name, count in result["restarts"].items()) or "none"
    return [
        "### soak", "", _context(result), "",
        f"{result['minutes']:g} minutes at {result['rate']:g} filings/s, a fault every {result['fault_every']:g} s "
        f"({faults}).", "",
        "| filed | delivered | duplicates | lost | abandoned | 503 answers (retried) | other errors | restarts "
        "| given up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        f"| {result['filed']:,} | {result['delivered']:,} | {result['duplicates']} | {result['lost']} | "
        f"{result.get('abandoned', 0)} | {result['answered_503']:,} | {result['other_errors']:,} | {restarts} | "
        f"{', '.join(result['given_up']) or 'none'} |", "",
        *_soak_details(result),
        "![soak](results/soak.png)", "",
    ]


def _soak_details(result: dict[str, Any]) -> list[str]:
    """Other answers by status and each process's private memory, first sample, last sample and peak (MiB)."""
    lines = []
    if others := result.get("other_statuses"):
        lines += ["Other answers by status (0: none within 30 s): "
                  + ", ".join(f"{status}: {count:,}" for status, count in others.items()) + ".", ""]
    if memory := result.get("memory_mib"):
        lines += ["| private memory (MiB) | first | last | peak |", "| --- | ---: | ---: | ---: |",
                  *(f"| {name} | {_mib(m['first'])} | {_mib(m['last'])} | {_mib(m['peak'])} |"
                    for name, m in memory.items()), ""]
    return lines


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


SECTIONS = {"intake": intake_section, "propagation": propagation_section, "consumers": consumers_section,
            "stats": stats_section, "streams": streams_section, "replay": replay_section, "soak": soak_section}


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
