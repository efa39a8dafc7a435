"""Scorer for demo/bank_reconciliation, run inside the sandbox (stdlib only).

Usage: python3 score.py --input DIR --output DIR --reference DIR
Prints one JSON object: {"score": float in [0, 1], "checks": {...}}.
Score = rows of output/unmatched.csv equal to an expected row of reference/answer_key.json
(same source, id, date and amount) divided by max(expected rows, output rows), so extra
rows cost credit.
"""

import argparse
import csv
import io
import json
import os
from decimal import Decimal, InvalidOperation

FIELDS = ["source", "id", "date", "amount"]
TASK_ID = "demo/bank_reconciliation"


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


def normalise(rec):
    """One row as a comparable (source, id, date, amount) tuple; amount None if unparsable."""
    try:
        amount = Decimal((rec.get("amount") or "").strip().replace(",", ""))
    except InvalidOperation:
        amount = None
    return (
        (rec.get("source") or "").strip().lower(),
        (rec.get("id") or "").strip(),
        (rec.get("date") or "").strip(),
        amount,
    )


def rows(text):
    """List of normalised (source, id, date, amount) tuples, or None if unusable."""
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if reader.fieldnames is None:
            return None
        header = [h.strip().lower() for h in reader.fieldnames]
        if not set(FIELDS) <= set(header):
            return None
        reader.fieldnames = header
        return [normalise(rec) for rec in reader]
    except csv.Error:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input")
    ap.add_argument("--output", required=True)
    ap.add_argument("--reference", required=True)
    args = ap.parse_args()
    expected = [normalise(rec) for rec in load_key(args.reference, TASK_ID)]
    text = safe_read(args.output, "unmatched.csv")
    got = rows(text) if text is not None else None
    if got is None:
        print(json.dumps({"score": 0.0, "checks": {"output_readable": False}}))
        return
    correct = len(set(got) & set(expected))
    score = correct / max(len(expected), len(got), 1)
    print(json.dumps({"score": score, "checks": {
        "output_readable": True, "correct_rows": correct,
        "expected_rows": len(expected), "output_rows": len(got)}}))


if __name__ == "__main__":
    main()
