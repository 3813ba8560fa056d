"""Decoder-only language models in transformers' Llama layout (`model.layers.N.self_attn.q_proj`, ...):
llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text and their mixture-of-experts kin.

Each family is a Family row: the transformers class it mirrors and what differs (norms around the
attention and the MLP, q/k norms, biases, defaults of the config keys transformers reads)."""

from __future__ import annotations

from typing import NamedTuple

from ...errors import SpecError
from .common import GELU, Config, activation_entry, named_entry, rope_fields, rope_number


class Family(NamedTuple):
    cls: str  # the transformers class the spec mirrors (with its LM head)
    layout: str = "pre"  # pre: norm → attention → add, norm → mlp → add; sandwich: Gemma 2/3's four norms
    qkv_bias: bool | None = None  # q, k and v biases (None: the config's attention_bias)
    qk_norm: bool = False  # RMSNorm over each head of q and k (Qwen3, Gemma 3)
    act: str = "silu"  # default of hidden_act
    tie: bool = False  # default of tie_word_embeddings
    head_dim: int | None = None  # default of head_dim (None: hidden / heads)
    windows: str = ""  # which layers slide: "all" (sliding_window), "alternate" (Gemma 2), "pattern" (Gemma 3)
    scaled_embedding: bool = False  # Gemma keeps √hidden as a one-element buffer (embed_tokens.embed_scale)
    norm: str = (
        "rms"  # rms: RMSNorm; ln: LayerNorm; ln_weight: LayerNorm without bias (Cohere); ln_none: no params (OLMo)
    )
    eps_key: str = "rms_norm_eps"
    qk_norm_width: str = "head"  # q/k norms over each head (Qwen3, Gemma 3) or the whole projection (OLMo-2)
    fused_qkv: bool = False  # one qkv_proj (Phi-3)
    mlp: str = "gated"  # gated: gate/up/down; fused: one gate_up_proj (Phi-3); plain: up, activation, down
    mlp_names: tuple[str, str] = ("c_fc", "c_proj")  # a plain MLP's projections
    bias_keys: tuple[str, str, str] = ("attention_bias", "attention_bias", "mlp_bias")  # q/k/v, o, MLP biases
    out_name: str = "o_proj"
    final_norm: str = "norm"
    head_bias: bool = False  # the LM head's bias (Phi)
    sinks: bool = False  # a learned sink logit per head (gpt-oss): the attention operation is named self_attn.sinks
    moe: str = ""  # a mixture of experts in place of the MLP: "mixtral" (gate, experts), "qwen" (and a shared expert)
    rotary_sets: tuple[str, ...] = ("",)  # rotary tables, one per attention type (Gemma 3: full and sliding)
    eps: float = 1e-6  # default of rms_norm_eps
    rope_interleaved: bool = False  # rope rotates adjacent pairs (Cohere)
    norm_offset: float = 0.0  # RMSNorm scales by norm_offset + weight (Gemma: 1)
    rotary_fraction: float = 1.0  # default of partial_rotary_factor
    theta: float = 10000.0  # default of rope_theta (transformers 5's default_theta)
    bias_default: bool = False  # default of the config's bias flags (Starcoder2's use_bias: true)


