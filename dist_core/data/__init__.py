"""Data: the embedded procedural dataset, real-format loaders (ShapeNet, DeepSDF, 3D-R2N2, PMO), ground truth
by ray casting, sparse inputs and the per-instance input artifacts of the fitting stage.

Modules (one job each):

* :mod:`.shapenet`     ShapeNetCore v1/v2 paths, mesh loading and checks, category <-> synset
* :mod:`.deepsdf`      every DeepSDF data file (SdfSamples, NormalizationParameters, SurfaceSamples, splits)
* :mod:`.r2n2`         3D-R2N2 rendering metadata and the Choy et al. camera
* :mod:`.pmo`          PMO multi-view sequences (real format, also written for the embedded data)
* :mod:`.synthetic`    procedural ShapeNet-like shapes with colour fields
* :mod:`.preprocess`   DeepSDF-style SDF and surface sampling of a watertight mesh
* :mod:`.embedded`     writes the embedded dataset in the real formats
* :mod:`.groundtruth`  GT depth / normal / mask by ray casting; Lambertian colour
* :mod:`.sparse`       the sparse-depth settings of Table 2
* :mod:`.seeding`      seeds derived from (config seed, category, instance, setting)
* :mod:`.inputs`       single_view.h5 / multi_view.h5: what the fitting stage reads
"""

from .errors import DataError
from .seeding import derive_seed, derived_rng
from .shapenet import CATEGORIES, SYNSETS, category_of, synset_of

__all__ = ["DataError", "derive_seed", "derived_rng", "CATEGORIES", "SYNSETS", "category_of", "synset_of"]
