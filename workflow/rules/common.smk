# Config access and helpers shared by every rule file. Logic lives in dist_core; this file only names
# paths and options.
import json
from pathlib import Path

RESULTS = Path(config.get("results", "results"))


def renderer_options():
    """The renderer switches of config['renderer'] as keyword arguments for dist_core.render."""
    return dict(config["renderer"])


def config_json(section):
    """A config section as canonical JSON: passed as a param, so editing it reruns the rule."""
    return json.dumps(config[section], sort_keys=True)