FAMILIES = {
    "llama": Family("LlamaForCausalLM"),
    "mistral": Family("MistralForCausalLM", windows="all"),
    "qwen2": Family("Qwen2ForCausalLM", qkv_bias=True, windows="types"),
    "qwen3": Family("Qwen3ForCausalLM", qk_norm=True, head_dim=128, windows="types"),
    "gemma": Family(
        "GemmaForCausalLM", act="gelu_pytorch_tanh", tie=True, head_dim=256, scaled_embedding=True, norm_offset=1.0
    ),
    "gemma2": Family(
        "Gemma2ForCausalLM",
        layout="sandwich",
        act="gelu_pytorch_tanh",
        tie=True,
        head_dim=256,
        windows="alternate",
        scaled_embedding=True,
        norm_offset=1.0,
    ),
    "gemma3_text": Family(
        "Gemma3ForCausalLM",
        layout="sandwich",
        qk_norm=True,
        act="gelu_pytorch_tanh",
        tie=True,
        head_dim=256,
        windows="pattern",
        scaled_embedding=True,
        norm_offset=1.0,
        rotary_sets=("full_attention_", "sliding_attention_"),
        theta=1e6,
    ),
    "phi3": Family("Phi3ForCausalLM", eps=1e-5, windows="all", fused_qkv=True, mlp="fused", bias_keys=("", "", "")),
    # OlmoLayerNorm's eps is 1e-5 whatever the config says (it has no key for it)
    "olmo": Family(
        "OlmoForCausalLM", norm="ln_none", eps_key="", eps=1e-5, bias_keys=("attention_bias", "attention_bias", "")
    ),
    "olmo2": Family(
        "Olmo2ForCausalLM",
        layout="post",
        qk_norm=True,
        qk_norm_width="full",
        eps=1e-5,
        bias_keys=("attention_bias", "attention_bias", ""),
    ),
    "starcoder2": Family(
        "Starcoder2ForCausalLM",
        norm="ln",
        eps_key="norm_epsilon",
        eps=1e-5,
        act="gelu_pytorch_tanh",
        tie=True,
        windows="all",
        mlp="plain",
        bias_keys=("use_bias", "use_bias", "use_bias"),
        bias_default=True,
    ),
    "stablelm": Family(
        "StableLmForCausalLM",
        norm="ln",
        eps_key="layer_norm_eps",
        eps=1e-5,
        bias_keys=("use_qkv_bias", "", ""),
        rotary_fraction=0.25,
    ),
    "cohere": Family(
        "CohereForCausalLM",
        layout="parallel",
        norm="ln_weight",
        eps_key="layer_norm_eps",
        eps=1e-5,
        tie=True,
        bias_keys=("attention_bias", "attention_bias", ""),
        rope_interleaved=True,
        theta=500000.0,
    ),
    "phi": Family(
        "PhiForCausalLM",
        layout="parallel",
        norm="ln",
        eps_key="layer_norm_eps",
        eps=1e-5,
        act="gelu_new",
        mlp="plain",
        mlp_names=("fc1", "fc2"),
        bias_keys=("+", "+", "+"),
        out_name="dense",
        final_norm="final_layernorm",
        head_bias=True,
        rotary_fraction=0.5,
    ),
    "gpt_oss": Family("GptOssForCausalLM", eps=1e-5, windows="all", moe="gpt_oss", sinks=True, theta=150000.0),
    "mixtral": Family("MixtralForCausalLM", windows="all", moe="mixtral", theta=1e6),
    "qwen2_moe": Family("Qwen2MoeForCausalLM", qkv_bias=True, windows="types", moe="qwen"),
    "qwen3_moe": Family("Qwen3MoeForCausalLM", qk_norm=True, head_dim=128, windows="types", moe="qwen"),
}


def _windows(c: Config, f: Family, layers: int) -> list[int | None]:
    """Each layer's sliding window (0: full attention), as transformers' config classes set them."""
    if not f.windows:
        return [0] * layers
    window = c.raw.get("sliding_window")
    if window is None or (f.windows == "types" and not c.flag("use_sliding_window", False)):
        return [0] * layers
    window = c.int("sliding_window")
    types = c.raw.get("layer_types")
    if isinstance(types, list) and len(types) == layers:
        if not all(t in ("sliding_attention", "full_attention") for t in types):
            raise SpecError(f"{c.source}: 'layer_types' expects sliding_attention or full_attention entries")
        return [window if t == "sliding_attention" else 0 for t in types]
    if f.windows == "alternate":
        return [window if (i + 1) % 2 else 0 for i in range(layers)]
    if f.windows == "pattern":
        pattern = c.int("sliding_window_pattern", 6)
        return [window if (i + 1) % pattern else 0 for i in range(layers)]
    if f.windows == "types":  # Qwen2/3: the layers from max_window_layers on slide
        first = c.int("max_window_layers", layers, minimum=0)
        return [window if i >= first else 0 for i in range(layers)]
    return [window] * layers


