"""DeepSDF split files for what DeepSDF's repository does not ship: the shapes of PMO's multi-view test list.

Table 3 moves PMO's cameras into the normalised frame of the priors with each sequence's DeepSDF
NormalizationParameters, which DeepSDF's preprocessing writes only for the shapes of the split it is run on
(``preprocess_data.py --surface``); and DeepSDF ships no car split at all. :func:`pmo_splits` makes, for one
category, a test split of PMO's test shapes and a train split of every other ShapeNet shape of its synset
(for training that category's prior without its test shapes)::

    python -m dist_core.data.splits --pmo-root /data/PMO/data --shapenet-root /data/ShapeNetCore.v2 \\
        --output /data/DeepSDF/examples/splits car plane chair

writes ``pmo_cars_train.json``, ``pmo_cars_test.json``, ... in DeepSDF's form ``{dataset: {synset: [ids]}}``.
"""

from __future__ import annotations

from pathlib import Path

from . import deepsdf, pmo, shapenet
from .errors import DataError

__all__ = ["pmo_splits", "pmo_split_paths", "main"]


def pmo_splits(pmo_root, shapenet_root, category: str) -> tuple[list[str], list[str]]:
    """``(train ids, test ids)`` of a category: PMO's test list, and the ShapeNet shapes not in it (sorted)."""
    synset = shapenet.synset_of(category)
    test = [m for _, m in pmo.read_test_list(pmo_root, synset)]
    if not test:
        raise DataError(pmo.list_path(pmo_root), f"lists no shape of {category} ({synset})",
                        "Use a category of PMO's data (plane, car, chair) or PMO's full test list")
    held_out = set(test)
    train = [i for i in shapenet.list_instances(shapenet_root, synset) if i not in held_out]
    return train, test


def pmo_split_paths(folder, category: str) -> dict[str, Path]:
    """``{"train": ..., "test": ...}``: where :func:`main` writes a category's splits (DeepSDF's plural names)."""
    return {split: Path(folder) / f"pmo_{category}s_{split}.json" for split in ("train", "test")}


def main(argv=None) -> None:
    """``python -m dist_core.data.splits --pmo-root DIR --shapenet-root DIR --output DIR [--dataset NAME] CATEGORY...``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dist_core.data.splits",
                                     description="DeepSDF split files of PMO's test shapes (Table 3)")
    parser.add_argument("categories", nargs="+", help="e.g. car plane chair")
    parser.add_argument("--pmo-root", required=True, help="PMO's data folder (lists/all_test.list)")
    parser.add_argument("--shapenet-root", required=True, help="ShapeNetCore folder (<synset>/<id>/...)")
    parser.add_argument("--output", required=True, help="folder for pmo_<category>s_{train,test}.json")
    parser.add_argument("--dataset", default="ShapeNetV2", help="DeepSDF dataset name (default %(default)s)")
    args = parser.parse_args(argv)
    for category in args.categories:
        try:
            train, test = pmo_splits(args.pmo_root, args.shapenet_root, category)
        except (DataError, KeyError) as error:
            parser.exit(1, f"error: {error}\n")
        paths = pmo_split_paths(args.output, category)
        synset = shapenet.synset_of(category)
        for split, ids in (("train", train), ("test", test)):
            deepsdf.write_split(paths[split], args.dataset, {synset: ids})
        print(f"{category}: {len(train)} train, {len(test)} test shapes -> {paths['train'].parent}")


if __name__ == "__main__":
    main()
