"""Resolving --dataset as nnU-Net resolves it (its own find_candidate_datasets), and why a dataset is not found."""
from __future__ import annotations

import os

import pytest
from dataset_support import Roots

from nnunet_doctor.probes.dataset.locate import candidates, locate


def make(roots: Roots, *paths: str) -> None:
    for path in paths:
        (roots.base / path).mkdir(parents=True)


@pytest.mark.parametrize("query", ["3", "003", "Dataset003_Liver"])
def test_ids_and_names_resolve_to_all_three_folders(query: str, roots: Roots) -> None:
    make(roots, "raw/Dataset003_Liver", "preprocessed/Dataset003_Liver", "results/Dataset003_Liver")
    where = locate(query, roots.environ)
    assert (where.status, where.name, where.dataset_id) == ("found", "Dataset003_Liver", 3)
    assert (where.raw, where.preprocessed, where.results) == (
        roots.raw / "Dataset003_Liver", roots.preprocessed / "Dataset003_Liver", roots.results / "Dataset003_Liver")


def test_a_path_resolves_and_finds_the_other_folders_by_name(roots: Roots) -> None:
    make(roots, "elsewhere/Dataset003_Liver/imagesTr", "preprocessed/Dataset003_Liver")
    where = locate(str(roots.base / "elsewhere" / "Dataset003_Liver"), roots.environ)
    assert where.raw == roots.base / "elsewhere" / "Dataset003_Liver"
    assert where.preprocessed == roots.preprocessed / "Dataset003_Liver" and where.dataset_id == 3


def test_duplicate_ids_are_what_nnunet_calls_duplicates(roots: Roots) -> None:
    from nnunetv2.utilities.dataset_name_id_conversion import convert_id_to_dataset_name

    make(roots, "raw/Dataset003_Liver", "preprocessed/Dataset003_LiverOld")
    where = locate("3", roots.environ)
    assert where.status == "duplicate_id" and where.same_id == ["Dataset003_Liver", "Dataset003_LiverOld"]
    saved = dict(os.environ)
    os.environ.update(roots.environ)
    try:
        with pytest.raises(RuntimeError, match="More than one dataset name found"):
            convert_id_to_dataset_name(3)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_not_found_lists_v1_unpadded_and_similar_folders_and_where_it_looked(roots: Roots) -> None:
    make(roots, "raw/Task004_Liver", "raw/nnUNet_raw_data/Task004_Liver", "raw/Dataset4_Liver", "raw/Dataset005_Liver")
    where = locate("4", {**roots.environ, "nnUNet_results": ""})
    assert where.status == "not_found" and where.message.startswith("Could not find a dataset with the ID 4")
    assert where.v1_folders == ["Task004_Liver"] and where.unpadded_folders == ["Dataset4_Liver"]
    assert where.looked_in[2] == "nnUNet_results (not set)"


def test_a_misspelt_name_suggests_the_existing_one(roots: Roots) -> None:
    make(roots, "raw/Dataset003_Liver")
    where = locate("Dataset003_liver", roots.environ)
    assert where.status == "not_found" and where.similar == ["Dataset003_Liver"]


def test_a_v1_task_name_is_a_bad_name_as_for_nnunet(roots: Roots) -> None:
    make(roots, "raw/Task003_Liver")
    where = locate("Task003_Liver", roots.environ)
    assert where.status == "bad_name" and "did not start with 'Dataset'" in where.message
    assert where.v1_folders == ["Task003_Liver"]


@pytest.mark.parametrize("folders", [
    [], ["raw/Dataset003_Liver"], ["raw/Dataset003_Liver", "preprocessed/Dataset003_Liver", "results/Dataset003_Liver"],
    ["raw/Dataset003_Liver", "results/Dataset003_Other"], ["raw/Dataset0031_Big"], ["raw/Dataset3_Liver", "raw/Task003_X"],
    ["raw/Dataset003Liver"], ["preprocessed/Dataset1003_Z", "raw/Dataset100_Y"],
])
@pytest.mark.parametrize("dataset_id", [3, 100])
def test_candidates_are_nnunets_candidates(folders: list[str], dataset_id: int, roots: Roots) -> None:
    from nnunetv2.utilities.dataset_name_id_conversion import find_candidate_datasets

    make(roots, *folders)
    saved = dict(os.environ)
    os.environ.update(roots.environ)
    try:
        nnunet = [str(name) for name in find_candidate_datasets(dataset_id)]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert candidates(dataset_id, roots.environ) == nnunet
