"""Reading a Hugging Face `config.json` that may be hostile, and the checks every family shares.

A config arrives in a pull request like a spec does. It is read only if it is a regular file of at
most 1 MiB (asked of the file before reading, and never more than that read), parsed as strict JSON
(no NaN or Infinity; integers of at most 19 digits; 32 levels of nesting), and every value the
importers read is checked against what transformers' config classes accept and a limit that keeps
the spec's sizes far below 2^63, before any of it is used.
"""

from __future__ import annotations

import json
import math
import os
import stat

from ..errors import SpecError, describe
from ..escape import cut

MAX_BYTES = 2**20
MAX_DEPTH = 32
MAX_DIGITS = 19  # of a JSON integer: every size below is far smaller, and 10^19 parses at once

# The largest published configs are well inside these (vocab 262,144; hidden 25,600; 126 layers;
# context 10,485,760). With them, the largest tensor (vocab x hidden) is 2^44 elements and the
# parameters stay below 2^60.
MAX_WIDTH = 2**20  # hidden sizes
MAX_INNER = 2**22  # feed-forward sizes
MAX_HEADS = 2**16  # heads, and the width of one
MAX_LAYERS = 10_000
MAX_VOCAB = 2**24  # vocabularies, labels, token types
MAX_POSITIONS = 2**24  # positions, and --seq
SIZES = {
    **dict.fromkeys(("hidden_size", "n_embd", "d_model"), MAX_WIDTH),
    **dict.fromkeys(("embedding_size", "pooler_hidden_size"), MAX_WIDTH),
    **dict.fromkeys(("num_hidden_groups", "inner_group_num"), MAX_LAYERS),
    **dict.fromkeys(("intermediate_size", "n_inner", "d_ff"), MAX_INNER),
    **dict.fromkeys(
        ("num_attention_heads", "n_head", "num_heads", "num_key_value_heads", "head_dim", "d_kv"), MAX_HEADS
    ),
    **dict.fromkeys(("num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers"), MAX_LAYERS),
    **dict.fromkeys(("vocab_size", "type_vocab_size", "num_labels"), MAX_VOCAB),
    **dict.fromkeys(("max_position_embeddings", "n_positions"), MAX_POSITIONS),
    **dict.fromkeys(("relative_attention_num_buckets", "image_size", "patch_size", "num_channels"), 2**16),
    **dict.fromkeys(("num_conv_pos_embeddings", "num_conv_pos_embedding_groups", "num_feat_extract_layers"), 2**16),
    **dict.fromkeys(("position_buckets", "max_relative_positions"), MAX_WIDTH),
}
# per-stage sizes of the vision families (ConvNeXt, Swin): lists of at most MAX_STAGES items, each within its
# limit; Swin's num_heads is such a list, where the other families' is one integer
MAX_STAGES = 64
STAGES = {"hidden_sizes": MAX_WIDTH, "depths": MAX_LAYERS}
LISTED = {"swin": {"num_heads": MAX_HEADS}}
SIZES.update({"embed_dim": MAX_WIDTH, "num_stages": MAX_STAGES, "window_size": 2**16})
# encoder-decoders' (Whisper's, BART's) sizes per stack
SIZES.update(
    {
        **dict.fromkeys(("encoder_layers", "decoder_layers"), MAX_LAYERS),
        **dict.fromkeys(("encoder_attention_heads", "decoder_attention_heads"), MAX_HEADS),
        **dict.fromkeys(("encoder_ffn_dim", "decoder_ffn_dim"), MAX_INNER),
        **dict.fromkeys(("max_source_positions", "max_target_positions"), MAX_POSITIONS),
        "num_mel_bins": 2**16,
    }
)
MINIMUM = {"type_vocab_size": 0, "position_buckets": -1, "max_relative_positions": -1}  # (0: none; -1: none)
# lists of sizes, one per layer (wav2vec2's feature encoder; Mamba's conv_kernel is one size), with the limit
# of each entry
SIZE_LISTS = {"conv_dim": MAX_WIDTH, "conv_kernel": 2**16, "conv_stride": 2**16}
LISTS_OF = ("wav2vec2",)
MAX_LIST = 64
EPSILONS = ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon")
PROBABILITIES = (
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "embd_pdrop",
    "resid_pdrop",
    "attn_pdrop",
    "dropout_rate",
    "attention_dropout",
    "hidden_dropout",
    "activation_dropout",
    "feat_proj_dropout",
    "final_dropout",
    "mask_time_prob",
    "mask_feature_prob",
    "pooler_dropout",
)
FLAGS: tuple[str, ...] = ("tie_word_embeddings", "attention_bias", "mlp_bias", "qkv_bias", "conv_bias", "legacy")
FLAGS += ("do_stable_layer_norm", "add_adapter", "use_weighted_layer_sum", "relative_attention", "share_att_key")
FLAGS += ("position_biased_input",)
NAMES: tuple[str, ...] = ("model_type", "hidden_act", "hidden_activation", "activation_function", "feed_forward_proj")
NAMES += ("feat_extract_norm", "feat_extract_activation", "pooler_hidden_act", "norm_rel_ebd")
# (width, heads): transformers refuses a width that the heads do not divide, unless head_dim says otherwise
HEADS = (("hidden_size", "num_attention_heads"), ("n_embd", "n_head"))


