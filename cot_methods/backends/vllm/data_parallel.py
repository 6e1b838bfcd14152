"""`data_parallel_size=N` on backend=vllm: N engine processes, one per device, requests sharded.

Why not vLLM's own DP: offline `LLM(data_parallel_size=N)` is not a sharding front end (vLLM's
examples/offline_inference/data_parallel.py starts one process per rank and shards the prompts
by hand), and lm-eval's vllm model does the same through ray actors; ray is not a dependency
here and vLLM's CPU build does not support DP ranks. So we do what both do, with the standard
library: N spawned processes, each with its own `vllm.LLM` on its own device(s)
(`CUDA_VISIBLE_DEVICES`; on CPU its own share of the cores through `VLLM_CPU_OMP_THREADS_BIND`
and its share of the KV-cache memory), fed through pipes.

Results are identical in content to N = 1 because nothing the model sees depends on the shard:
prompts go out as token ids chosen in this process (the segment loop's context ids, sent by
`VLLMBackend`), and every request carries its own seed. Sharding keeps each row on one engine
(affinity by the row's first prompt, which every later segment and probe extends), so the
engine's prefix cache keeps serving that row's KV blocks; new rows go to the engine with the
fewest rows. An engine that fails to start or dies is one line, never a hang.
"""

from __future__ import annotations

import atexit
import os
from types import SimpleNamespace

from cotbench.errors import CotbenchError

from .engine import start_engine

# Rows not seen for this many generate calls are forgotten (a finished row); forgetting a row
# too early only costs a prefix-cache miss, never a different result.
ROW_MEMORY_CALLS = 8


def device_env(rank: int, size: int, tensor_parallel_size: int, on_cpu: bool, environ=os.environ) -> dict:
    """The environment of engine `rank` of `size`: its GPUs, or on CPU its share of the cores."""
    if on_cpu:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
        share = [core for i, core in enumerate(cores) if i % size == rank] or [cores[rank % len(cores)]]
        return {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, share)), "OMP_NUM_THREADS": str(len(share))}
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        devices = [d for d in visible.split(",") if d.strip()]
    else:
        import torch

        devices = [str(i) for i in range(torch.cuda.device_count())]
    need = size * tensor_parallel_size
    if len(devices) < need:
        raise CotbenchError(f"data_parallel_size={size} x tensor_parallel_size={tensor_parallel_size} needs {need} GPUs; {len(devices)} visible")
    return {"CUDA_VISIBLE_DEVICES": ",".join(devices[rank * tensor_parallel_size:(rank + 1) * tensor_parallel_size])}


def _worker(connection, env: dict, load_kwargs: dict, start) -> None:
    """One engine process: start, say ready (or the one-line error), then serve generate calls."""
    os.environ.update(env)
    try:
        llm = start(**load_kwargs)
    except Exception as error:  # reported to the parent as one line
        connection.send(("error", str(error).splitlines()[0] if str(error) else type(error).__name__))
        return
    connection.send(("ready", None))
    try:
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):  # the parent is gone
                return
            if message is None:
                return
            prompts, params = message
            try:
                outputs = llm.generate(prompts, params, use_tqdm=False)
                connection.send(("ok", [(output.outputs[0], getattr(output, "num_cached_tokens", None)) for output in outputs]))
            except Exception as error:
                connection.send(("error", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"))
    finally:
        # A multiprocessing child ends with os._exit, so vLLM's own exit hooks never run: stop the
        # engine-core process here, or it outlives the run (and holds the caller's output pipes).
        engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if engine_core is not None:
            engine_core.shutdown()


class DataParallelLLM:
    """What `VLLMBackend` needs of `vllm.LLM` (`generate`, `get_tokenizer`), over N engines."""

    def __init__(self, size: int, load_kwargs: dict, on_cpu: bool, start=start_engine):
        """`start(**load_kwargs)` makes one engine in each process: `engine.start_engine`, or any
        module-level function that returns what `generate` needs of `vllm.LLM` (the tests' fake)."""
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # vLLM and CUDA need a fresh interpreter
        self.size, self.load_kwargs = size, load_kwargs
        self.rows: dict[int, dict[tuple, list]] = {}  # root length -> {root ids: [engine, last call]}
        self.load = [0] * size  # rows per engine
        self.calls = 0
        self.connections, self.processes = [], []
        atexit.register(self.close)
        envs = [device_env(rank, size, load_kwargs.get("tensor_parallel_size", 1), on_cpu) for rank in range(size)]
        for env in envs:
            parent, child = context.Pipe()
            # Not daemonic: vLLM's engine starts its own engine-core process. `close` (also at exit) ends them.
            process = context.Process(target=_worker, args=(child, env, load_kwargs, start))
            process.start()
            self.connections.append(parent)
            self.processes.append(process)
        for rank in range(size):
            status, detail = self._receive(rank)
            if status != "ready":
                self.close()
                raise CotbenchError(f"data_parallel_size={size}: engine {rank} did not start: {detail}")

    def _receive(self, rank: int):
        try:
            return self.connections[rank].recv()
        except (EOFError, OSError):
            code = self.processes[rank].exitcode
            return "error", f"the engine process exited (code {code}); see vLLM's log above"

    def get_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.load_kwargs.get("tokenizer") or self.load_kwargs["model"])

    def shard(self, prompt_ids: list) -> list[int]:
        """The engine of each prompt (token ids, or a text: its characters): its row's engine,
        else the least loaded one."""
        self.calls += 1
        engines = []
        for ids in prompt_ids:
            root = None
            for length in sorted(self.rows):
                if length <= len(ids) and tuple(ids[:length]) in self.rows[length]:
                    root = self.rows[length][tuple(ids[:length])]
                    break
            if root is None:
                engine = min(range(self.size), key=lambda rank: (self.load[rank], rank))
                root = self.rows.setdefault(len(ids), {}).setdefault(tuple(ids), [engine, self.calls])
                self.load[engine] += 1
            root[1] = self.calls
            engines.append(root[0])
        for length in list(self.rows):  # forget finished rows
            for key, (engine, last) in list(self.rows[length].items()):
                if self.calls - last > ROW_MEMORY_CALLS:
                    del self.rows[length][key]
                    self.load[engine] -= 1
            if not self.rows[length]:
                del self.rows[length]
        return engines

    def generate(self, prompts, params, use_tqdm: bool = False):
        engines = self.shard([prompt["prompt_token_ids"] if isinstance(prompt, dict) else prompt for prompt in prompts])  # ids, or a text
        positions = [[i for i, engine in enumerate(engines) if engine == rank] for rank in range(self.size)]
        for rank, indices in enumerate(positions):
            if indices:
                self.connections[rank].send(([prompts[i] for i in indices], [params[i] for i in indices]))
        outputs = [None] * len(prompts)
        for rank, indices in enumerate(positions):
            if not indices:
                continue
            status, detail = self._receive(rank)
            if status != "ok":
                raise CotbenchError(f"data_parallel_size={self.size}: engine {rank} failed: {detail}")
            for i, (completion, cached_tokens) in zip(indices, detail):
                outputs[i] = SimpleNamespace(outputs=[completion], num_cached_tokens=cached_tokens)
        return outputs

    def close(self) -> None:
        for connection, process in zip(self.connections, self.processes):
            try:
                if process.is_alive():
                    connection.send(None)
            except (OSError, BrokenPipeError):
                pass
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
        self.connections, self.processes = [], []

    def __del__(self):
        if getattr(self, "processes", None):
            self.close()
