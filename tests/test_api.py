"""The public API: the complete verb set, light to import, and the CLI a face over it."""

import subprocess
import sys

from mmaffect import api

VERBS = ["load_data", "convert", "extract", "describe", "decompose", "train", "evaluate", "predict", "robustness",
         "diagnose", "benchmark", "report", "list_components"]


def test_every_verb_is_a_function():
    for verb in VERBS:
        assert callable(getattr(api, verb)), verb


def test_list_components_covers_every_registry():
    components = api.list_components()
    assert set(components) == {"models", "datasets", "objectives", "encoders", "describers"}
    assert "decalign" in components["models"] and "synthetic" in components["datasets"]
    assert "spectral_alignment" in components["objectives"]
    assert all(isinstance(d, str) for entries in components.values() for d in entries.values())


def test_importing_the_cli_loads_no_training_code():
    code = ("import sys, mmaffect.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('mmaffect.training', 'mmaffect.evaluation', "
            "'mmaffect.jobs', 'lightning'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_make_config_uses_the_loaded_dataset():
    from mmaffect.data.synthetic import make_synthetic

    bundle = make_synthetic(sizes=(8, 4, 4), seed=0)
    bundle.family = "mosi"  # as a reader that recognised MOSI would set it
    config = api.make_config("decalign", bundle)
    assert config.optim.lr == 2e-4  # decalign.yaml's `mosi` section
    assert api.make_config("decalign", make_synthetic(sizes=(8, 4, 4), seed=0)).optim.lr == 1e-4