def read_config(path: str) -> tuple[dict, str]:
    """The config as a dict, and the name its messages use; any problem is an exit-2 message."""
    shown = cut(path, 160)
    data = _read(path, shown)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"{shown}: not UTF-8 (byte {e.start}); a config.json is UTF-8 JSON") from None
    try:
        raw = json.loads(text, parse_int=_integer, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise SpecError(f"{shown}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
    except RecursionError:
        raise SpecError(f"{shown}: nests deeper than {MAX_DEPTH} levels; not a config.json") from None
    except ValueError as e:  # from the hooks below: the message is theirs
        raise SpecError(f"{shown}: {e}") from None
    if _depth(raw) > MAX_DEPTH:
        raise SpecError(f"{shown}: nests deeper than {MAX_DEPTH} levels; not a config.json")
    if not isinstance(raw, dict):
        raise SpecError(f"{shown}: a config.json is a JSON object, found {describe(raw)}")
    return raw, path


def _read(path: str, shown: str) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file, its size asked first; never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SpecError(f"{shown}: no such file") from None
    except (OSError, ValueError) as e:
        raise SpecError(f"{shown}: cannot be read: {getattr(e, 'strerror', None) or 'not a valid file name'}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"{shown}: is not a file" + (" (a directory)" if stat.S_ISDIR(info.st_mode) else ""))
        if info.st_size > MAX_BYTES:
            raise SpecError(f"{shown}: {info.st_size:,} bytes, larger than 1 MiB; not a config.json")
        chunks, left = [], MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise SpecError(f"{shown}: cannot be read: {e.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_BYTES:  # it grew while being read
        raise SpecError(f"{shown}: larger than 1 MiB; not a config.json")
    return data


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(text):,} digits; a config's numbers are sizes (at most {MAX_DIGITS})")
    return int(text)


def _constant(text: str):
    raise ValueError(f"{text} is not JSON (and no config value may be {text})")


def _depth(value) -> int:
    """Nesting of a parsed value, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


class Fields:
    """A config's values by key, each fetched as the type it must have and within its limits; a
    failure names the file, the key, what was expected and what was found."""

    def __init__(self, raw: dict, source: str):
        self.raw, self.source = raw, cut(source, 160)

    def fail(self, key: str, wanted: str, value) -> SpecError:
        return SpecError(f"{self.source}: '{key}' expects {wanted}, found {describe(value)}")

    def ints(self, key: str, maximum: int) -> list | None:
        value = self.raw.get(key)
        if value is not None and (
            not isinstance(value, list)
            or not 1 <= len(value) <= MAX_STAGES
            or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= maximum for v in value)
        ):
            raise self.fail(key, f"a list of 1 to {MAX_STAGES} positive integers up to {maximum:,}", value)
        return value

    def int(self, key: str, maximum: int, minimum: int = 1) -> int | None:
        value = self.raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum
        ):
            wanted = "a positive integer" if minimum == 1 else f"an integer from {minimum:,}"
            raise self.fail(key, f"{wanted} up to {maximum:,}", value)
        return value

    def number(self, key: str, low: float, high: float, *, above_low: bool = False) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, "a finite number", value)
        if (value <= low if above_low else value < low) or value > high:
            raise self.fail(
                key, f"a number {'above' if above_low else 'from'} {low} {'up ' if above_low else ''}to {high}", value
            )
        return value

    def flag(self, key: str) -> bool | None:
        value = self.raw.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def name(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 100):
            raise self.fail(key, "a name (a short string)", value)
        return value

    def names(self, key: str) -> list | None:
        value = self.raw.get(key)
        if value is not None and (
            not isinstance(value, list) or len(value) > 100 or any(not isinstance(v, str) or len(v) > 99 for v in value)
        ):
            raise self.fail(key, "a list of names (short strings)", value)
        return value


def _sizes(fields: Fields, key: str, maximum: int) -> None:
    """A list of 1 to MAX_LIST sizes."""
    value = fields.raw.get(key)
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_LIST
        or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= maximum for v in value)
    ):
        raise fields.fail(key, f"a list of 1 to {MAX_LIST} positive integers up to {maximum:,}", value)


def check_config(raw: dict, source: str, seq: int | None) -> None:
    """What every family's config must satisfy, as transformers' config classes and layers require,
    checked before an importer reads it."""
    fields = Fields(raw, source)
    for key in NAMES:
        fields.name(key)
    fields.names("architectures")
    lists = SIZE_LISTS if raw.get("model_type") in LISTS_OF else {}
    for key, limit in lists.items():
        if raw.get(key) is not None:
            _sizes(fields, key, limit)
    lengths = {key: len(raw[key]) for key in lists if raw.get(key) is not None}
    if len(set(lengths.values())) > 1:
        raise SpecError(
            f"{fields.source}: conv_dim, conv_kernel and conv_stride must have one entry per layer each, found "
            + ", ".join(f"{n}" for n in lengths.values())
            + " entries; transformers refuses such a config"
        )
    for key in FLAGS:
        fields.flag(key)
    listed = LISTED.get(str(raw.get("model_type")), {})
    for key, maximum in {**STAGES, **listed}.items():
        fields.ints(key, maximum)
    for key, maximum in SIZES.items():
        if key in listed:
            continue
        try:
            fields.int(key, maximum, MINIMUM.get(key, 1))
        except SpecError as e:
            if maximum == MAX_POSITIONS:  # the default sequence length, where --seq does not say one
                e.hint = "--seq sets the sequence length; the config's positions must still be a sane size"
            raise
    for key in EPSILONS:  # a norm divides by sqrt(var + eps): positive, and small
        fields.number(key, 0, 1, above_low=True)
    for key in PROBABILITIES:
        fields.number(key, 0, 1)
    if "head_dim" not in raw or raw["head_dim"] is None:
        for width, heads in HEADS:
            if raw.get(width) and raw.get(heads) and raw[width] % raw[heads]:
                raise SpecError(
                    f"{fields.source}: the hidden size ('{width}' {raw[width]:,}) is not a multiple of the number "
                    f"of attention heads ('{heads}' {raw[heads]:,}), and there is no 'head_dim'; transformers "
                    "refuses such a config"
                )
    for key in ("text_config", "vision_config"):  # CLIP's towers: configs of their own, checked alike
        if isinstance(raw.get(key), dict):
            check_config(raw[key], f"{source} ({key})", None)
    if seq is not None and seq > MAX_POSITIONS:
        raise SpecError(f"--seq {seq:,} is above the limit of {MAX_POSITIONS:,} positions")
