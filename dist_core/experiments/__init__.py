"""The experiments of the paper that the workflow runs, one module each, built on the renderer library.

* :mod:`.table1`: the renderer's efficiency ablation (paper Table 1);
* :mod:`.table2`: shape completion from one depth image (Table 2, Fig. 5);
* :mod:`.table3`: multi-view photometric reconstruction against PMO (Table 3, Figs. 9-10);
* :mod:`.prior_report`: quality of the trained shape priors;
* :mod:`.convergence`: the convergence-threshold figure (Fig. 7);
* :mod:`.timings`: the cost of every workflow job.

The library (``dist_core`` outside this package) never imports from here.
"""
