from __future__ import annotations

import enum
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alebuild.cache.digest import (
    UnhashableError,
    algo_of,
    canonical_json,
    digest_bytes,
    digest_json,
    digest_stream,
    file_digest,
    parse_digest,
)


def test_digest_tags_and_lengths():
    x = digest_bytes(b"hello")
    s = digest_bytes(b"hello", "sha256")
    assert x.startswith("xxh128:") and len(x) == 7 + 32
    assert s == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert parse_digest(x) == ("xxh128", x[7:])
    assert algo_of(s) == "sha256"


@pytest.mark.parametrize(
    "bad",
    ["xxh128:abc", "md5:" + "0" * 32, "xxh128:" + "A" * 32, "sha256:" + "0" * 32, "nocolon", 3],
)
def test_parse_digest_rejects_malformed(bad):
    with pytest.raises(ValueError):
        parse_digest(bad)


def test_digest_stream_matches_digest_bytes_across_chunks():
    data = os.urandom((1 << 20) * 2 + 12345)
    for algo in ("xxh128", "sha256"):
        d, size = digest_stream(io.BytesIO(data), algo)
        assert (d, size) == (digest_bytes(data, algo), len(data))


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": [1, (2, 3)], "é": "ü"}) == (
        '{"a":[1,[2,3]],"b":1,"é":"ü"}'.encode()
    )
    assert canonical_json([None, True, False, 1.5]) == b"[null,true,false,1.5]"


class Color(enum.StrEnum):
    RED = "red"


def test_canonical_json_reduces_str_subclasses_to_their_value():
    assert canonical_json({"c": Color.RED}) == b'{"c":"red"}'


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {"inputs": {"attrs": {"tags": {"x"}}}},
            "inputs.attrs.tags: cannot hash a value of type set",
        ),
        ({"a": [1, b"raw"]}, "a[1]: cannot hash a value of type bytes"),
        ({"p": Path("/tmp")}, "p: cannot hash a value of type PosixPath"),
        ({"f": float("nan")}, "f: cannot hash a non-finite float"),
        ({"f": [float("inf")]}, "f[0]: cannot hash a non-finite float"),
        ({"d": {1: "x"}}, "d: cannot hash a dict key of type int"),
        (object(), "(root): cannot hash a value of type object"),
        ({"s": "\ud800"}, "s: cannot hash a string that is not valid UTF-8"),
    ],
)
def test_canonical_json_is_total_and_names_location(obj, message):
    with pytest.raises(UnhashableError) as exc:
        canonical_json(obj)
    assert str(exc.value).startswith(message)
    assert isinstance(exc.value, TypeError)


def test_canonical_json_rejects_cycles():
    a: list = []
    a.append(a)
    with pytest.raises(UnhashableError, match="circular"):
        canonical_json({"a": a})


def test_shared_but_acyclic_values_are_fine():
    shared = [1, 2]
    assert canonical_json({"x": shared, "y": shared}) == b'{"x":[1,2],"y":[1,2]}'


def test_digest_json_independent_of_dict_order_and_hash_seed():
    obj = {f"key{i}": [i, str(i)] for i in range(200)}
    reversed_obj = dict(reversed(list(obj.items())))
    assert digest_json(obj) == digest_json(reversed_obj)
    code = (
        "from alebuild.cache.digest import digest_json\n"
        "print(digest_json({f'key{i}': [i, str(i)] for i in range(200)}))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == digest_json(obj)


def test_file_digest_covers_exec_bit_and_algo():
    blob = digest_bytes(b"#!/bin/sh\n")
    assert file_digest(blob, True) != file_digest(blob, False)
    assert file_digest(blob, False).startswith("xxh128:")
    sblob = digest_bytes(b"#!/bin/sh\n", "sha256")
    assert file_digest(sblob, False).startswith("sha256:")
