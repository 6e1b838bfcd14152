"""The ten methods a user chooses from, one file each: its arguments, its `ThinkingPolicy` and
a registered adapter (`cotbench-<name>`); `register_all` imports every module here."""
