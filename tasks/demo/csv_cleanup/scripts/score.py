"""Scorer for demo/csv_cleanup, run inside the sandbox (stdlib only).

Usage: python3 score.py --input DIR --output DIR --reference DIR
Prints one JSON object: {"score": float in [0, 1], "checks": {...}}.
For each expected contact of reference/answer_key.json (keyed by e-mail) the first output
row with that e-mail earns a quarter point per field equal to the expected one. Score =
points / max(expected rows, output rows), so duplicates and rows that should have been
dropped cost credit.
"""

import argparse
import csv
import io
import json
import os

FIELDS = ["name", "email", "phone", "signup_date"]
TASK_ID = "demo/csv_cleanup"


def safe_read(output_dir, name):
    """Text of a regular, non-symlinked output file, or None."""
    out_real = os.path.realpath(output_dir)
    parent = os.path.dirname(os.path.abspath(output_dir))
    path = os.path.join(output_dir, name)
    if out_real != os.path.join(os.path.realpath(parent), os.path.basename(output_dir)):
        return None
    if not os.path.isfile(path) or os.path.realpath(path) != os.path.join(out_real, name):
        return None
    if os.path.getsize(path) > 1_000_000:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        return None


def load_key(reference_dir, task_id):
    """``expected`` of reference/answer_key.json; raises unless it is this task's key."""
    with open(os.path.join(reference_dir, "answer_key.json"), encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("task") != task_id or "expected" not in doc:
        raise SystemExit(f"reference/answer_key.json is not the answer key of {task_id}")
    return doc["expected"]


def records(text):
    """List of {field: value} rows (blank lines skipped), or None if unusable."""
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if reader.fieldnames is None:
            return None
        reader.fieldnames = [h.strip().lower() for h in reader.fieldnames]
        if not set(FIELDS) <= set(reader.fieldnames):
            return None
        return [
            {f: (rec.get(f) or "").strip() for f in FIELDS}
            for rec in reader
            if any((v or "").strip() for v in rec.values() if isinstance(v, str))
        ]
    except csv.Error:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input")
    ap.add_argument("--output", required=True)
    ap.add_argument("--reference", required=True)
    args = ap.parse_args()
    expected = [{f: (rec.get(f) or "").strip() for f in FIELDS}
                for rec in load_key(args.reference, TASK_ID)]
    text = safe_read(args.output, "clean.csv")
    got = records(text) if text is not None else None
    if got is None:
        print(json.dumps({"score": 0.0, "checks": {"output_readable": False}}))
        return
    by_email = {}
    for rec in got:
        by_email.setdefault(rec["email"].lower(), rec)
    points = 0.0
    for exp in expected:
        mine = by_email.get(exp["email"])
        if mine is not None:
            points += sum(mine[f] == exp[f] for f in FIELDS) / len(FIELDS)
    score = points / max(len(expected), len(got))
    print(json.dumps({"score": score, "checks": {
        "output_readable": True, "points": points,
        "expected_rows": len(expected), "output_rows": len(got)}}))


if __name__ == "__main__":
    main()
