"""Agents: enrolment, signed inventory ingestion, reconciliation into the CMDB, audit.

The agent program itself lives in `agents.client` and must not import Django.
"""
