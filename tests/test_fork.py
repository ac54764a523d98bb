"""The contextual model across a fork, as Celery's prefork pool uses it: the worker's main
process loads it (workers/celery_app.py, `worker_init`) and each pool process is an os.fork
of it. ONNX Runtime's thread pool does not survive a fork, so a child must still embed, give
the parent's vectors and not wait forever on threads that are gone."""

from __future__ import annotations

import os
import select
import signal

import numpy as np

from newsletter.match import semantic

TEXTS = [
    "Mixture of experts routing for efficient large language model inference",
    "graph neural networks",
    "A long abstract, cut at the model's token limit. " * 40,
]


def _in_child(encoder: semantic.Encoder, timeout: float = 60) -> np.ndarray:
    """The texts' vectors as an os.fork of this process embeds them."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            vectors = encoder.encode(TEXTS).astype("<f4")
            with os.fdopen(write_end, "wb") as out:
                out.write(vectors.tobytes())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        if not select.select([answer], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"the forked child did not embed within {timeout} s")
        data = answer.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return np.frombuffer(data, dtype="<f4").reshape(len(TEXTS), -1)


def test_a_forked_pool_process_embeds_as_its_parent() -> None:
    encoder = semantic.load(semantic.TOPICS)  # the default, as the worker's main process loads it
    assert encoder is not None, semantic.why_not(semantic.TOPICS)
    assert encoder.calibration is semantic.TUNED  # the ONNX Runtime model
    # The parent has run the model, so its thread pool's threads exist, and are not copied.
    parent = encoder.encode(TEXTS)
    child = _in_child(encoder)
    assert child.shape == parent.shape
    np.testing.assert_allclose(child, parent, atol=1e-6)
    # And a second child, forked after the first, as a pool replaces a process it retired.
    np.testing.assert_allclose(_in_child(encoder), parent, atol=1e-6)
