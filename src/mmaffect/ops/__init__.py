from mmaffect.ops.spectral import (  # noqa: E402,F401
    leading_direction,
    leading_direction_contrast,
    safe_eigh,
    singular_values,
    spectral_alignment_loss,
    spectral_decomposition,
)
from mmaffect.ops.uniformity import uniformity  # noqa: E402,F401
from mmaffect.ops.gmm import GMMResult, fit_diagonal_gmm  # noqa: E402,F401
from mmaffect.ops.moments import feature_moments, mmd, moment_matching_loss  # noqa: E402,F401
from mmaffect.ops.optimal_transport import entropic_ot_loss, multi_marginal_sinkhorn  # noqa: E402,F401
from mmaffect.ops.decomposition import DecompositionResult, decompose  # noqa: E402,F401
