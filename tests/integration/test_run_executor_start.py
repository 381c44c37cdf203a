"""An executor started on a database that was never migrated (no `runs` table) says so in the
log, once, with the database's error, and still starts and stops cleanly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi import FastAPI

from agent_service.db import create_engine, create_sessionmaker
from agent_service.runs.executor import RunExecutor
from agent_service.runs.notifier import RunNotifier
from agent_service.settings import Settings


async def test_an_executor_on_an_unmigrated_database_says_so_and_still_starts(
    app: FastAPI, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="agent_service.runs")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}")
    executor = RunExecutor(settings, create_sessionmaker(engine), app.state.llm, RunNotifier())
    try:
        await executor.start()

        [logged] = [r for r in caplog.records if "is the database migrated?" in r.getMessage()]
        assert logged.exc_info and logged.exc_info[1] is not None  # the database's own words
        assert executor.active == 0
    finally:
        await executor.stop()
        await engine.dispose()
