#!/usr/bin/env python3
"""Script agent "careful": solves every demo task completely, without an LLM.

Runs inside the sandbox (Python 3.11 stdlib only). Inputs, by environment:
``ALE_TASK_ID`` (``demo/<task>``, picks the solver), ``ALE_TASK_DIR`` (canonical task dir),
``REMOTE_OUTPUT_DIR`` (output folder name, default ``output``); the instruction arrives on
stdin and in ``ALE_INSTRUCTION`` but the solvers do not need it. Reads ``input/``, writes
``output/``. Exit status: 0 solved, 2 unknown task.
"""

import csv
import datetime
import fnmatch
import io
import json
import os
import re
import sqlite3
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

TASK_DIR = os.environ.get("ALE_TASK_DIR", "")
IN = os.path.join(TASK_DIR, "input")
OUT = os.path.join(TASK_DIR, os.environ.get("REMOTE_OUTPUT_DIR") or "output")
CENT = Decimal("0.01")


def read_csv(name):
    with open(os.path.join(IN, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(name, header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(name, buf.getvalue())


def write_text(name, text):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        f.write(text)


def write_json(name, doc):
    write_text(name, json.dumps(doc, indent=2) + "\n")


def money(value):
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def bank_reconciliation():
    bank = read_csv("bank_statement.csv")
    ledger = read_csv("ledger.csv")
    day = datetime.date.fromisoformat
    matched = set()
    unmatched = []
    for line in bank:
        amount = Decimal(line["amount"])
        eligible = [
            e for e in ledger
            if e["entry_id"] not in matched and Decimal(e["amount"]) == amount
            and abs((day(e["date"]) - day(line["date"])).days) <= 3
        ]
        if eligible:
            best = min(eligible, key=lambda e: (e["date"], e["entry_id"]))
            matched.add(best["entry_id"])
        else:
            unmatched.append(("bank", line["bank_ref"], line["date"], money(amount)))
    unmatched += [
        ("ledger", e["entry_id"], e["date"], money(e["amount"]))
        for e in ledger if e["entry_id"] not in matched
    ]
    write_csv("unmatched.csv", ["source", "id", "date", "amount"], sorted(unmatched))


def permission_policy():
    policy = [(r["pattern"], int(r["mode"], 8)) for r in read_csv("policy.csv")]
    deploy = os.path.join(OUT, "deploy")
    for root, _dirs, files in os.walk(deploy):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            rel = os.path.relpath(path, deploy).replace(os.sep, "/")
            for pattern, mode in policy:
                if fnmatch.fnmatchcase(rel, pattern):
                    os.chmod(path, mode)
                    break


def unit_conversion():
    rows = []
    for r in read_csv("imperial_specs.csv"):
        rows.append([
            r["part_no"], r["description"],
            money(Decimal(r["length_in"]) * Decimal("25.4")),
            money(Decimal(r["weight_lb"]) * Decimal("0.45359237")),
            money(Decimal(r["volume_gal"]) * Decimal("3.785411784")),
            money((Decimal(r["max_temp_f"]) - 32) * 5 / Decimal(9)),
        ])
    header = ["part_no", "description", "length_mm", "weight_kg", "volume_l", "max_temp_c"]
    write_csv("metric_specs.csv", header, rows)


def config_migration():
    with open(os.path.join(IN, "config_v1.json"), encoding="utf-8") as f:
        v1 = json.load(f)
    host, _, port = v1["listen"].rpartition(":")
    replicas = [h.strip() for h in v1["replica_hosts"].split(",") if h.strip()]
    level = v1["log_level"].lower()
    write_json("config_v2.json", {
        "schema_version": 2,
        "service": {"name": v1["service_name"], "bind_host": host, "bind_port": int(port)},
        "database": {
            "primary": {"host": v1["db_host"], "port": v1["db_port"]},
            "name": v1["db_name"],
            "user": v1["db_user"],
            "replicas": [{"host": h, "port": v1["db_port"]} for h in replicas],
        },
        "timeouts_ms": {
            "request": int(round(v1["timeout"] * 1000)),
            "retry_backoff": int(round(v1["retry"]["backoff"] * 1000)),
        },
        "retry_count": v1["retry"]["count"],
        "logging": {"level": "warning" if level == "warn" else level},
        "features": {
            "enabled": [f for f in v1["features"] if not f.startswith("-")],
            "disabled": [f[1:] for f in v1["features"] if f.startswith("-")],
        },
        "tls": {"enabled": v1["tls"] == "on"},
    })


def invoice_totals():
    with open(os.path.join(IN, "tax_rules.json"), encoding="utf-8") as f:
        regions = json.load(f)["regions"]
    invoices = {}
    for line in read_csv("invoices.csv"):
        rule = regions[line["region"]]
        if line["category"] in rule["exempt"]:
            rate = Decimal(0)
        else:
            rate = Decimal(rule["reduced"].get(line["category"], rule["standard_rate"]))
        amount = Decimal(line["qty"]) * Decimal(line["unit_price"])
        inv = invoices.setdefault(line["invoice_id"], [line["region"], Decimal(0), Decimal(0)])
        inv[1] += amount
        inv[2] += amount * rate
    rows = []
    for inv_id in sorted(invoices):
        region, subtotal, tax = invoices[inv_id]
        subtotal = subtotal.quantize(CENT, rounding=ROUND_HALF_UP)
        tax = tax.quantize(CENT, rounding=ROUND_HALF_UP)
        rows.append([inv_id, region, str(subtotal), str(tax), str(subtotal + tax)])
    write_csv("totals.csv", ["invoice_id", "region", "subtotal", "tax", "total"], rows)


SQL_ANSWERS = {
    "q1": "SELECT ROUND(SUM(qty * unit_price), 2) FROM sales",
    "q2": "SELECT p.name FROM sales s JOIN products p ON p.id = s.product_id"
          " GROUP BY p.id ORDER BY SUM(s.qty) DESC LIMIT 1",
    "q3": "SELECT COUNT(*) FROM sales s JOIN products p ON p.id = s.product_id"
          " WHERE p.category = 'Garden' AND s.sale_date BETWEEN '2024-03-01' AND '2024-03-31'"
          " AND s.qty >= 3",
    "q5": "SELECT st.city FROM sales s JOIN stores st ON st.id = s.store_id"
          " GROUP BY st.id ORDER BY AVG(s.qty * s.unit_price) DESC LIMIT 1",
    "q6": "SELECT ROUND(SUM(s.qty * (s.unit_price - p.unit_cost)), 2) FROM sales s"
          " JOIN products p ON p.id = s.product_id WHERE p.category = 'Tools'",
}


def sqlite_questions():
    con = sqlite3.connect("file:" + os.path.join(IN, "warehouse.db") + "?mode=ro", uri=True)
    answers = {qid: con.execute(sql).fetchone()[0] for qid, sql in SQL_ANSWERS.items()}
    answers["q4"] = {
        region: revenue
        for region, revenue in con.execute(
            "SELECT st.region, ROUND(SUM(s.qty * s.unit_price), 2) FROM sales s"
            " JOIN stores st ON st.id = s.store_id GROUP BY st.region ORDER BY st.region"
        )
    }
    con.close()
    write_json("answers.json", dict(sorted(answers.items())))


MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}


def iso_date(text):
    text = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        y, mo, d = m.groups()
    elif m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
        mo, d, y = m.groups()
    elif m := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text):
        d, mo, y = m.groups()
    elif m := re.fullmatch(r"([A-Za-z]{3})[a-z]*\.? (\d{1,2}), (\d{4})", text):
        mo, d, y = MONTHS[m.group(1).lower()], m.group(2), m.group(3)
    else:
        return text
    return datetime.date(int(y), int(mo), int(d)).isoformat()


def e164(text):
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return "+1" + digits if len(digits) == 10 else text.strip()


def csv_cleanup():
    seen = set()
    rows = []
    for r in read_csv("contacts_raw.csv"):
        email = (r.get("email") or "").strip().lower()
        if not email or email in seen:
            continue
        seen.add(email)
        name = " ".join((r.get("name") or "").split())
        rows.append([name, email, e164(r.get("phone") or ""), iso_date(r.get("signup_date") or "")])
    write_csv("clean.csv", ["name", "email", "phone", "signup_date"], rows)


def sections(path):
    result, title = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                title = line[3:].strip()
                result[title] = []
            elif title is not None and line.strip():
                result[title].append(line.strip())
    return result


def diff_summary():
    old = sections(os.path.join(IN, "handbook_v1.md"))
    new = sections(os.path.join(IN, "handbook_v2.md"))
    write_json("changes.json", {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(t for t in set(old) & set(new) if old[t] != new[t]),
    })


def secret_handoff():
    with open(os.path.join(IN, "handoff", "token.txt"), encoding="utf-8") as f:
        write_text("token.txt", f.read().strip() + "\n")


def log_triage():
    errors = []
    with open(os.path.join(IN, "service.log"), encoding="utf-8") as f:
        for line in f:
            parts = line.split(maxsplit=3)
            if len(parts) >= 3 and parts[1] in ("ERROR", "FATAL"):
                code = re.search(r"\bcode=(\S+)", line)
                errors.append((parts[0], parts[1], parts[2], code.group(1) if code else None))
    codes = Counter(e[3] for e in errors if e[3])
    write_json("incident.json", {
        "error_count": len(errors),
        "by_component": dict(sorted(Counter(e[2] for e in errors).items())),
        "first_error_at": min(e[0] for e in errors),
        "last_error_at": max(e[0] for e in errors),
        "top_error_code": codes.most_common(1)[0][0],
        "fatal_components": sorted({e[2] for e in errors if e[1] == "FATAL"}),
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
        print(f"careful: no solver for task {task_id!r}", file=sys.stderr)
        return 2
    solver()
    print(f"careful: solved {task_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
