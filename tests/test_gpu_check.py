"""The prepared GPU check: refuses quickly without CUDA, and its code paths run on the CPU at a tiny size."""

import pandas as pd
import pytest
import torch

from dist_core.experiments import gpu_check


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_gpu_check_without_cuda_says_so_and_fails(capsys):
    assert gpu_check.main([]) == 3
    assert "no CUDA device" in capsys.readouterr().err


def test_gpu_check_code_paths_run_on_the_cpu_at_a_tiny_size(tmp_path, capsys):
    assert gpu_check.main(["--cpu", "--resolution", "16", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Table 1 at 16x16" in printed and "batched benchmark" in printed
    table = pd.read_csv(tmp_path / "gpu_table1.csv")
    assert set(table["scene"].str.split(",").str[0]) == {"sphere r=0.6 (analytic)", "chair"}
    assert (table["forward_queries"] > 0).all() and table["peak_memory_unchunked_mb"].notna().all()
    batches = pd.read_csv(tmp_path / "gpu_batch_benchmark.csv")
    # One trace marches every ray as its image alone would (up to the decoder's rounding).
    gap = (batches["batched_forward_queries"] - batches["separate_forward_queries"]).abs()
    assert (gap <= 0.01 * batches["separate_forward_queries"]).all()
