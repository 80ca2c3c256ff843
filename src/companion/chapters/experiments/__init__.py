"""The papers' experiments on real data (chapter 6): what depth does to kernel regression on MNIST and CIFAR.

Modules: :mod:`.tasks` (tasks, the two sampling designs, sizes, kernels compared), :mod:`.grid` (the grid:
kernels and validation-selected regression through :func:`companion.learning.selection.report`),
:mod:`.mechanism` (the nugget-as-ridge decomposition, the NNGP's collapse, the onset of the collapse
against ``L / n``), :mod:`.tables` (CSV, summaries, Markdown, the join with the papers' numbers),
:mod:`.claims` and :mod:`.plots`. Everything the chapter and the tests use is importable from here.
"""

from .claims import claims, grid_claims, mechanism_claims, onset_claims
from .mechanism import (
    NNGP_COEFF,
    NUGGET,
    effective_ridge,
    half_depth,
    informative_kernel,
    measure,
    nngp_collapse,
    collapse_spread,
    onset,
    r2_at,
    scaling_exponent,
)
from .plots import plot_accuracy, plot_mechanism, plot_onset, plot_r2, series_style
from .grid import COLUMNS, agreement, correlations, kernel_sum, normalized_ntk, run, score_kernel, shallow_accuracy
from .tables import (
    JOIN_KEYS,
    PAPER_COLUMNS,
    arch_order,
    compare_with_paper,
    design_markdown,
    interpolation_markdown,
    paper_markdown,
    paper_reported_path,
    pivot_markdown,
    provenance,
    read_csv,
    read_paper,
    regularization_markdown,
    sources_markdown,
    summarize,
    table_note,
    task_order,
    to_csv,
    write_results,
)
from .tasks import (
    KINDS,
    MAX_TRAIN_FRACTION,
    METHODS,
    RIDGES,
    SAMPLINGS,
    TARGETS,
    TIMES,
    Task,
    architectures,
    class_counts,
    draw,
    sizes,
    tasks,
    validate,
)

__all__ = [
    "COLUMNS", "PAPER_COLUMNS", "JOIN_KEYS", "KINDS", "METHODS", "SAMPLINGS", "TARGETS", "RIDGES", "TIMES",
    "MAX_TRAIN_FRACTION", "NUGGET", "NNGP_COEFF", "Task", "tasks", "validate", "architectures", "sizes",
    "class_counts", "draw", "correlations", "normalized_ntk", "kernel_sum", "agreement", "score_kernel", "run",
    "shallow_accuracy", "informative_kernel", "effective_ridge", "nngp_collapse", "onset", "half_depth",
    "scaling_exponent", "measure",
    "to_csv", "read_csv", "write_results", "paper_reported_path", "read_paper", "compare_with_paper",
    "paper_markdown", "summarize", "pivot_markdown", "design_markdown", "regularization_markdown",
    "interpolation_markdown", "sources_markdown", "provenance", "table_note", "task_order", "arch_order",
    "claims", "grid_claims", "mechanism_claims", "onset_claims", "collapse_spread", "r2_at", "plot_r2", "plot_accuracy", "plot_mechanism",
    "plot_onset", "series_style",
]
