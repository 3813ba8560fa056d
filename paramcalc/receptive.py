"""Receptive fields: which network-input positions each layer's output positions depend on.

As in "Computing Receptive Fields of Convolutional Neural Networks" (Araujo, Norris, Sim; Distill
2019), per spatial dim: the size (in input pixels), the stride (how far the field moves from one
output position to the next) and the start (the input coordinate where the first output
position's field begins; negative when it begins in the padding). Sizes are unclipped: what the
field spans when the input goes on past its border, as in the paper.

Each dim is tracked exactly as a periodic map from output positions to the interval of input
positions they read (a Reach, in network-input coordinates), so transposed convolutions,
upsampling and adaptive pooling, whose fields differ from one position to the next, are exact; the
size is then the largest over positions. Merged paths take the union of their fields. Layers say
how they read their input with `Layer.reach`; this module only composes those maps.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

from .layers.base import GLOBAL, MAX_PERIOD, SAME, Moved, Reach

IDENTITY = Reach(1, 1, (0,), (0,))
BROADCAST = Reach(1, 0, (0,), (0,))  # a size-1 dim stretched over the output: every position reads 0
MAX_STRANDS = 8  # paths with different strides, kept apart
_new_reach = tuple.__new__  # Reach's own __new__ without its Python frame: a 100,000-layer chain makes one per layer


class Field(NamedTuple):
    """A tensor's dependence on a spatial network input of size `extent`. `axes` has one entry per
    spatial dim: GLOBAL, or the strands (one per distinct stride among merged paths)
    whose union it reads; None when the tensor depends on the input but no longer keeps its
    positions as dims of their own (after flatten or a reshape into windows, or with no spatial
    dims left). `dims` says where the spatial dims are (negative indices of the sample's dims):
    the trailing ones unless a permute moved them, as to channels last (H, W, C)."""

    extent: tuple[int, ...]
    axes: tuple | None = None
    dims: tuple[int, ...] | None = None

    @property
    def where(self) -> tuple[int, ...]:
        return self.dims if self.dims is not None else tuple(range(-len(self.extent), 0))

    @property
    def is_global(self) -> bool:
        return self.axes is not None and self.axes.count(GLOBAL) == len(self.axes)


def input_field(shape) -> Field | None:
    """A (C, L), (C, H, W) or (C, D, H, W) input is spatial; token ids or feature vectors are not."""
    if not 2 <= len(shape) <= 4:
        return None
    return Field(tuple(shape[1:]), ((IDENTITY,),) * (len(shape) - 1))


def through(reach, fields: list, shapes: list, out) -> Field | None:
    """The field of a layer's output, from its inputs' fields and how it reads them (its
    Layer.reach at these shapes)."""
    if len(fields) == 1 and reach == SAME and tuple(shapes[0]) == tuple(out):
        return fields[0]  # the common case (activations, norms): nothing moves
    if len(fields) == 1 and type(reach) is tuple and fields[0] is not None:
        window = _window(reach, fields[0], len(shapes[0]), out)
        if window is not None:
            return window
    sources = [(f, tuple(s)) for f, s in zip(fields, shapes) if f is not None]
    if not sources:
        return None
    extent = sources[0][0].extent
    lost = _lost(extent)
    # (the tests over `sources` skip their loop for one input: a convolution's field is made 100,000
    # times in a 100,000-layer spec)
    if len(out) < 2 or (len(sources) > 1 and any(f.extent != extent for f, _ in sources)):
        return lost
    if isinstance(reach, Moved):  # a permute: the same positions, in other dims
        return _permuted(reach, sources[0][0], out, lost)
    # a global input stays global through what follows, and reaches every position of a merge
    merged = any if reach == SAME else all
    if reach == GLOBAL or merged([f.is_global for f, _ in sources]):
        return Field(extent, (GLOBAL,) * len(extent))
    if (
        reach is None
        or (isinstance(reach, tuple) and None in reach)
        or any([f.axes is None or len(s) != len(out) for f, s in sources])
    ):
        return lost
    where = sources[0][0].where
    if (len(sources) > 1 and any(f.where != where for f, _ in sources)) or -min(where) > len(out):
        return lost
    axes = _merged(sources, where, out) if reach == SAME else _read_by(tuple(reach), sources[0][0], shapes, out)
    if axes is None or None in axes:
        return lost
    return Field(extent, axes, sources[0][0].dims)


def _permuted(reach: Moved, f: Field, out, lost: Field) -> Field:
    """`through` a permute: the same positions, in other dims."""
    if f.axes is None:
        return lost
    dims = tuple(reach.order.index(len(out) + d) - len(out) for d in f.where)
    return Field(f.extent, f.axes, None if dims == tuple(range(-len(dims), 0)) else dims)


def _merged(sources: list, where: tuple, out) -> tuple | None:
    """The axes of an elementwise layer's output (a merge, or an activation that broadcasts): each
    spatial dim the union of its inputs' strands there. None where a path was joined or split
    along a spatial dim, as positions no longer line up."""
    per_input: list = []
    spatial = tuple(out[d] for d in where)
    for f, shape in sources:
        if tuple(shape[d] for d in where) == spatial:  # the common case: merged paths of the same spatial size
            per_input.append(f.axes)
            continue
        moved = []
        for axis, d in zip(f.axes, where):
            if axis == GLOBAL or shape[d] == out[d]:
                moved.append(axis)
            elif shape[d] == 1:
                moved.append(_apply(BROADCAST, axis))
            else:
                return None
        per_input.append(moved)
    return tuple(_union(list(column)) for column in zip(*per_input))


def _read_by(reach: tuple, f: Field, shapes: list, out) -> tuple | None:
    """The axes of a layer that reads its trailing dims by `reach` (one per dim). It keeps the dims
    before them, except a channels dim just before (convolutions): a spatial dim there goes
    untracked (None)."""
    if len(shapes[0]) == len(reach) + 1 and -len(out) in f.where:
        return None
    return _read(f.axes, [reach[d] if -d <= len(reach) else SAME for d in f.where])


def _window(reach: tuple, field: Field, rank: int, out) -> Field | None:
    """`through` in its next most common case, without its general tests (a long chain makes a
    convolution's field every few layers): one input, tracked along its trailing dims and none of
    them global, each read by the layer (a convolution, a pooling). None for any other case, or when
    a strand cannot be followed: the general code then says what the field is."""
    axes, n = field.axes, len(field.extent)
    if (
        axes is None
        or field.dims is not None
        or not n <= len(reach)
        or not n < rank == len(out)
        or GLOBAL in axes
        or None in reach
    ):
        return None
    axes = _read(axes, reach[-n:])
    return None if axes is None else Field(field.extent, axes)


def _read(axes, entries) -> tuple | None:
    """Each spatial axis of a field as a layer reads it, by its reach along that dim (a Reach, SAME
    or GLOBAL); None where a strand cannot be followed."""
    moved = []
    for axis, entry in zip(axes, entries):
        if type(entry) is str:  # SAME or GLOBAL; a Reach is never compared to them (its __eq__ is slow)
            moved.append(axis if entry == SAME else GLOBAL)
        elif axis == GLOBAL:
            moved.append(GLOBAL)
        elif (applied := _apply(entry, axis)) is None:
            return None
        else:
            moved.append(applied)
    return tuple(moved)


@functools.lru_cache(maxsize=64)
def _lost(extent: tuple[int, ...]) -> Field:
    """The field of a tensor that depends on the input but no longer keeps its positions; one per extent."""
    return Field(extent)


def describe(field: Field | None, out) -> dict | None:
    """The JSON form: null without spatial dims, else size, stride and start per spatial dim."""
    if field is None or field.axes is None:
        return None
    # (the trailing dims, most often: a slice, not a generator, as a 100,000-layer chain has a field per layer)
    return _describe(field, out[-len(field.extent) :] if field.dims is None else [out[d] for d in field.dims])


def _describe(field: Field, out) -> dict:
    assert field.axes is not None, "describe() returns null for an untracked field"
    size, stride, start = [], [], []
    for axis, extent, length in zip(field.axes, field.extent, out):
        if axis == GLOBAL:  # every position sees all of the input, so the field does not move
            size.append(extent)
            stride.append(0)
            start.append(0)
            continue
        if len(axis) == 1 and axis[0].period == 1:  # the common case: a field that moves evenly
            strand = axis[0]
            size.append(strand.hi[0] - strand.lo[0] + 1)
            stride.append(strand.shift)
            start.append(strand.lo[0])
            continue
        # one stride: the pattern repeats every period; several: the paths drift apart, so every position counts
        positions = range(axis[0].period) if len(axis) == 1 else range(length)
        spans = [span for span in (_union_at(axis, o) for o in positions) if span is not None]
        size.append(max(hi - lo + 1 for lo, hi in spans))
        start.append(spans[0][0])
        shift, period = max(((s.shift, s.period) for s in axis), key=lambda sp: sp[0] / sp[1])
        stride.append(shift // period if shift % period == 0 else shift / period)
    return {"size": size, "stride": stride, "start": start, "global": field.is_global}


def _at(reach: Reach, o: int):
    i = o % reach.period
    if reach.lo[i] is None:
        return None
    moved = (o // reach.period) * reach.shift
    return reach.lo[i] + moved, reach.hi[i] + moved


def _union_at(strands, o: int):
    spans = [span for span in (_at(s, o) for s in strands) if span is not None]
    if not spans:
        return None
    return min(lo for lo, _ in spans), max(hi for _, hi in spans)


def _apply(layer_reach: Reach, axis):
    """Composes a layer's reach (output -> layer-input positions) with each strand of its input
    (layer-input -> network-input positions)."""
    if len(axis) == 1:  # the common case: one strand
        strand = _compose(layer_reach, axis[0])
        return None if strand is None else (strand,)
    strands = tuple([_compose(layer_reach, strand) for strand in axis])
    return None if None in strands else strands


def _compose(outer: Reach, inner: Reach) -> Reach | None:
    if outer.period == inner.period == 1:  # windows on an evenly moving field: the paper's recurrence
        shift = inner.shift
        return _new_reach(
            Reach, (1, outer.shift * shift, (inner.lo[0] + outer.lo[0] * shift,), (inner.hi[0] + outer.hi[0] * shift,))
        )
    # repeat after enough output periods to move the layer input by a whole number of inner periods
    repeats = inner.period // math.gcd(outer.shift, inner.period)
    period = outer.period * repeats
    if period > MAX_PERIOD:
        return None
    shift = inner.shift * (outer.shift * repeats // inner.period)
    lo: list[int | None] = []
    hi: list[int | None] = []
    for o in range(period):
        span = _at(outer, o)
        first = last = None
        if span is not None:
            a, b = span
            # an input position may read nothing (between transposed taps); such gaps repeat every inner period
            for x in range(a, min(b, a + inner.period - 1) + 1):
                if (first := _at(inner, x)) is not None:
                    break
            for x in range(b, max(a, b - inner.period + 1) - 1, -1):
                if (last := _at(inner, x)) is not None:
                    break
        if first is None or last is None:
            lo.append(None)
            hi.append(None)
        else:
            lo.append(first[0])
            hi.append(last[1])
    return Reach(period, shift, tuple(lo), tuple(hi))


def _union(axes: list):
    """The union of merged paths' fields along one dim: strands with the same stride combine into
    one (over a common period); different strides stay apart."""
    if any(axis == GLOBAL for axis in axes):
        return GLOBAL
    if len(axes) == 1 or all(axis is axes[0] or axis == axes[0] for axis in axes):
        return axes[0]
    if all(len(axis) == 1 and axis[0].period == 1 and axis[0].shift == axes[0][0].shift for axis in axes):
        return (Reach(1, axes[0][0].shift, (min(a[0].lo[0] for a in axes),), (max(a[0].hi[0] for a in axes),)),)
    by_stride: dict[tuple[int, int], list[Reach]] = {}
    for strand in (s for axis in axes for s in axis):
        common = math.gcd(strand.shift, strand.period)
        by_stride.setdefault((strand.shift // common, strand.period // common), []).append(strand)
    if len(by_stride) > MAX_STRANDS:
        return None
    merged = []
    for group in by_stride.values():
        if all(s == group[0] for s in group):
            merged.append(group[0])
            continue
        period = math.lcm(*(s.period for s in group))
        if period > MAX_PERIOD:
            return None
        spans = [_union_at(group, o) for o in range(period)]
        merged.append(
            Reach(
                period,
                group[0].shift * period // group[0].period,
                tuple(None if s is None else s[0] for s in spans),
                tuple(None if s is None else s[1] for s in spans),
            )
        )
    return tuple(merged)