def norm_entry(f: Family, eps: float, name: str, **more) -> dict:
    """The family's norm: RMSNorm, LayerNorm (with or without bias), or LayerNorm without parameters."""
    if f.norm == "rms":
        return {"rmsnorm": {"eps": eps, **({"offset": f.norm_offset} if f.norm_offset else {}), "name": name, **more}}
    extra = {"ln": {}, "ln_weight": {"bias": False}, "ln_none": {"elementwise_affine": False}}[f.norm]
    return {"layernorm": {"eps": eps, **extra, "name": name, **more}}


def _per_head_norm(name: str, source: str, heads: int, head_dim: int, eps: float, offset: float = 0.0) -> list:
    """RMSNorm over each head: (L, heads · head_dim) → (L, heads, head_dim) → norm → flattened again."""
    return [
        {"unflatten": {"dim": -1, "sizes": [heads, head_dim], "from": source}},
        {"rmsnorm": {"eps": eps, **({"offset": offset} if offset else {}), "name": name}},
        {"flatten": {"start_dim": 2}},
    ]


def attention(
    heads: int,
    kv: int,
    head_dim: int,
    hidden: int,
    *,
    qkv_bias: bool,
    out_bias: bool,
    window=None,
    qk_norm_eps: float | None = None,
    qk_norm_width: str = "head",
    qk_norm_offset: float = 0.0,
    fused: bool = False,
    out_name: str = "o_proj",
    **op,
) -> list:
    """q_proj, k_proj and v_proj from the group's input (or one qkv_proj), the attention operation, o_proj."""
    fields = {"heads": heads, "kv_heads": kv, "head_dim": head_dim, "causal": True, "position": "rope", **op}
    if window:
        fields["window"] = window
    if fused:
        return [
            named_entry("linear", "qkv_proj", out=(heads + 2 * kv) * head_dim, bias=qkv_bias),
            {"attention": {**fields, "name": "attention"}},
            named_entry("linear", out_name, out=hidden, bias=out_bias),
        ]
    layers = [
        named_entry("linear", "q_proj", out=heads * head_dim, bias=qkv_bias),
        named_entry("linear", "k_proj", out=kv * head_dim, bias=qkv_bias, **{"from": "input"}),
        named_entry("linear", "v_proj", out=kv * head_dim, bias=qkv_bias, **{"from": "input"}),
    ]
    q, k = "q_proj", "k_proj"
    if qk_norm_eps is not None and qk_norm_width == "full":
        layers += [
            {"rmsnorm": {"eps": qk_norm_eps, "from": "q_proj", "name": "q_norm"}},
            {"rmsnorm": {"eps": qk_norm_eps, "from": "k_proj", "name": "k_norm"}},
        ]
        q, k = "q_norm", "k_norm"
    elif qk_norm_eps is not None:
        layers += _per_head_norm("q_norm", "q_proj", heads, head_dim, qk_norm_eps, qk_norm_offset)
        layers.append({"identity": {"name": "q"}})
        layers += _per_head_norm("k_norm", "k_proj", kv, head_dim, qk_norm_eps, qk_norm_offset)
        layers.append({"identity": {"name": "k"}})
        q, k = "q", "k"
    name = "sinks" if op.get("sinks") else "attention"  # gpt-oss's sinks parameter: self_attn.sinks
    layers.append({"attention": {**fields, "from": [q, k, "v_proj"], "name": name}})
    layers.append(named_entry("linear", out_name, out=hidden, bias=out_bias))
    return layers


def mlp_layers(f: Family, ff: int, hidden: int, act, bias: bool) -> list:
    """The family's MLP: gated (gate, up, down), one fused gate_up_proj, or plain (up, activation, down)."""
    if f.mlp == "fused":
        return [
            named_entry("linear", "gate_up_proj", out=2 * ff, bias=bias),
            {"chunk": {"chunks": 2, "dim": -1, "index": 0, "name": "gate"}},
            activation_entry(act, "activation_fn"),
            {"chunk": {"chunks": 2, "dim": -1, "index": 1, "from": "gate_up_proj", "name": "up"}},
            {"mul": {"from": ["activation_fn", "up"]}},
            named_entry("linear", "down_proj", out=hidden, bias=bias),
        ]
    if f.mlp == "plain":
        up, down = f.mlp_names
        return [
            named_entry("linear", up, out=ff, bias=bias),
            activation_entry(act, "act"),
            named_entry("linear", down, out=hidden, bias=bias),
        ]
    return gated_mlp(ff, hidden, act, bias)


