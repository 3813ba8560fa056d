"""How graph.py expands a spec's entries into its graph, in named parts. graph.build_graph runs an
_Expander, which is the parts put together; each is a mixin over one State:

    state.py     the limits, a Scope (where names resolve), the expansion's state and its budgets
    records.py   what it makes: Node (a leaf layer), Block (a run of nodes), Graph
    entries.py   walking entries: conditions, groups, a block's use, one leaf layer
    naming.py    names: defining them, resolving `from:`/`tie:`/shape(NAME), a leaf's hierarchical name
    building.py  a layer from its fields (${...} substituted, shapes read), built once where it can be
    wiring.py    what a layer reads: `from:`, its arity, `freeze:` and `tie:`
    repeats.py   `repeat: N` (with `first:`), and when a repetition can be stamped
    stamping.py  a repetition copied from the one before it, renamed, rather than expanded again
"""
