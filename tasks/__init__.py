"""Code-as-Task: the task format, the filter that keeps only verified tasks, task banks and CaT environments."""

from __future__ import annotations

from .bank import Bank, BankError, load_bank, read_tasks, shipped_banks, split_of, write_bank
from .env import CaTEnv
from .format import TASK_SCHEMA, CodeAsTask, TaskFormatError
from .validate import STAGES, Episode, TaskRunner, ValidationReport, YieldReport, validate, validate_many

__all__ = [
    "STAGES",
    "TASK_SCHEMA",
    "Bank",
    "BankError",
    "CaTEnv",
    "CodeAsTask",
    "Episode",
    "TaskFormatError",
    "TaskRunner",
    "ValidationReport",
    "YieldReport",
    "load_bank",
    "read_tasks",
    "shipped_banks",
    "split_of",
    "validate",
    "validate_many",
    "write_bank",
]