def gated_mlp(ff: int, hidden: int, act, bias: bool) -> list:
    return [
        named_entry("linear", "gate_proj", out=ff, bias=bias),
        activation_entry(act, "act_fn"),
        named_entry("linear", "up_proj", out=ff, bias=bias, **{"from": "input"}),
        {"mul": {"from": ["act_fn", "up_proj"]}},
        named_entry("linear", "down_proj", out=hidden, bias=bias),
    ]


def moe_mlp(c: Config, f: Family, hidden: int, act) -> list:
    """The router (`gate`) and the routed experts; Qwen2-MoE adds a shared expert weighted by a sigmoid gate."""
    qwen = f.moe == "qwen"
    experts = c.int("num_experts" if qwen else "num_local_experts")
    top_k = c.int("num_experts_per_tok")
    if top_k > experts:
        raise SpecError(f"{c.source}: num_experts_per_tok ({top_k}) is more than the {experts} experts")
    ff = c.int("moe_intermediate_size" if qwen else "intermediate_size")
    biased = f.moe == "gpt_oss"  # gpt-oss: a router bias, and biases on every expert's projections
    gate = "router" if biased else "gate"
    layers: list[dict] = [
        {"router": {"experts": experts, "top_k": top_k, "bias": biased, "name": gate}},
        {
            "experts": {
                "experts": experts,
                "top_k": top_k,
                "ff": ff,
                "bias": biased,
                "from": ["input", gate],
                "name": "experts",
            }
        },
    ]
    shared = c.int("shared_expert_intermediate_size", 0, minimum=0) if f.cls.startswith("Qwen2Moe") else 0
    if shared:
        layers += [
            {"name": "shared_expert", "from": "input", "layers": gated_mlp(shared, hidden, act, False)},
            named_entry("linear", "shared_expert_gate", out=1, bias=False, **{"from": "input"}),
            {"sigmoid": {"name": "sigmoid_gate"}},
            {"mul": {"from": ["shared_expert", "sigmoid_gate"]}},
            {"add": {"from": "experts"}},
        ]
    return layers


def _sparse(c: Config, layers: int) -> list[bool]:
    """Which layers hold the mixture (Qwen-MoE: every decoder_sparse_step-th, but mlp_only_layers)."""
    step = c.int("decoder_sparse_step", 1)
    dense = c.raw.get("mlp_only_layers") or []
    if not isinstance(dense, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in dense):
        raise SpecError(f"{c.source}: 'mlp_only_layers' expects a list of layer indices")
    return [i not in dense and (i + 1) % step == 0 for i in range(layers)]


