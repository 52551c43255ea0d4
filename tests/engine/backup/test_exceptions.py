"""Item exceptions: every reason has a category and a sentence; policies validate."""

from __future__ import annotations

import errno
import json

import pytest

from engine.backup.exceptions import (
    REASONS,
    Category,
    InUseAction,
    InUsePolicy,
    ItemErrors,
    ItemException,
    Reason,
    from_os_error,
)

SAMPLE_FIELDS = {
    "holders": "pid 1 (init, fd 3, write)",
    "moved": "size",
    "now": "symlink",
    "kind": "socket",
    "error": "EIO: Input/output error",
}


def test_every_reason_has_a_row_and_formats() -> None:
    assert set(REASONS) == set(Reason)
    for reason in Reason:
        exc = ItemException(reason, "/src/f", offset=7, **SAMPLE_FIELDS)
        assert exc.sentence.startswith("/src/f: ")
        assert str(exc) == exc.sentence
        assert isinstance(exc.category, Category)


def test_categories() -> None:
    assert ItemException(Reason.OPEN_FOR_WRITING, "p", holders="x").category is Category.IN_USE
    assert ItemException(Reason.VANISHED, "p").category is Category.SKIPPED
    assert ItemException(Reason.READ_ERROR, "p", offset=1, error="e").category is (
        Category.CORRUPTED
    )


def test_to_dict_is_json() -> None:
    exc = ItemException(
        Reason.READ_ERROR, "/a", offset=512, stored=True, error="EIO: Input/output error"
    )
    d = json.loads(json.dumps(exc.to_dict()))
    assert d["code"] == "read_error" and d["category"] == "corrupted"
    assert d["offset"] == 512 and d["stored"] is True
    assert d["sentence"] == (
        "/a: read error (EIO: Input/output error) at offset 512; "
        "the rest of the file is stored as zeros"
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FileNotFoundError(errno.ENOENT, "x"), Reason.VANISHED),
        (NotADirectoryError(errno.ENOTDIR, "x"), Reason.VANISHED),
        (PermissionError(errno.EACCES, "Permission denied"), Reason.PERMISSION_DENIED),
        (OSError(errno.ENAMETOOLONG, "File name too long"), Reason.OS_ERROR),
    ],
)
def test_from_os_error(error: OSError, code: Reason) -> None:
    exc = from_os_error("/p", error)
    assert exc.code is code
    if code is Reason.OS_ERROR:
        assert exc.sentence == "/p: ENAMETOOLONG: File name too long"


def test_collector_counts_by_category() -> None:
    errors = ItemErrors()
    errors("a", ItemException(Reason.VANISHED, "a"))
    errors("b", ItemException(Reason.CHANGED_WHILE_READING, "b", moved="size"))
    assert errors.codes() == [("a", Reason.VANISHED), ("b", Reason.CHANGED_WHILE_READING)]
    assert errors.by_category() == {
        Category.IN_USE: 1,
        Category.SKIPPED: 1,
        Category.CORRUPTED: 0,
    }


def test_policy_validates() -> None:
    assert InUsePolicy().action is InUseAction.FLAG
    with pytest.raises(ValueError, match="retries"):
        InUsePolicy(retries=-1)
    with pytest.raises(ValueError, match="retry_delay_s"):
        InUsePolicy(retry_delay_s=-0.1)
