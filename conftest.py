"""Root pytest configuration: notebooks run under nbval without comparing stderr.

nbval's documented recipe (nbval issue #88): outputs of these MIME types and the stderr
stream are never compared, so TensorFlow's log lines or warnings cannot fail a notebook.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_collectstart(collector):
    path = getattr(collector, "path", None) or getattr(collector, "fspath", None)
    if path is not None and str(path).endswith(".ipynb") and hasattr(collector, "skip_compare"):
        collector.skip_compare += ("text/html", "application/javascript", "stderr",
                                   "application/vnd.jupyter.widget-view+json")
