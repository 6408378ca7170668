"""`render --manifests DIR` leaves DIR holding exactly the current render's objects.

`kubectl apply -f DIR` applies every file in DIR, so a manifest left by an earlier render
would bring back an object the program no longer declares.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.errors import UserError
from ops.cli import main
from ops.render import kubernetes_objects, manifest_filename, write_manifests
from tests.conftest import cached_render


def _names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_a_second_render_removes_manifests_of_the_first(tmp_path: Path) -> None:
    directory = tmp_path / "manifests"
    write_manifests(cached_render("prod"), directory)
    # prod declares objects test does not (the admin NetworkPolicy); they must not survive.
    only_prod = _names(directory) - {
        manifest_filename(o) for o in kubernetes_objects(cached_render("test"))
    }
    assert only_prod
    written = write_manifests(cached_render("test"), directory)
    assert _names(directory) == {p.name for p in written}
    assert _names(directory) == {
        manifest_filename(o) for o in kubernetes_objects(cached_render("test"))
    }


def test_a_render_without_kubernetes_objects_empties_the_directory(tmp_path: Path) -> None:
    write_manifests(cached_render("test"), tmp_path)
    assert write_manifests(cached_render("dev"), tmp_path) == []
    assert _names(tmp_path) == set()


@pytest.mark.parametrize("foreign", ["kustomization.yaml", "notes.txt", "extra.json", "sub"])
def test_a_directory_with_files_we_did_not_write_is_refused_untouched(
    tmp_path: Path, foreign: str
) -> None:
    write_manifests(cached_render("test"), tmp_path)
    if foreign == "sub":
        (tmp_path / foreign).mkdir()
    else:
        (tmp_path / foreign).write_text("mine\n")
    before = _names(tmp_path)
    with pytest.raises(UserError, match=rf"did not write \({foreign}\); choose a new or empty"):
        write_manifests(cached_render("prod"), tmp_path)
    assert _names(tmp_path) == before


def test_the_cli_says_which_directory_it_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "deployment.yaml").write_text("kind: Deployment\n")
    assert main(["render", "test", "--manifests", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"--manifests {tmp_path}: holds files that `dataplatform render`")
    assert (tmp_path / "deployment.yaml").exists()
