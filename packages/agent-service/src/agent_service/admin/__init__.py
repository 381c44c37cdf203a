"""Admin views that read across domains (through each domain's service)."""
