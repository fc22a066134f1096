"""Test-wide settings: never reach the Hub, keep torch to the machine's cores."""

import os

# huggingface_hub reads this at import time, so set it before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
