"""arXiv ids in a BibTeX file a reader uploads as examples: from each entry's eprint, url,
doi or journal field. Only the ids are read; an entry that names no arXiv paper is counted
and left out."""

from __future__ import annotations

import re

from newsletter.readers.validate import InvalidInput

MAX_BYTES = 1_000_000
_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
_NAMED = re.compile(
    rf"arxiv\.org/(?:abs|pdf)/{_ID}"  # url = {https://arxiv.org/abs/2401.12345}
    rf"|10\.48550/arxiv\.{_ID}"  # doi = {10.48550/arXiv.2401.12345}
    rf"|arxiv:\s*{_ID}"  # journal = {arXiv preprint arXiv:2401.12345}
    rf"|eprint\s*=\s*[{{\"]\s*{_ID}",  # eprint = {2401.12345}
    re.IGNORECASE,
)


def arxiv_ids(data: bytes) -> tuple[list[str], int]:
    """The arXiv ids the file's entries name, in order and once each, and how many of its
    entries name none. Raises InvalidInput for a file that is not BibTeX."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"the BibTeX file is over {MAX_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    entries = re.split(r"(?m)^\s*@", text)[1:]
    if not entries:
        raise InvalidInput("the file holds no BibTeX entry (such as @article{...})")
    found: dict[str, None] = {}
    without = 0
    for entry in entries:
        named = [next(g for g in m.groups() if g) for m in _NAMED.finditer(entry)]
        without += not named
        found.update(dict.fromkeys(named))
    return list(found), without
