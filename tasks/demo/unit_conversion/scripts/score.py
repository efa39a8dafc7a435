"""Scorer for demo/unit_conversion, run inside the sandbox (stdlib only).

Usage: python3 score.py --input DIR --output DIR --reference DIR
Prints one JSON object: {"score": float in [0, 1], "checks": {...}}.
Each of the four converted cells of each part is right when it is within 0.011 of the
expected value in reference/answer_key.json (one cent of rounding slack). Score = right
cells / (4 * max(expected rows, output rows)); rows are matched by part_no, the first
output row per part counts.
"""

import argparse
import csv
import io
import json
import os

VALUE_COLUMNS = ["length_mm", "weight_kg", "volume_l", "max_temp_c"]
TOLERANCE = 0.011
TASK_ID = "demo/unit_conversion"


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


def table(text):
    """(rows keyed by part_no, number of data rows), or None if unusable."""
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if reader.fieldnames is None:
            return None
        reader.fieldnames = [h.strip().lower() for h in reader.fieldnames]
        if not {"part_no", *VALUE_COLUMNS} <= set(reader.fieldnames):
            return None
        keyed, count = {}, 0
        for rec in reader:
            count += 1
            keyed.setdefault((rec.get("part_no") or "").strip(), rec)
        return keyed, count
    except csv.Error:
        return None


def close(got, expected):
    try:
        return abs(float((got or "").strip()) - float(expected)) <= TOLERANCE
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input")
    ap.add_argument("--output", required=True)
    ap.add_argument("--reference", required=True)
    args = ap.parse_args()
    key_rows = load_key(args.reference, TASK_ID)
    expected = {}
    for rec in key_rows:
        expected.setdefault(str(rec.get("part_no") or "").strip(), rec)
    n_expected = len(key_rows)
    text = safe_read(args.output, "metric_specs.csv")
    parsed = table(text) if text is not None else None
    if parsed is None:
        print(json.dumps({"score": 0.0, "checks": {"output_readable": False}}))
        return
    got, n_got = parsed
    right = sum(
        1
        for part, exp in expected.items()
        for col in VALUE_COLUMNS
        if part in got and close(got[part].get(col), exp[col])
    )
    total = len(VALUE_COLUMNS) * max(n_expected, n_got)
    print(json.dumps({"score": right / total, "checks": {
        "output_readable": True, "right_cells": right, "cells": total}}))


if __name__ == "__main__":
    main()
