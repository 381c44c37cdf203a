"""Evals of this service: the golden cases of `evals/golden` run through the real app in-process, graded
by `agent_testkit.evals`, scored per slice and gated against `evals/baseline.json`.

It lives in the service package (not in the repository's `evals/` folder, which holds the cases and
the baseline) because `agent-service eval` runs it, and an installed CLI cannot import a folder of
the repository. It needs the test kit, which the service itself does not: the kit is imported only
when an eval runs, and `agent-service eval` says how to install it when it is missing.
"""
