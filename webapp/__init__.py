"""The public demo page (Gradio): `build_demo`, `warmup`, `mount_demo`, `DemoSettings`."""
from webapp.settings import DemoSettings, settings_preset
from webapp.ui import build_demo, launch_kwargs, mount_demo, warmup, warmup_in_background

__all__ = ["DemoSettings", "settings_preset", "build_demo", "warmup", "warmup_in_background", "launch_kwargs", "mount_demo"]
