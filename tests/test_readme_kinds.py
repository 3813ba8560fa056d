"""README's list of kinds is the registry's, family by family."""

import re
from pathlib import Path

from paramcalc.layers import FAMILIES, REGISTRY, family_of

README = (Path(__file__).parent.parent / "README.md").read_text()


def expected_table() -> str:
    lines = ["| family | kinds |", "|:--|:--|"]
    for family in FAMILIES:
        kinds = [kind for kind, cls in REGISTRY.items() if family_of(cls) == family]
        lines.append(f"| {family} | {', '.join(f'`{k}`' for k in kinds)} |")
    return "\n".join(lines)


def test_readme_lists_every_kind():
    shown = re.search(r"<!-- kinds -->\n(.*?)\n<!-- /kinds -->", README, re.S)
    assert shown, "README lacks the <!-- kinds --> table"
    assert shown.group(1) == expected_table(), "README's kinds table is stale; it should be:\n" + expected_table()
