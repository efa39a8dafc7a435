#!/usr/bin/env python3
"""Script agent "sloppy": does about half of each demo task, on purpose.

Runs inside the sandbox (Python 3.11 stdlib only) with the same environment as
``careful.py`` (``ALE_TASK_ID``, ``ALE_TASK_DIR``, ``REMOTE_OUTPUT_DIR``). Each solver
makes the shortcut a hurried analyst would: matching on amount only, ignoring tax
exemptions, skipping de-duplication, answering half the questions, copying the wrong
token... so a scoreboard shows a spread between this agent and ``careful.py``.
Exit status: 0 done, 2 unknown task.
"""

import csv
import io
import json
import os
import re
import sqlite3
import sys
from collections import Counter

TASK_DIR = os.environ.get("ALE_TASK_DIR", "")
IN = os.path.join(TASK_DIR, "input")
OUT = os.path.join(TASK_DIR, os.environ.get("REMOTE_OUTPUT_DIR") or "output")


def read_csv(name):
    with open(os.path.join(IN, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_text(name, text):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        f.write(text)


def write_csv(name, header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(name, buf.getvalue())


def write_json(name, doc):
    write_text(name, json.dumps(doc, indent=2) + "\n")


def bank_reconciliation():
    # Shortcut: match on amount alone, first come first served, ignoring the date window.
    ledger = read_csv("ledger.csv")
    matched, unmatched = set(), []
    for line in read_csv("bank_statement.csv"):
        hit = next((e for e in ledger if e["entry_id"] not in matched
                    and float(e["amount"]) == float(line["amount"])), None)
        if hit:
            matched.add(hit["entry_id"])
        else:
            unmatched.append(("bank", line["bank_ref"], line["date"], line["amount"]))
    unmatched += [("ledger", e["entry_id"], e["date"], e["amount"])
                  for e in ledger if e["entry_id"] not in matched]
    write_csv("unmatched.csv", ["source", "id", "date", "amount"], sorted(unmatched))


def permission_policy():
    # Shortcut: only fixes the "executables" (bin/ and scripts/), forgets the rest.
    policy = [(r["pattern"], int(r["mode"], 8)) for r in read_csv("policy.csv")]
    deploy = os.path.join(OUT, "deploy")
    for sub in ("bin", "scripts"):
        folder = os.path.join(deploy, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            rel = f"{sub}/{name}"
            mode = next((m for p, m in policy if re.fullmatch(
                re.escape(p).replace(r"\*", ".*"), rel)), 0o644)
            os.chmod(os.path.join(folder, name), mode)


def unit_conversion():
    # Shortcut: imperial gallons and a Fahrenheit formula without the 32 offset.
    rows = [[r["part_no"], r["description"],
             f"{float(r['length_in']) * 25.4:.2f}",
             f"{float(r['weight_lb']) * 0.45359237:.2f}",
             f"{float(r['volume_gal']) * 4.54609:.2f}",
             f"{float(r['max_temp_f']) * 5 / 9:.2f}"]
            for r in read_csv("imperial_specs.csv")]
    write_csv("metric_specs.csv", ["part_no", "description", "length_mm", "weight_kg",
                                   "volume_l", "max_temp_c"], rows)


def config_migration():
    # Shortcut: renames keys, keeps v1 units and shapes.
    with open(os.path.join(IN, "config_v1.json"), encoding="utf-8") as f:
        v1 = json.load(f)
    host, _, port = v1["listen"].rpartition(":")
    write_json("config_v2.json", {
        "schema_version": 2,
        "service": {"name": v1["service_name"], "bind_host": host, "bind_port": port},
        "database": {"primary": {"host": v1["db_host"], "port": v1["db_port"]},
                     "name": v1["db_name"], "user": v1["db_user"],
                     "replicas": v1["replica_hosts"].split(",")},
        "timeouts_ms": {"request": v1["timeout"], "retry_backoff": v1["retry"]["backoff"]},
        "retry_count": v1["retry"]["count"],
        "logging": {"level": v1["log_level"]},
        "features": {"enabled": v1["features"], "disabled": []},
        "tls": {"enabled": v1["tls"]},
    })


def invoice_totals():
    # Shortcut: standard rate on every line, exemptions and reduced rates ignored.
    with open(os.path.join(IN, "tax_rules.json"), encoding="utf-8") as f:
        regions = json.load(f)["regions"]
    invoices = {}
    for line in read_csv("invoices.csv"):
        amount = int(line["qty"]) * float(line["unit_price"])
        inv = invoices.setdefault(line["invoice_id"], [line["region"], 0.0])
        inv[1] += amount
    rows = []
    for inv_id in sorted(invoices):
        region, subtotal = invoices[inv_id]
        tax = round(subtotal * float(regions[region]["standard_rate"]) + 1e-9, 2)
        rows.append([inv_id, region, f"{subtotal:.2f}", f"{tax:.2f}", f"{subtotal + tax:.2f}"])
    write_csv("totals.csv", ["invoice_id", "region", "subtotal", "tax", "total"], rows)


def sqlite_questions():
    # Shortcut: answers the first three questions only.
    con = sqlite3.connect(os.path.join(IN, "warehouse.db"))
    q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    write_json("answers.json", {
        "q1": q("SELECT ROUND(SUM(qty * unit_price), 2) FROM sales"),
        "q2": q("SELECT p.name FROM sales s JOIN products p ON p.id = s.product_id"
                " GROUP BY p.id ORDER BY SUM(s.qty) DESC LIMIT 1"),
        "q3": q("SELECT COUNT(*) FROM sales s JOIN products p ON p.id = s.product_id"
                " WHERE p.category = 'Garden' AND s.sale_date LIKE '2024-03-%' AND s.qty >= 3"),
    })
    con.close()


def csv_cleanup():
    # Shortcut: trims and lower-cases, but neither de-duplicates nor fixes phones/names.
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    def iso(text):
        text = text.strip()
        if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
            return f"{m[3]}-{int(m[1]):02d}-{int(m[2]):02d}"
        if m := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text):
            return f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
        if m := re.fullmatch(r"([A-Za-z]{3}) (\d{1,2}), (\d{4})", text):
            return f"{m[3]}-{months.index(m[1].lower()) + 1:02d}-{int(m[2]):02d}"
        return text

    rows = [[(r["name"] or "").strip(), (r["email"] or "").strip().lower(),
             (r["phone"] or "").strip(), iso(r["signup_date"] or "")]
            for r in read_csv("contacts_raw.csv") if any((v or "").strip() for v in r.values())]
    write_csv("clean.csv", ["name", "email", "phone", "signup_date"], rows)


def diff_summary():
    # Shortcut: compares section titles only, so nothing is ever "changed".
    def titles(name):
        with open(os.path.join(IN, name), encoding="utf-8") as f:
            return {ln[3:].strip() for ln in f if ln.startswith("## ")}
    old, new = titles("handbook_v1.md"), titles("handbook_v2.md")
    write_json("changes.json", {"added": sorted(new - old), "removed": sorted(old - new),
                                "changed": []})


def secret_handoff():
    # Shortcut: grabs the first token file in directory order: the previous shift's.
    folder = os.path.join(IN, "handoff")
    name = sorted(os.listdir(folder))[0]
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        write_text("token.txt", f.read().strip() + "\n")


def log_triage():
    # Shortcut: counts ERROR lines only, forgets FATAL.
    errors = []
    with open(os.path.join(IN, "service.log"), encoding="utf-8") as f:
        for line in f:
            parts = line.split(maxsplit=3)
            if len(parts) >= 3 and parts[1] == "ERROR":
                code = re.search(r"code=(\S+)", line)
                errors.append((parts[0], parts[2], code.group(1) if code else ""))
    write_json("incident.json", {
        "error_count": len(errors),
        "by_component": dict(Counter(e[1] for e in errors)),
        "first_error_at": errors[0][0],
        "last_error_at": errors[-1][0],
        "top_error_code": Counter(e[2] for e in errors).most_common(1)[0][0],
    })


SOLVERS = {
    "demo/bank_reconciliation": bank_reconciliation,
    "demo/config_migration": config_migration,
    "demo/csv_cleanup": csv_cleanup,
    "demo/diff_summary": diff_summary,
    "demo/invoice_totals": invoice_totals,
    "demo/log_triage": log_triage,
    "demo/permission_policy": permission_policy,
    "demo/secret_handoff": secret_handoff,
    "demo/sqlite_questions": sqlite_questions,
    "demo/unit_conversion": unit_conversion,
}


def main():
    task_id = os.environ.get("ALE_TASK_ID", "")
    solver = SOLVERS.get(task_id)
    if solver is None or not TASK_DIR:
        print(f"sloppy: no solver for task {task_id!r}", file=sys.stderr)
        return 2
    solver()
    print(f"sloppy: did {task_id}, more or less")
    return 0


if __name__ == "__main__":
    sys.exit(main())
