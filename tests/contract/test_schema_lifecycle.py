"""The contract gate (scripts/check-contract) says no when it should.

A gate that never fails looks exactly like one that works, so these tests
break the contract on purpose in scratch clones of the repository (only
committed history is cloned; other people's uncommitted work is not touched)
and check that the gate fails with buf's own explanation, and that it lets
additive changes through.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GATE_FILES = ("scripts/check-contract", "scripts/gen_api_docs.py")
CUSTOMER_PROTO = "proto/accrue/billing/v1/customer.proto"
DISPLAY_NAME = "  string display_name = 2 ["
LAST_FIELD = "update_time = 13 [(google.api.field_behavior) = OUTPUT_ONLY];\n"
NEW_FIELD = "  // Optional. Invoice language, a BCP 47 tag.\n  optional string locale = 15;\n"
GIT_IDENTITY = ("-c", "user.name=Contract Test", "-c", "user.email=contract-test@example.invalid")


def _env() -> dict[str, str]:
    """The venv's buf and python first; no inherited git or Accrue overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "ACCRUE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(
        shutil.which("buf", path=_env()["PATH"]) is None,
        reason="buf is not installed (the buf-bin package of the dev extra provides it)",
    ),
    pytest.mark.skipif(not (REPO / ".git").exists(), reason=f"{REPO} is not a git checkout"),
]


def run(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, check=False, timeout=180
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def commit(repo: Path, message: str) -> None:
    run(["git", *GIT_IDENTITY, "-c", "commit.gpgsign=false", "commit", "-qam", message], repo)


def gate(repo: Path, steps: str) -> tuple[int, str]:
    result = run([str(repo / "scripts/check-contract"), "--only", steps], repo, check=False)
    return result.returncode, result.stdout + result.stderr


def edit_customer_proto(repo: Path, old: str, new: str) -> None:
    path = repo / CUSTOMER_PROTO
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{CUSTOMER_PROTO} changed; update this test's anchor {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HEAD plus the gate as in the working tree, regenerated so that it starts fresh.

    Regenerating here keeps the freshness tests about the gate, not about whether
    whoever committed last remembered to run scripts/generate.
    """
    repo = tmp_path_factory.mktemp("contract") / "baseline"
    run(["git", "clone", "-q", str(REPO), str(repo)], REPO)
    for name in GATE_FILES:
        shutil.copy2(REPO / name, repo / name)
    run(["buf", "generate"], repo)
    docs = run([sys.executable, "scripts/gen_api_docs.py"], repo).stdout
    (repo / "docs").mkdir(exist_ok=True)
    (repo / "docs/api.md").write_text(docs, encoding="utf-8")
    run(["git", "add", "-A"], repo)
    if run(["git", "status", "--porcelain"], repo).stdout:
        commit(repo, "Baseline for the contract gate tests")
    return repo


@pytest.fixture
def clone(baseline: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    run(["git", "clone", "-q", str(baseline), str(repo)], tmp_path)
    return repo


def test_current_contract_passes_lint_and_format() -> None:
    code, output = gate(REPO, "lint,format")
    assert code == 0, output


def test_renaming_a_field_fails_the_breaking_step_with_bufs_reason(clone: Path) -> None:
    edit_customer_proto(clone, DISPLAY_NAME, "  string full_name = 2 [")
    commit(clone, "Rename Customer.display_name")
    code, output = gate(clone, "breaking")
    assert code != 0, output
    assert 'on message "Customer" changed name from "display_name" to "full_name"' in output


def test_adding_a_field_passes_but_removing_it_later_fails(clone: Path) -> None:
    """Removing a field that landed only after v1 began must fail too: every landed state counts."""
    edit_customer_proto(clone, LAST_FIELD, LAST_FIELD + NEW_FIELD)
    commit(clone, "Add Customer.locale")
    code, output = gate(clone, "breaking")
    assert code == 0, output

    edit_customer_proto(clone, NEW_FIELD, "")
    commit(clone, "Remove Customer.locale")
    code, output = gate(clone, "breaking")
    assert code != 0, output
    assert 'field "15" with name "locale" on message "Customer" was deleted' in output


def test_breaking_step_refuses_a_shallow_clone(baseline: Path, tmp_path: Path) -> None:
    """A depth-1 clone has nothing to compare against; passing would hide every break."""
    shallow = tmp_path / "shallow"
    run(["git", "clone", "-q", "--depth", "1", baseline.as_uri(), str(shallow)], tmp_path)
    code, output = gate(shallow, "breaking")
    assert code != 0, output
    assert "shallow clone" in output


def test_contract_change_without_regeneration_fails_the_fresh_step(clone: Path) -> None:
    code, output = gate(clone, "fresh")
    assert code == 0, f"baseline should be fresh:\n{output}"

    edit_customer_proto(clone, LAST_FIELD, LAST_FIELD + NEW_FIELD)
    commit(clone, "Add Customer.locale without regenerating")
    code, output = gate(clone, "fresh")
    assert code != 0, output
    assert "out of date: src/accrue/billing/v1/customer_pb2.py" in output
    assert "out of date: docs/api.md" in output


def test_deleted_proto_with_generated_code_left_behind_fails_the_fresh_step(clone: Path) -> None:
    run(["git", "rm", "-q", "proto/accrue/billing/v1/errors.proto"], clone)
    commit(clone, "Delete errors.proto but keep its generated module")
    code, output = gate(clone, "fresh")
    assert code != 0, output
    assert "stale: src/accrue/billing/v1/errors_pb2.py" in output
