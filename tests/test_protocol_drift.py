"""The committed generated code must match protos/ exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "npc_runtime" / "server" / "gen"


def _generate(out: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    _generate(tmp_path / "gen")
    fresh, committed = _tree(tmp_path / "gen"), _tree(GEN)
    assert fresh.keys() == committed.keys(), "run: python scripts/gen_protos.py"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"generated code is stale in {stale}; run: python scripts/gen_protos.py"


def test_drift_check_notices_an_edited_proto(tmp_path: Path) -> None:
    proto = (ROOT / "protos" / "npc" / "v1" / "npc.proto").read_text()
    assert "message AudioEnd {}" in proto
    edited = tmp_path / "protos" / "npc" / "v1"
    edited.mkdir(parents=True)
    (edited / "npc.proto").write_text(
        proto.replace("message AudioEnd {}", "message AudioEnd { bool x = 1; }")
    )
    from grpc_tools import protoc

    out = tmp_path / "out"
    out.mkdir()
    include = Path(protoc.__file__).parent / "_proto"
    assert (
        protoc.main(
            [
                "protoc",
                f"-I{tmp_path / 'protos'}",
                f"-I{include}",
                f"--python_out={out}",
                str(edited / "npc.proto"),
            ]
        )
        == 0
    )
    regenerated = (out / "npc" / "v1" / "npc_pb2.py").read_text()
    committed = (GEN / "npc" / "v1" / "npc_pb2.py").read_text()
    assert regenerated not in committed


def test_every_client_event_kind_is_decoded_or_answered() -> None:
    """No ClientEvent kind may be silently dropped by the codec."""
    from npc_runtime.server import codec
    from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb

    kinds = [f.name for f in pb.ClientEvent.DESCRIPTOR.oneofs_by_name["event"].fields]
    for kind in kinds:
        if kind == "session_start":
            continue
        ev = pb.ClientEvent()
        getattr(ev, kind).SetInParent()
        try:
            decoded = codec.decode(ev)
        except codec.DecodeError as e:
            # An empty message may be refused, but with a reason, never dropped.
            assert e.code is not None and str(e), kind
            continue
        assert decoded is not None, kind