def rotary_buffers(rotary_dim: int, sets=("",)) -> dict:
    """transformers' rotary embedding module: per set of tables inv_freq and original_inv_freq, rotary_dim / 2
    each (buffers, not in the state_dict)."""
    return {
        "name": "rotary_emb",
        "layers": [
            {"buffer": {"shape": [rotary_dim // 2], "persistent": False, "name": f"{prefix}{name}"}}
            for prefix in sets
            for name in ("inv_freq", "original_inv_freq")
        ],
    }


def decoder_layer(f: Family, eps: float, attn: list, mlp: list, mlp_name: str = "mlp") -> dict:
    """One layer: the family's norms around self_attn and the MLP, each with a residual connection."""

    def norm(name, **more):
        return norm_entry(f, eps, name, **more)

    if f.layout == "parallel":  # attention and MLP both read the one norm; their sum joins the residual
        layers = [
            norm("input_layernorm"),
            {"name": "self_attn", "layers": attn},
            {"name": mlp_name, "from": "input_layernorm", "layers": mlp},
            {"add": {"from": ["input", "self_attn", mlp_name]}},
        ]
    elif f.layout == "post":  # OLMo-2: norms on the outputs of attention and MLP, before each residual add
        layers = [
            {"name": "self_attn", "layers": attn},
            norm("post_attention_layernorm"),
            {"add": {"from": ["input", "post_attention_layernorm"], "name": "residual"}},
            {"name": mlp_name, "layers": mlp},
            norm("post_feedforward_layernorm"),
            {"add": {"from": ["residual", "post_feedforward_layernorm"]}},
        ]
    elif f.layout == "sandwich":
        layers = [
            norm("input_layernorm"),
            {"name": "self_attn", "layers": attn},
            norm("post_attention_layernorm"),
            {"add": {"from": ["input", "post_attention_layernorm"], "name": "residual"}},
            norm("pre_feedforward_layernorm"),
            {"name": mlp_name, "layers": mlp},
            norm("post_feedforward_layernorm"),
            {"add": {"from": ["residual", "post_feedforward_layernorm"]}},
        ]
    else:
        layers = [
            norm("input_layernorm"),
            {"name": "self_attn", "layers": attn},
            {"add": {"from": "input", "name": "residual"}},
            norm("post_attention_layernorm"),
            {"name": mlp_name, "layers": mlp},
            {"add": {"from": "residual"}},
        ]
    return {"args": {"window": 0}, "layers": layers}


def stack(blocks: list[str], windows: list) -> dict:
    """The layers: one repeat where every layer is alike, else each written out with its block and window."""
    if len(set(zip(blocks, windows))) == 1:
        return {"repeat": len(windows), "name": "layers", blocks[0]: {"window": windows[0]} if windows[0] else {}}
    return {
        "name": "layers",
        "layers": [{b: {"window": w} if w else {}, "name": str(i)} for i, (b, w) in enumerate(zip(blocks, windows))],
    }


def dims(c: Config, f: Family) -> tuple[int, int, int, int]:
    hidden = c.int("hidden_size")
    heads = c.int("num_attention_heads")
    kv = c.int("num_key_value_heads", heads)
    if heads % kv:
        raise SpecError(f"{c.source}: num_key_value_heads ({kv}) must divide num_attention_heads ({heads})")
    default = f.head_dim or (hidden // heads if hidden % heads == 0 else None)
    head_dim = c.int("head_dim", default) if c.raw.get("head_dim") is not None or default is None else default
    return hidden, heads, kv, head_dim


def causal_lm(
    c: Config, f: Family, seq: int, blocks: dict, per_layer: list[str], windows: list, rotary_dim: int, eps: float
) -> dict:
    """model (embed_tokens, rotary_emb, layers, norm) and lm_head (tied to the embedding or not)."""
    hidden, vocab = c.int("hidden_size"), c.int("vocab_size")
    model = [
        named_entry("embedding", "embed_tokens", num=vocab, dim=hidden, **{"from": "input_ids"}),
        *([{"buffer": {"shape": [1], "persistent": False, "name": "embed_scale"}}] if f.scaled_embedding else []),
        # Gemma's embedding multiplies its output by √hidden (embed_scale)
        *(
            [{"scale": {"by": hidden**0.5, "from": "embed_tokens", "name": "scaled_embedding"}}]
            if f.scaled_embedding
            else []
        ),
        rotary_buffers(rotary_dim, f.rotary_sets),
        {**stack(per_layer, windows), "from": "scaled_embedding" if f.scaled_embedding else "embed_tokens"},
        norm_entry(f, eps, f.final_norm),
    ]
    head = named_entry("linear", "lm_head", out=vocab, bias=f.head_bias)
    if c.flag("tie_word_embeddings", f.tie):
        head["linear"]["tie"] = "model.embed_tokens"
    return {
        "inputs": {"input_ids": [seq]},
        "blocks": blocks,
        "layers": [{"name": "model", "layers": model}, head],
    }


def _bias(c: Config, key: str, default: bool = False) -> bool:
    """A projection's bias: the config's flag named by the family ('+': always, '': never)."""
    return key == "+" or (bool(key) and key != "+" and c.flag(key, default))


def _operation(c: Config, f: Family, family: str, head_dim: int, rotary_dim: int) -> dict:
    """The attention operation's fields the family sets, but rope's base and scaling."""
    op: dict = {} if rotary_dim == head_dim else {"rotary_dim": rotary_dim - rotary_dim % 2}
    if f.sinks:
        op["sinks"] = True
    if family == "gemma2":
        # transformers' default is 50.0; null turns it off
        softcap = c.number("attn_logit_softcapping", 50.0) if c.raw.get("attn_logit_softcapping", 0) is not None else 0
        if softcap:
            op["softcap"] = softcap
    if family.startswith("gemma") and family != "gemma":  # logits scaled by query_pre_attn_scalar^-0.5
        scalar = c.number("query_pre_attn_scalar", 256)
        if scalar != head_dim:
            op["scale"] = scalar**-0.5
    return op


def _sliding_rope(c: Config) -> dict:
    """Gemma 3's sliding layers' rope: their own base (rope_local_base_freq, or transformers 5's
    rope_parameters.sliding_attention), never scaled."""
    params = c.raw.get("rope_parameters")
    if isinstance(params, dict) and isinstance(params.get("sliding_attention"), dict):
        return rope_fields(Config({"rope_parameters": params["sliding_attention"]}, c.source))
    return rope_fields(Config({"rope_theta": c.raw.get("rope_local_base_freq", 10000.0)}, c.source))


def llama_like(c: Config, family: str, seq: int) -> dict:
    f = FAMILIES[family]
    hidden, heads, kv, head_dim = dims(c, f)
    qkv_key, out_key, mlp_key = f.bias_keys
    eps = c.number(f.eps_key, f.eps) if f.eps_key else f.eps
    act_key = "hidden_activation" if family.startswith("gemma") and "hidden_activation" in c.raw else "hidden_act"
    act = c.activation(act_key, f.act, GELU)
    for flag in ("qk_layernorm", "use_qk_norm", "use_parallel_residual"):
        if c.flag(flag, False):
            raise SpecError(f"{c.source}: '{flag}: true' is not supported for model_type {family}")
    rotary_dim = int(head_dim * rope_number(c, "partial_rotary_factor", f.rotary_fraction))
    op = _operation(c, f, family, head_dim, rotary_dim)
    windows = _windows(c, f, c.int("num_hidden_layers"))

    def attn_of(rope: dict) -> list:
        return attention(
            heads,
            kv,
            head_dim,
            hidden,
            qkv_bias=True if f.qkv_bias else _bias(c, qkv_key, f.bias_default),
            out_bias=_bias(c, out_key, f.bias_default),
            window="$window" if any(windows) else None,
            qk_norm_eps=eps if f.qk_norm else None,
            qk_norm_width=f.qk_norm_width,
            qk_norm_offset=f.norm_offset,
            fused=f.fused_qkv,
            out_name=f.out_name,
            **op,
            **rope,
        )

    attn = attn_of(rope_fields(c, f.rope_interleaved, theta=f.theta))
    mlp = mlp_layers(f, c.int("intermediate_size"), hidden, act, _bias(c, mlp_key, f.bias_default))
    layers = c.int("num_hidden_layers")
    local = _sliding_rope(c) if len(f.rotary_sets) > 1 and any(windows) else None
    if local is not None and attn_of(local) != attn:  # Gemma 3: sliding layers with their own rope
        blocks = {
            "decoder_layer": decoder_layer(f, eps, attn, mlp),
            "sliding_layer": decoder_layer(f, eps, attn_of(local), mlp),
        }
        per_layer = ["sliding_layer" if w else "decoder_layer" for w in windows]
    elif not f.moe:
        blocks, per_layer = {"decoder_layer": decoder_layer(f, eps, attn, mlp)}, ["decoder_layer"] * layers
    else:
        sparse = _sparse(c, layers)
        per_layer = ["moe_layer" if s else "decoder_layer" for s in sparse]
        blocks = {"moe_layer": decoder_layer(f, eps, attn, moe_mlp(c, f, hidden, act))}
        if not all(sparse):
            blocks["decoder_layer"] = decoder_layer(f, eps, attn, mlp)
    spec = causal_lm(c, f, seq, blocks, per_layer, windows, rotary_dim, eps)
    if family == "cohere":  # CohereForCausalLM multiplies the logits by logit_scale
        spec["layers"].append({"scale": {"by": c.number("logit_scale", 0.0625), "name": "logit_scale"}})
    return spec
