"""The steps of `paramcalc import torch` (paramcalc/importers/torch.py is the front door):

modules.py   a torch module -> its kind and fields, or None; weight ties
fx.py        a torch.fx graph -> spec entries (FxSpec: names, per-sample shapes, declared tensors)
ops.py       fx's call_function / call_method nodes -> layers (one handler per operation family)
swin.py      torchvision's Swin functions, written out as the layers they compute
hooks.py     the fallback where no graph can be traced: forward hooks record the module calls
guard.py     the imported spec against the model: totals and output shape, or a refusal
"""


class Unsupported(Exception):
    """A construct this tracer cannot write as a spec; the next tracer is tried, and the message kept."""
