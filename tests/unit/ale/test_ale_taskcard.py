from __future__ import annotations

import json

import pytest

from alebuild.ale.taskcard import load_task_card
from alebuild.core.errors import UserError


def _card(tmp_path, data):
    path = tmp_path / "task_card.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


@pytest.mark.parametrize(
    "vm, expected",
    [
        ({"timeout": 3600}, 3600),
        ({"timeout_s": 1800}, 1800),
        ({"timeout": 600, "timeout_s": 1800}, 600),
        ({}, 7200),
    ],
)
def test_timeout_forms(tmp_path, vm, expected):
    card = load_task_card(_card(tmp_path, {"taskId": "demo/t1", "vm": vm}))
    assert card.vm.timeout_seconds == expected


def test_fields_and_catalogue_text(tmp_path):
    card = load_task_card(
        _card(
            tmp_path,
            {
                "taskId": "demo/t1",
                "title": "T",
                "difficulty": "hard",
                "vm": {
                    "snapshot": "gpu-free",
                    "machineType": "g2-standard-8",
                    "vcpus": 8,
                    "gpu": "L4",
                },
                "requiredCredentials": [{"file": "key.json"}],
            },
        )
    )
    assert card.vm.snapshot == "gpu-free"
    assert card.vm.machineType == "g2-standard-8"
    assert card.vm.vcpus == 8
    assert card.requiredCredentials == [{"file": "key.json"}]
    assert card.model_extra == {"difficulty": "hard"}
    assert load_task_card(_card(tmp_path, {"taskId": "x/y"})).vm.snapshot == "cpu-free-ubuntu"


def test_bad_json_names_the_line(tmp_path):
    with pytest.raises(UserError) as info:
        load_task_card(_card(tmp_path, '{\n  "taskId": "demo/t1",\n  "vm": {,}\n}'))
    assert info.value.line == 3
    assert info.value.file.endswith("task_card.json")


def test_bad_field_names_field_and_line(tmp_path):
    path = _card(tmp_path, {"taskId": "demo/t1", "vm": {"snapshot": "cpu-free", "timeout": "soon"}})
    with pytest.raises(UserError) as info:
        load_task_card(path)
    assert info.value.field == "vm.timeout"
    assert info.value.line == 5


def test_missing_task_id(tmp_path):
    with pytest.raises(UserError) as info:
        load_task_card(_card(tmp_path, {"vm": {}}))
    assert info.value.field == "taskId"
