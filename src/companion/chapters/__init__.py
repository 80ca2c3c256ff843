"""The chapters' analyses: one module (or subpackage) per chapter, named for its subject.

=====================  ==========================================  ========================
notebook               module                                      parameters
=====================  ==========================================  ========================
``01_models``          :mod:`.signal_propagation`                  :class:`.params.ModelsParams`
``02_kernels``         :mod:`.kernel_checks`                       :class:`.params.KernelsParams`
``03_degeneracy``      :mod:`.degeneracy`                          :class:`.params.DegeneracyParams`
``04_alpha_scaling``   :mod:`.alpha_scaling` (phase, spectral,     :class:`.params.AlphaScalingParams`
                       synthetic)
``05_finite_width``    :mod:`.finite_width`                        :class:`.params.FiniteWidthParams`
``06_experiments``     :mod:`.experiments`                         :class:`.params.ExperimentsParams`
=====================  ==========================================  ========================

Each chapter module holds the chapter's computations (``run`` or its parts), its ``claims`` and its plots,
and imports the library layers, :mod:`companion.publish` and :mod:`.common`, never another chapter.
Importing this package is light (no JAX): the book machinery reads :func:`params` from it.
"""

from companion.chapters.params import (  # noqa: F401
    ACTIVATIONS,
    CHAPTERS,
    COLAB_EXTRAS,
    DATASETS,
    PARAMS,
    SCALES,
    ChapterParams,
    _pairs,
    canonical,
    params,
    scales,
)
