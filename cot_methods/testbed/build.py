"""The `cot_arith` testbed model: a tiny Llama trained from scratch to reason like an
overthinking R1-style model on synthetic arithmetic (see `arith_traces.py`).

Why: the embedded SmolLM2-135M scores about 0 on the real benchmarks and rarely says "Wait",
so on a CPU no method can show its trade-off. This model is small enough to train in minutes
on two cores, solves `cot_arith` when it reasons fully, and says "Wait" both in the middle of
a solution (a check after a carrying step, with operations still to go) and after the answer is
settled (redundant loops) — so cutting at the first "Wait" costs accuracy, cutting at a loop
saves tokens for free, and the model's answer-probe entropy tells the two apart (issue 12).
It is a synthetic testbed, not evidence about real reasoning models.

The model every figure is measured on is *shipped* (`shipped.py`): a build is
byte-identical only on the machine and libraries that made it (issue 23). `build_testbed` is
the tool for people who change the traces: reproducible on one machine from `TestbedConfig`
(seed included): a byte-level BPE tokenizer trained with `tokenizers` (digits split one per
token, so arithmetic is learnable), a `LlamaForCausalLM` trained with AdamW on traces
interleaved with arithmetic drills (no loss on the prompt nor on text the engine forces after a
cut), saved as a normal transformers folder (with a chat template that opens thinking with
"<think>\\n", as DeepSeek-R1-Distill's does) under the cache, keyed by the config AND the code of
every module that shapes the model (`MODEL_SOURCES`), so a code change rebuilds instead of
silently reusing a model trained by older code.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cotbench.harness_tasks.arith import LEVELS, evaluation_problems, generate_problems
from cotbench.harness_tasks.utils import doc_to_text_math

from ...cache import cache_root
from .arith_traces import CUT_RATE, SKIP_RATE, SKIP_TOKEN, THINK_END, THINK_START, make_trace, recap_phrases, sign

END_OF_TURN = "<|end|>"
PAD = "<|pad|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>\n{{ message['content'] }}<|end|>\n"
    "{% elif message['role'] == 'assistant' %}<|assistant|>\n"
    "{{ message['content'].split('</think>')[-1] }}<|end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n<think>\n{% endif %}"
)


@dataclass(frozen=True)
class TestbedConfig:
    """Everything the built model depends on; its hash names the cache folder."""

    seed: int = 0
    # Hard at 0.2, not 0.1: "next" and "later" name operations only in hard problems, so at 0.1 the
    # look-up of their amounts formed on some builds and not others (hard 3.3–86.7 % with full
    # reasoning; a 1,500-step build of 2026-12-07 copied "next buys 14" for "next buys 6", hard 5.0 %).
    level_mix: tuple[tuple[str, float], ...] = (("easy", 0.5), ("medium", 0.3), ("hard", 0.2))
    cut_rate: float = CUT_RATE
    skip_rate: float = SKIP_RATE
    tokenizer_vocab: int = 1024  # an upper bound; the corpus saturates near 500
    tokenizer_corpus: int = 4000  # traces the tokenizer is trained on
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 384
    # Optimizer steps on traces; each is followed by one on arithmetic drills. At 700 the model lost its
    # place in 5-step problems (hard 10.0 % with full reasoning, build d6fbf43), 800 held on one build
    # and not on a rebuild elsewhere (issue 23); 1000 so that the bands hold on every seed, with a
    # third of the traces now cut or compressed (every method's forced text is trained). 1500 since the
    # compressed traces went from 5 to 25 % (arith_traces.SKIP_RATE), so that whole traces still get 750
    # steps' worth, above the 700 that held on three seeds: with 15 % at 1000 steps (600) seed 0 lost its
    # arithmetic (medium 53.3 %, hard 3.3 %, build of 2026-12-07).
    steps: int = 1500
    batch_size: int = 32
    drill_batch_size: int = 64  # drill lines of `drill_equations` equations each
    drill_equations: int = 8
    copy_drill_share: float = 0.25  # share of the drill lines that are copy drills (`next_copy_drill`)
    learning_rate: float = 3e-3
    warmup_steps: int = 60
    weight_decay: float = 0.01
    threads: int = 2

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


# What shapes the built model besides the config: this module (tokenizer training, model
# config, training loop, chat template), the trace generator, the problem generator, and the
# prompt format. Modules are hashed whole; "module:attr" entries hash one object's source
# (the prompt function lives in a module with much unrelated code).
MODEL_SOURCES = (
    "cotbench.cot_methods.testbed.build",
    "cotbench.cot_methods.testbed.arith_traces",
    "cotbench.harness_tasks.arith",
    "cotbench.harness_tasks.utils:doc_to_text_math",
)
# Libraries that train the model: their versions are recorded in testbed.json, not keyed. The same
# model must load in every venv (vLLM's pins older transformers), and the weights' sha256 says whether
# a build on other library versions gave other bytes.
MODEL_LIBRARIES = ("torch", "transformers", "tokenizers")


def _without_docstring(body: list) -> list:
    first = body[0] if body else None
    is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    return body[1:] if is_docstring else body


def _names_sources(node: ast.stmt) -> bool:
    """The `MODEL_SOURCES` assignment itself: it says where the code lives, which a move changes."""
    return isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == "MODEL_SOURCES" for target in node.targets)


def _source_text(entry: str) -> str:
    """The code of one `MODEL_SOURCES` entry as it runs: parsed from the file on disk (not the
    import cache's bytecode) and unparsed without comments, docstrings and module-level imports.
    Why: a move of files rewrites imports and a docstring edit changes no weight, and neither must
    re-key (or call stale) a model the code would train byte for byte again; every statement,
    constant and string literal that the build runs still counts (but not `MODEL_SOURCES`, the list
    of where those modules live)."""
    module_name, _, attr = entry.partition(":")
    module = importlib.import_module(module_name)
    source = inspect.getsource(getattr(module, attr)) if attr else Path(inspect.getsourcefile(module)).read_text(encoding="utf-8")
    tree = ast.parse(source)
    tree.body = [node for node in _without_docstring(tree.body) if not isinstance(node, (ast.Import, ast.ImportFrom)) and not _names_sources(node)]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.body = _without_docstring(node.body) or [ast.Pass()]
    return ast.unparse(tree)


def code_digest(sources: tuple[str, ...] | None = None) -> str:
    """sha256 over the sources that shape the model (their text only: not where they live)."""
    digest = hashlib.sha256()
    for entry in MODEL_SOURCES if sources is None else sources:
        digest.update(f"{_source_text(entry)}\0".encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """The versions of the libraries that trained a build (recorded in testbed.json)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for library in MODEL_LIBRARIES:
        try:
            found[library] = version(library)
        except PackageNotFoundError:
            found[library] = "missing"
    return found


def testbed_key(config: TestbedConfig = TestbedConfig()) -> str:
    """The cache key: config and code together (issue 12: a model built by older code is never reused)."""
    return hashlib.sha256(f"{config.key()}:{code_digest()}".encode()).hexdigest()[:12]


def default_testbed_dir(config: TestbedConfig = TestbedConfig()) -> Path:
    return cache_root() / "testbed" / f"arith-{testbed_key(config)}"


class TraceStream:
    """Training traces drawn level by level from `level_mix`; test problems are excluded."""

    def __init__(self, config: TestbedConfig):
        self.config = config
        self.rng = random.Random(f"traces:{config.seed}")
        self.held_out = {p.text for level in LEVELS for p in evaluation_problems(level)}
        self.levels = [name for name, _ in config.level_mix]
        self.weights = [weight for _, weight in config.level_mix]
        self.drawn = 0

    def next_trace(self):
        """The trace of one fresh problem (test problems skipped)."""
        while True:
            level = self.rng.choices(self.levels, weights=self.weights)[0]
            problem = generate_problems(level, 1, seed=self.rng.getrandbits(48))[0]
            if problem.text not in self.held_out:
                break
        self.drawn += 1
        return make_trace(problem, self.rng, self.config.cut_rate, self.config.skip_rate)

    def next_text(self) -> tuple[str, str, tuple[tuple[int, int], ...]]:
        """(prompt text, completion text, forced character spans of the completion) of one fresh problem."""
        trace = self.next_trace()
        return doc_to_text_math({"problem": trace.problem.text}), trace.text, trace.forced

    def next_drill(self) -> str:
        """A line of arithmetic facts ("17 + 9 = 26.") drawn from the same problems.

        Why: the equations are a few percent of a trace's tokens, so a tiny model learns the
        trace format long before it learns to add; packed drills (like the arithmetic in a
        pre-training corpus) make the facts most of the loss at a fraction of the compute."""
        equations = []
        while len(equations) < self.config.drill_equations:
            problem = self.next_trace().problem  # drawn like a trace, so the random stream is the same
            prev = problem.start
            for op, total in zip(problem.operations, problem.totals):
                equations.append(f"{prev} {sign(op)} {op.amount} = {total}.")
                prev = total
        self.rng.shuffle(equations)
        return " ".join(equations[: self.config.drill_equations])

    def next_copy_drill(self) -> str:
        """A problem, then its start and its operations in order, copied ("Mia has 12 apples. Mia first
        buys 7 more. Mia finally sells 5. … Mia: 12 apples; first buys 7 more; finally sells 5.").

        Why: every step of a trace copies the next operation from the problem, and a model that has
        not formed the attention that finds it (an induction head) writes a plausible operation
        instead — whether it formed within a build swung from seed to seed (issue 23: a seed-0 build
        copied the item of the first step wrong). Packed outlines make that look-up most of a drill's
        loss, as the arithmetic drills do for the sums."""
        problem = self.next_trace().problem  # drawn like a trace, so the random stream is the same
        outline = "; ".join(recap_phrases(problem))
        return f"{problem.text} {problem.name}: {problem.start} {problem.item}; {outline}."

def train_tokenizer(config: TestbedConfig, stream: TraceStream):
    """Byte-level BPE (no unknown tokens: any probe text can be encoded), digits one per token."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.tokenizer_vocab,
        special_tokens=[PAD, END_OF_TURN, "<|user|>", "<|assistant|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = []
    for _ in range(config.tokenizer_corpus):
        prompt, completion, _ = stream.next_text()
        corpus.append(f"{prompt}\n{THINK_START}{completion}")
    tokenizer.train_from_iterator(corpus, trainer)
    # Thinking markers are single, ordinary (decoded, not skipped) tokens, as in R1-Distill; so is
    # step entropy's [SKIP], which its official training adds as one token (`add_skip_tokens`).
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in ("<think>", THINK_END, SKIP_TOKEN)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=END_OF_TURN, pad_token=PAD, chat_template=CHAT_TEMPLATE
    )


def _encode_example(tokenizer, prompt: str, completion: str, forced=()) -> tuple[list[int], list[bool]]:
    """Token ids of chat prompt + completion + end of turn, and which of them carry loss.

    No loss on the prompt, nor on any token that overlaps text the engine forces (close text,
    answer probe): the model learns to answer after forced text, never to emit it. The
    completion is tokenised whole, as the engine tokenises forced text in context."""
    prompt_ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    encoded = tokenizer(completion + END_OF_TURN, add_special_tokens=False, return_offsets_mapping=True)
    trained = [not any(start < f_end and f_start < end for f_start, f_end in forced) for start, end in encoded["offset_mapping"]]
    return list(prompt_ids) + list(encoded["input_ids"]), [False] * len(prompt_ids) + trained


def _pad(tokenizer, chunk: list[tuple[list[int], list[bool]]]):
    """input_ids, attention mask and labels (-100 where no loss, and on padding) of one batch."""
    import torch

    width = max(len(ids) for ids, _ in chunk)
    input_ids = torch.full((len(chunk), width), tokenizer.pad_token_id)
    labels = torch.full((len(chunk), width), -100)
    attention = torch.zeros((len(chunk), width), dtype=torch.long)
    for row, (ids, trained) in enumerate(chunk):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids)] = torch.where(torch.tensor(trained), torch.tensor(ids), -100)
        attention[row, : len(ids)] = 1
    return input_ids, attention, labels


def _batches(tokenizer, stream: TraceStream, config: TestbedConfig, pool_batches: int = 16):
    """Endless (trace batch, drill batch) pairs; traces of similar length share a batch."""
    while True:
        pool = [_encode_example(tokenizer, *stream.next_text()) for _ in range(config.batch_size * pool_batches)]
        pool.sort(key=lambda example: len(example[0]))
        chunks = [pool[i : i + config.batch_size] for i in range(0, len(pool), config.batch_size)]
        stream.rng.shuffle(chunks)
        for chunk in chunks:
            drills = []
            for _ in range(config.drill_batch_size):
                line = stream.next_copy_drill() if stream.rng.random() < config.copy_drill_share else stream.next_drill()
                ids = tokenizer.encode(line, add_special_tokens=False)
                drills.append((ids, [True] * len(ids)))
            yield _pad(tokenizer, chunk), _pad(tokenizer, drills)


def _learning_rate(config: TestbedConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def build_testbed(output_dir: str | Path | None = None, config: TestbedConfig = TestbedConfig(), log=print) -> Path:
    """Train the testbed model (or reuse the cached one) and return its folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    target = Path(output_dir) if output_dir else default_testbed_dir(config)
    if (target / "config.json").is_file() and (target / "testbed.json").is_file():
        log(f"testbed model already built: {target}")
        return target
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.time()
    stream = TraceStream(config)
    tokenizer = train_tokenizer(config, stream)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    batches = _batches(tokenizer, stream, config)
    model.train()
    losses = []
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        for index, (input_ids, attention, labels) in enumerate(next(batches)):
            loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if index == 0:
                losses.append(loss.item())
        if step % 50 == 0 or step == config.steps - 1:
            log(f"step {step}/{config.steps}  loss {sum(losses[-50:]) / len(losses[-50:]):.4f}  {time.time() - started:.0f}s")
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    summary = {
        "what": "cot_arith testbed: a synthetic overthinking reasoner, not a real reasoning model",
        "config": asdict(config),
        "code_digest": code_digest(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "training_traces": stream.drawn,
        "final_loss": sum(losses[-50:]) / len(losses[-50:]),
        "build_seconds": round(time.time() - started, 1),
        "torch": torch.__version__,
        "libraries": library_versions(),
    }
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        summary["weights_sha256"] = weights_sha256(tmp)
        summary["sha256"] = testbed_sha256(tmp)
        (tmp / "testbed.json").write_text(json.dumps(summary, indent=2) + "\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"weights sha256 {summary['weights_sha256']}, folder sha256 {summary['sha256']}")
    log(f"built {target} in {summary['build_seconds']} s ({summary['parameters']:,} parameters)")
    return target


def weights_sha256(folder: str | Path) -> str:
    """sha256 of the saved weights file: two builds from the same config must agree byte for byte."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.safetensors")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


SUMMARY_FILE = "testbed.json"


def testbed_sha256(folder: str | Path) -> str:
    """sha256 over every file a load reads (weights, tokenizer, config, chat template: names and
    bytes), the build summary excepted: what a README figure or a pin names the model by."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.name != SUMMARY_FILE:
            digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()
