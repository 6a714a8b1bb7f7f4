"""results/timings.csv: Snakemake benchmark files gathered into one row per job and sums per rule."""

import pytest

from dist_core.experiments.timings import gather_benchmarks, summarize_timings

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write(path, *rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:{int(s):02d}\t{rss}\t1\t1\t1\t0\t0\t50.0\t{s / 2}\n" for s, rss in rows))


def test_benchmarks_become_one_row_per_job_and_sums_per_rule(tmp_path):
    write(tmp_path / "prior_train_sofa.tsv", (40.0, 500.0))
    write(tmp_path / "prior_train_chair.tsv", (20.0, 700.0))
    write(tmp_path / "table2" / "sofa" / "abc.tsv", (10.0, 300.0), (14.0, 320.0))  # benchmark repeats
    write(tmp_path / "table1.tsv", (5.0, 100.0))
    jobs = gather_benchmarks(tmp_path).set_index("job")
    assert sorted(jobs.index) == ["prior_train_chair", "prior_train_sofa", "table1", "table2/sofa/abc"]
    assert jobs.loc["table2/sofa/abc", "seconds"] == pytest.approx(12.0)
    assert jobs.loc["table2/sofa/abc", "repeats"] == 2 and jobs.loc["table2/sofa/abc", "rule"] == "table2"
    assert jobs.loc["prior_train_sofa", "rule"] == "prior_train" and jobs.loc["prior_train_sofa", "cpu_seconds"] == 20.0
    rules = summarize_timings(jobs.reset_index()).set_index("rule")
    assert rules.loc["prior_train", "jobs"] == 2 and rules.loc["prior_train", "total_seconds"] == 60.0
    assert rules.loc["prior_train", "max_rss_mb"] == 700.0 and rules.loc["table1", "median_seconds"] == 5.0


def test_a_foreign_tsv_names_the_file(tmp_path):
    (tmp_path / "notes.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="notes.tsv: not a Snakemake benchmark file"):
        gather_benchmarks(tmp_path)


def test_no_benchmarks_give_an_empty_table_with_the_columns(tmp_path):
    jobs = gather_benchmarks(tmp_path)
    assert jobs.empty and "seconds" in jobs.columns and summarize_timings(jobs).empty


def test_the_command_line_writes_the_csv_and_prints_sums(tmp_path, capsys):
    from dist_core.io import read_csv
    from dist_core.experiments.timings import main

    write(tmp_path / "bench" / "table1.tsv", (5.0, 100.0))
    main([str(tmp_path / "bench"), str(tmp_path / "timings.csv")])
    assert "table1" in capsys.readouterr().out
    table, _ = read_csv(tmp_path / "timings.csv")
    assert list(table["job"]) == ["table1"] and table["seconds"].iloc[0] == 5.0
