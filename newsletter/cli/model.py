"""`newsletter model`: bring an embedding model of your choice. `pull` downloads a Hugging
Face checkpoint at a pinned commit and pins each of its files; `calibrate` fits its numbers
on a judged tune half (from a clone: the judged sets are development data). Then
NEWSLETTER_EMBEDDING_MODEL=FOLDER uses it."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import click

from newsletter.cli import cli
from newsletter.match import checkpoint, semantic

_COMMIT = re.compile(r"[0-9a-f]{40}")
_FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)
# What a sentence-transformers checkpoint needs, not the other frameworks' copies of it.
_PULLED = ["*.json", "*.txt", "model.safetensors", "*/config.json", "README.md"]


@cli.group()
def model() -> None:
    """Bring an embedding model: pull a checkpoint, calibrate it on a judged set."""


@model.command()
@click.argument("repo")
@click.option("--revision", required=True, help="The commit to take (40 hex digits).")
@click.option("--to", "folder", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--endpoint", envvar="HF_ENDPOINT", help="A hub mirror (default: huggingface.co).")
def pull(repo: str, revision: str, folder: Path, endpoint: str | None) -> None:
    """Download REPO from the Hugging Face hub at commit REVISION into a folder, and pin every
    file it holds by sha256 (newsletter-model.json). A branch or tag name is refused: it can
    move, and the model's vectors with it."""
    if not _COMMIT.fullmatch(revision):
        raise click.ClickException(f"--revision must be a commit (40 hex digits), not {revision!r}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # its retries are its own business: one line at the end

    try:
        snapshot_download(repo, revision=revision, local_dir=folder, allow_patterns=_PULLED,
                          endpoint=endpoint)  # fmt: skip
    except Exception as exc:  # the hub's errors are many; the operator needs one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise click.ClickException(f"could not download {repo}@{revision}: {first}") from exc
    files = checkpoint.file_hashes(folder)
    source = {"repo": repo, "revision": revision}
    checkpoint.write(folder, checkpoint.Manifest(files=files, source=source))
    click.echo(f"{folder}: {len(files)} files of {repo}@{revision[:12]} pinned; next: "
               f"{checkpoint.calibration_hint(folder).split(': ', 1)[1]}")  # fmt: skip


@model.command()
@click.argument("folder", type=_FOLDER)
@click.option("--judged", required=True, type=_FOLDER,
              help="A judged set laid out as benchmarks/relevance/blind/ is.")  # fmt: skip
@click.option("--shared", type=click.Path(file_okay=False, path_type=Path),
              help="Where its papers are (default: ../shared beside the clone).")  # fmt: skip
def calibrate(folder: Path, judged: Path, shared: Path | None) -> None:
    """Fit FOLDER's numbers (floor, bonus, agreement) on the judged set's tune half and store
    them in its manifest, pinning its files as they are now if nothing pinned them yet."""
    clone = Path.cwd()
    if not (clone / "benchmarks" / "relevance" / "calibrate.py").is_file():
        raise click.ClickException("run this in a clone of the project: it needs benchmarks/")
    sys.path.insert(0, str(clone))
    fitting = importlib.import_module("benchmarks.relevance.calibrate")
    manifest = checkpoint.read(folder) or checkpoint.Manifest(checkpoint.file_hashes(folder))
    try:
        encoder = semantic.open_model(str(folder), calibrated=False)
    except Exception as exc:
        raise click.ClickException(f"{folder} cannot be loaded: {exc}") from exc
    shared = shared or clone.parent / "shared"
    try:
        calibration, fitted = fitting.fit(encoder, judged, shared)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest.calibration, manifest.fitted = calibration, fitted
    checkpoint.write(folder, manifest)
    click.echo(f"{folder}: floor {calibration.floor}, bonus {calibration.bonus}, agreement "
               f"{calibration.agreement} (tune half: P@5 {fitted['p5']:.2f}, R@10 "
               f"{fitted['r10']:.2f}, nothing on the no-match topics)")  # fmt: skip
