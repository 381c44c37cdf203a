"""Per-user daily token quotas: usage counted per UTC day, new runs refused past the quota."""
