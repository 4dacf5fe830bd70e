"""The API index: regenerating a release from its source gives what the committed index holds for it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nnunet_doctor.rules import api_index


def test_the_installed_nnunetv2_regenerates_its_release_of_the_committed_index() -> None:
    nnunetv2 = pytest.importorskip("nnunetv2")
    from importlib.metadata import version

    installed = version("nnunetv2")
    package = api_index.load()["packages"]["nnunetv2"]
    if installed not in package["releases"]:
        pytest.skip(f"nnunetv2 {installed} is not in the index")
    fresh = api_index.merge({installed: api_index.read_folder(Path(nnunetv2.__file__).parent, "nnunetv2", "nnunetv2")})
    assert api_index.release_view(package, installed) == fresh


def test_the_index_covers_every_family_package_and_stays_compact() -> None:
    index = api_index.load()
    assert set(index["packages"]) == set(api_index.PACKAGES)
    assert [r for r in index["packages"]["nnunetv2"]["releases"] if r.startswith("2.0") or r == "2.8.1"] == ["2.0", "2.8.1"]
    assert api_index.INDEX_FILE.stat().st_size < 300_000


def test_a_release_records_names_signatures_imports_calls_and_plans_keys(tmp_path: Path) -> None:
    top = tmp_path / "nnunetv2"
    (top / "utilities" / "plans_handling").mkdir(parents=True)
    (top / "__init__.py").write_text("")
    (top / "utilities" / "__init__.py").write_text("")
    (top / "utilities" / "plans_handling" / "plans_handler.py").write_text(
        "import numpy as np\n"
        "from batchgenerators.augmentations.utils import resize_segmentation\n"
        "from torch.optim.lr_scheduler import _LRScheduler\n"
        "LIMIT = 3\n"
        "class Poly(_LRScheduler):\n"
        "    def __init__(self, optimizer, step=None):\n"
        "        self.ctr = 0\n"
        "        super().__init__(optimizer, -1, False)\n"
        "def use(c, seg):\n"
        "    x = np.vstack([seg], dtype=np.float32)\n"
        "    return resize_segmentation(seg, (2, 2), order=1, cval=0), c['conv_kernel_sizes'], c.get('spacing')\n")
    release = api_index.read_folder(top, "nnunetv2")
    names = release["names"]["nnunetv2.utilities.plans_handling.plans_handler"]
    assert names["Poly.__init__"] == "f:self,optimizer,step=None" and names["Poly.ctr"] == "a:"
    assert names["LIMIT"] == "a:" and names["use"] == "f:c,seg"
    assert release["calls"]["batchgenerators.augmentations.utils:resize_segmentation"] == {"2|cval,order"}
    assert release["calls"]["numpy:vstack"] == {"1|dtype"}
    assert release["calls"]["torch.optim.lr_scheduler:_LRScheduler.__init__"] == {"4|"}  # self counts
    assert release["plans_keys"]["read"] == {"conv_kernel_sizes", "spacing"}


def test_spans_round_trip_and_signatures_keep_defaults_and_markers() -> None:
    assert api_index._spans([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert api_index._members("0-2,5,7-8") == [0, 1, 2, 5, 7, 8]
    tree = ast.parse("def f(a, /, b=(1, 2), *, c, **kw): pass")
    assert api_index._signature(tree.body[0].args) == "a,/,b=(1; 2),*,c,**kw"


def test_the_index_carries_the_current_change_table() -> None:
    """Diagnosis reads the table from the index (no PyYAML import); regenerate with --changes-only after editing it."""
    assert api_index.load()["changes"] == api_index.read_changes()
