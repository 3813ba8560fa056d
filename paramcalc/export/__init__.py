"""Spec -> PyTorch source: a module that imports only torch and defines `build_model()`.

Pure text generation (torch is never imported here). The module tree follows the spec's hierarchical
names, so `state_dict()` keys are the spec's names (`layer1.0.conv1.weight`): a spec written with
torchvision's names loads torchvision's weights. Each block of the spec is a class; literals that
differ between its uses become constructor arguments (named after the block's arguments where they
match), a module some uses leave out (`when:`) is optional (a flag argument), uses that differ
otherwise in structure get one class each. A repeat or group that is a plain chain is an
nn.Sequential; a repeat of blocks that also read other values an nn.ModuleList forward loops over;
else an nn.ModuleList / nn.ModuleDict whose modules forward calls. Calls are written as ruff format
writes them.

What each kind becomes (an nn constructor, an expression in forward) is the kind's own binding, declared
beside it in layers/ (Layer.torch_module and Layer.torch_forward); this package writes no kind by name.
The work is cut by job: names.py (what a name may be), pyformat.py (ruff's layout), tree.py (the module
tree), init.py (__init__ statements), forward.py (forward), blocks.py (block classes), module.py (the
module's text).

Spec text is untrusted: every value written into the code is a validated field value passed through
repr() (layers/binding.py's q), every name is either a plain ASCII identifier or a repr()'d string,
class names keep only ASCII letters and digits, and every local variable is generated here. Nothing
from a spec is ever written into a comment.
"""

from __future__ import annotations

from ..spec import Spec


def export_pytorch(spec: Spec) -> str:
    """PyTorch source for a spec. Raises SpecError for an invalid spec or a kind that cannot be exported."""
    from ..analysis import Analysis
    from .blocks import Blocks
    from .module import Module
    from .tree import Tree

    # validates the spec (shapes chain, fields are valid); the memory model is not read here
    analysis = Analysis.of(spec, receptive_fields=False, activations=False)
    tree = Tree(spec, analysis.graph, analysis.shapes)
    blocks = Blocks(tree)
    blocks.collect()
    return Module(tree, blocks, analysis.token_inputs()).render()
