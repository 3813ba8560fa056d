"""Regenerates tests/fixtures/parallel.json: what each rank holds when PyTorch itself runs tensor parallelism
and FSDP2 on a small Llama-style model, on the CPU with the gloo backend (127.0.0.1 only).

    python tests/generate_parallel_fixture.py      # torch==2.13.0 (CPU), the test oracle's

The model (tests/test_parallel.py's TINY_LLAMA spec), written here in plain torch: vocabulary 512, hidden 128,
2 decoder layers of nn.RMSNorm, q/k/v/o projections (8 heads of 16, 4 key/value heads, no biases, non-causal
F.scaled_dot_product_attention(enable_gqa=True) as tests/torch_oracle.py's reference attention), nn.RMSNorm
and a SwiGLU MLP of 256, a final nn.RMSNorm and an untied head; fp32, batch 2 of 16 tokens, Adam
(foreach=False).

- Tensor parallelism (torch.distributed.tensor.parallel.parallelize_module): q, k, v, gate and up are
  ColwiseParallel, o and down RowwiseParallel, the embedding RowwiseParallel (its vocabulary split), the
  head ColwiseParallel with replicated output; the norms are not parallelised (each rank keeps them whole).
- FSDP2 (torch.distributed.fsdp.fully_shard): each decoder layer, then the root.

Per rank and world size it records, after one forward, backward and optimizer step, the bytes of the rank's
local parameter shards, of their gradients and of the optimizer state (exp_avg, exp_avg_sq and the step
tensors), each parameter's local element count, and the largest FSDP unit (the gathered block).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

OUT = Path(__file__).parent / "fixtures" / "parallel.json"
VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, FF, SEQ, BATCH = 512, 128, 2, 8, 4, 256, 16, 2
HEAD_DIM = HIDDEN // HEADS


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = nn.RMSNorm(HIDDEN)
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)
        self.post_attention_layernorm = nn.RMSNorm(HIDDEN)
        self.gate_proj = nn.Linear(HIDDEN, FF, bias=False)
        self.up_proj = nn.Linear(HIDDEN, FF, bias=False)
        self.down_proj = nn.Linear(FF, HIDDEN, bias=False)

    def forward(self, x):
        h = self.input_layernorm(x)

        def heads(t):  # -1 heads: the local ones under tensor parallelism
            return t.unflatten(-1, (-1, HEAD_DIM)).transpose(-2, -3)

        q, k, v = heads(self.q_proj(h)), heads(self.k_proj(h)), heads(self.v_proj(h))
        a = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        x = x + self.o_proj(a.transpose(-2, -3).flatten(-2))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class TinyLlama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = nn.RMSNorm(HIDDEN)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def local(t):
    return t.to_local() if hasattr(t, "to_local") else t


def nbytes(t) -> int:
    t = local(t)
    return t.numel() * t.element_size()


def tensor_parallel(model, mesh):
    from torch.distributed.tensor import Replicate
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    plan = {
        "embed_tokens": RowwiseParallel(input_layouts=Replicate()),
        "lm_head": ColwiseParallel(output_layouts=Replicate()),
    }
    for i in range(LAYERS):
        for name in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"):
            plan[f"layers.{i}.{name}"] = ColwiseParallel()
        for name in ("o_proj", "down_proj"):
            plan[f"layers.{i}.{name}"] = RowwiseParallel()
    return parallelize_module(model, mesh, plan)


def fsdp(model, mesh):
    from torch.distributed.fsdp import fully_shard

    for layer in model.layers:
        fully_shard(layer, mesh=mesh)
    return fully_shard(model, mesh=mesh)


def worker(rank, world, mode, port, queue):
    from torch.distributed.device_mesh import init_device_mesh

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    mesh = init_device_mesh("cpu", (world,))
    model = (tensor_parallel if mode == "tp" else fsdp)(TinyLlama(), mesh)
    gathered = []  # FSDP2: in a unit's forward its parameters are the gathered, unsharded tensors
    for unit in (*model.layers, model):
        unit.register_forward_pre_hook(  # (after FSDP2's own pre-forward hook, which gathers)
            lambda m, args: gathered.append(sum(nbytes(p) for p in m.parameters(recurse=m is not model)))
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=torch.Generator().manual_seed(1))
    params = {local(p).untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}  # storage -> bytes: what autograd keeps for backward, parameters left out

    def pack(t):
        mine = local(t)
        if hasattr(mine, "trigger_wait"):  # a collective's output (AsyncCollectiveTensor): the tensor it waits for
            mine = mine.trigger_wait()
        storage = mine.untyped_storage()
        if storage.data_ptr() not in params:
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    if mode == "tp":
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            logits = model(ids)
    else:
        logits = model(ids)
    F.cross_entropy(local(logits).reshape(-1, VOCAB).float(), ids.reshape(-1)).backward()
    optimizer.step()
    params = dict(model.named_parameters())
    record = {
        "parameters": sum(nbytes(p) for p in params.values()),
        "gradients": sum(nbytes(p.grad) for p in params.values() if p.grad is not None),
        "optimizer_state": sum(
            nbytes(v) for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)
        ),
        "local_numel": {name: local(p).numel() for name, p in params.items()},
        "gathered_unit": max(gathered) if mode == "fsdp" else None,
        # (FSDP2's gathered parameters are saved too, and freed after backward: tensor parallelism's only)
        "saved_activations": sum(kept.values()) if mode == "tp" else None,
    }
    queue.put((rank, record))
    dist.barrier()
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(mode: str, world: int) -> list[dict]:
    port = free_port()
    context = mp.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=worker, args=(rank, world, mode, port, queue)) for rank in range(world)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    return [results[r] for r in range(world)]


def main() -> None:
    out = {
        "torch": torch.__version__,
        "model": dict(
            vocab=VOCAB, hidden=HIDDEN, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS, ff=FF, seq=SEQ, batch=BATCH
        ),
        "runs": {},
    }
    for mode in ("tp", "fsdp"):
        for world in (2, 4):
            out["runs"][f"{mode}{world}"] = run(mode, world)
            print(
                mode,
                world,
                [(r["parameters"], r["gradients"], r["optimizer_state"]) for r in out["runs"][f"{mode}{world}"]],
            )
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
